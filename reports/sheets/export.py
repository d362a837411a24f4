"""`harness sheets export`: blinded rater files under RUN_DIR/sheets/<export>/ and their key."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from harness.common.errors import HarnessError
from harness.record import load_record

from .build import build_export
from .layout import FORMATS, PAIRWISE, POINTWISE, sheet_file, sheets_dir
from .store import load_key, save_key, store_lock
from .writers import WRITERS


@dataclass
class Exported:
    sheet_id: str
    folder: Path
    files: list[Path]
    n_outputs: int
    """Outputs raters score (pointwise items)."""
    n_pairs: int
    """A/B comparisons (pairwise items)."""


def export_sheets(run_dir: str | Path, suites: list[str] | None = None, per_suite: int = 20,
                  raters: Sequence[str] = ("r1", "r2"), seed: int = 0,
                  formats: Sequence[str] = FORMATS) -> Exported:
    """Write blinded rater files (one per rater, kind and format) and record their key.

    The same run, suites, sample size and seed give the same export, so exporting again never orphans filled sheets.
    """
    run_dir = Path(run_dir)
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise HarnessError(f"unknown format {', '.join(unknown)}; choose from {', '.join(FORMATS)}", "--format")
    record = load_record(run_dir)
    export = build_export(record, run_dir, suites, per_suite, seed)
    folder = sheets_dir(run_dir) / export.export_id
    planned = [(sheet, rater, fmt, folder / sheet_file(sheet.kind, rater, fmt, sheet.state))
               for rater in raters for sheet in export.sheets for fmt in dict.fromkeys(formats)]

    # The key is written before the files: a rater file must never exist without the key that reads it.
    with store_lock(run_dir):  # another export or an import may be updating the key at the same moment
        key = load_key(run_dir) or {"run_id": record.run_id, "exports": {}}
        before = key["exports"].get(export.export_id, {})
        key["exports"][export.export_id] = export.key | {
            "created": before.get("created") or datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "raters": sorted(set(before.get("raters", [])) | set(raters)),
            "files": sorted(set(before.get("files", [])) | {p.relative_to(run_dir).as_posix() for *_, p in planned}),
        }
        save_key(run_dir, key)
    for sheet, rater, fmt, path in planned:
        WRITERS[fmt](path, sheet, rater)
    kinds = [item["kind"] for item in export.key["items"].values()]
    return Exported(export.sheet_id, folder, [p for *_, p in planned], kinds.count(POINTWISE), kinds.count(PAIRWISE))
