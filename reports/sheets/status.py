"""`sheets_status`: which exports and rater files exist and how many ratings came back (files only;
what the ratings say is computed by the core and recorded in run.json)."""
from __future__ import annotations

from pathlib import Path

from .layout import sheets_dir
from .store import load_key, load_ratings


def sheets_status(run_dir: str | Path) -> dict:
    """Which exports and rater files exist, how many ratings came back, and one line saying so."""
    run_dir = Path(run_dir)
    folder = sheets_dir(run_dir)
    key = load_key(run_dir)
    exports = []
    for export_id, entry in (key or {"exports": {}})["exports"].items():
        files = entry.get("files", [])
        exports.append({"export_id": export_id, "sheet_id": entry["sheet_id"], "created": entry.get("created"),
                        "per_suite": entry["per_suite"], "seed": entry["seed"], "suites": entry["suites"],
                        "raters": entry.get("raters", []), "folder": str(folder / export_id),
                        "files": [f for f in files if (run_dir / f).is_file()],
                        "missing": [f for f in files if not (run_dir / f).is_file()]})
    ratings = load_ratings(run_dir)
    if not exports:
        message = f"no rating sheets exported yet; run `harness sheets export {run_dir}`"
    elif not ratings:
        message = f"no ratings imported yet; sheets are in {', '.join(e['folder'] for e in exports)}"
    else:
        message = f"{len(ratings)} ratings from {len({r['rater'] for r in ratings})} rater(s) imported"
    return {"folder": str(folder), "exported": bool(exports), "exports": exports, "n_ratings": len(ratings),
            "message": message}
