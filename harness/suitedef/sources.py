"""Where a suite's split comes from: a file inside the suite folder, or a Hugging Face dataset.

Files: JSONL is read line by line by the harness (strict, bounded, with line numbers); JSON, CSV and
Parquet go through `datasets.load_dataset("json" | "csv" | "parquet", data_files=…)`, in memory and
with a private cache, so nothing lands in the user's datasets cache. A Hub dataset is named by
`{dataset, config, split, revision}` and needs the network (or its local cache); offline it fails
with one line. A `columns:` mapping renames the source's columns to the format's fields.
"""
from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.common.errors import HarnessError
from harness.common.files import iter_jsonl
from harness.common.lazy import lazy_module

if TYPE_CHECKING:
    import datasets
    import huggingface_hub
else:  # heavy: imported on first use
    datasets = lazy_module("datasets")
    huggingface_hub = lazy_module("huggingface_hub")

LOADERS = {".json": "json", ".csv": "csv", ".parquet": "parquet"}
"""File suffix → the `datasets` builder that reads it (JSONL is read by the harness)."""


@dataclass(frozen=True)
class Rows:
    """A split's raw records, where each came from, and what identifies the data's content."""

    where: str
    """The split's source, as messages name it (a file path, or the dataset)."""
    records: list[tuple[str, str, Any]]
    """(where: `file:line` or `file: row N`, the default id, the record with the format's field names)."""
    fingerprint: str
    """sha256 of the file's bytes, or of the dataset's name, config, split and resolved revision."""
    origin: dict[str, Any]
    """What the run records about the source: the file, or the dataset with its resolved revision."""


def read_split(folder: Path, source: str | dict, columns: dict[str, str], what: str,
               allow_outside: bool = False) -> Rows:
    """The records of one split; `what` names the split in messages (`data.test`). A file must lie
    inside the suite folder, links resolved, unless `allow_outside`."""
    if isinstance(source, dict):
        return _hub_rows(source, columns, what)
    path = folder / source
    if not path.is_file():
        raise HarnessError("data file not found", str(path))
    if not allow_outside and not path.resolve().is_relative_to(folder.resolve()):
        raise HarnessError("is a link to a file outside the suite folder (--allow-outside-data reads it anyway, "
                           "and the run records that)", str(path))
    fingerprint = hashlib.sha256(path.read_bytes()).hexdigest()
    if path.suffix.lower() == ".jsonl":
        records = [(f"{path}:{n}", f"{path.stem}-{n:05d}", _renamed(r, columns)) for n, r in iter_jsonl(path)]
    elif path.suffix.lower() in LOADERS:
        records = [(f"{path}: row {n}", f"{path.stem}-{n:05d}", _renamed(r, columns))
                   for n, r in enumerate(_load(LOADERS[path.suffix.lower()], str(path), where=str(path),
                                               split="train"), 1)]  # a file is one split, "train" to datasets
    else:
        raise HarnessError(f"unsupported data file type {path.suffix or '(none)'}; use .jsonl, .json, .csv or "
                           ".parquet", str(path))
    return Rows(str(path), records, fingerprint, {"file": source, "sha256": fingerprint})


def _renamed(record: Any, columns: dict[str, str]) -> Any:
    if not columns or not isinstance(record, dict):
        return record
    return {columns.get(k, k): v for k, v in record.items()}


def _load(builder: str, data_files: str | None = None, where: str = "", **kwargs) -> list[dict]:
    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory(prefix="harness-data-") as cache:
        try:
            ds = datasets.load_dataset(builder, data_files=data_files, keep_in_memory=True, cache_dir=cache,
                                       **kwargs)
        except Exception as e:  # datasets raises many kinds: ConnectionError offline, ValueError, ArrowInvalid, ...
            first = (str(e).splitlines() or [type(e).__name__])[0]
            raise HarnessError(f"cannot read it through datasets: {first}", where) from None
    if isinstance(ds, datasets.DatasetDict):
        raise HarnessError("names several splits; say which one with `split:`", where)
    return list(ds)


def _hub_rows(source: dict, columns: dict[str, str], what: str) -> Rows:
    name, config, split = source["dataset"], source.get("config"), source["split"]
    revision = source.get("revision")
    where = f"{what}: dataset {name!r}"
    records = _load(name, where=where, name=config, split=split, revision=revision)
    resolved = _resolved_revision(name, revision)
    fingerprint = hashlib.sha256(repr((name, config, split, resolved or revision)).encode()).hexdigest()
    origin = {"dataset": name, "config": config, "split": split, "revision": revision, "resolved_revision": resolved}
    rows = [(f"{where}: row {n}", f"{split}-{n:05d}", _renamed(r, columns)) for n, r in enumerate(records, 1)]
    return Rows(where, rows, fingerprint, origin)


def _resolved_revision(name: str, revision: str | None) -> str | None:
    """The commit the Hub resolved `revision` to (None when it cannot say, e.g. a cached copy offline)."""
    try:
        return huggingface_hub.HfApi().dataset_info(name, revision=revision).sha
    except Exception:  # offline, or a local builder: the requested revision is all there is to record
        return None
