"""Where a suite's split comes from: a file inside the suite folder, or a Hugging Face dataset.

Files (JSONL, JSON, CSV, Parquet) are read by the harness's one bounded reader (`datafiles`): the
same limits and messages for every format, naming the file and line or row. A Hub dataset goes
through `datasets.load_dataset`, in memory and with a private cache, so nothing lands in the
user's datasets cache; it is named by
`{dataset, config, split, revision}` and needs the network (or its local cache); offline it fails
with one line. A `columns:` mapping renames the source's columns to the format's fields.
"""
from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.common.errors import HarnessError

from .datafiles import RecordBound, read_data_file


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
    fingerprint, read = read_data_file(path)
    records = [(where, f"{path.stem}-{n:05d}", _renamed(r, columns)) for where, n, r in read]
    return Rows(str(path), records, fingerprint, {"file": source, "sha256": fingerprint})


def _renamed(record: Any, columns: dict[str, str]) -> Any:
    if not columns or not isinstance(record, dict):
        return record
    return {columns.get(k, k): v for k, v in record.items()}


def _load(builder: str, where: str = "", **kwargs) -> list[dict]:
    import datasets

    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory(prefix="harness-data-") as cache:
        try:
            ds = datasets.load_dataset(builder, keep_in_memory=True, cache_dir=cache,
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
    bound = RecordBound()  # the same limits as a file's rows (after the download: datasets holds it whole)
    rows = [(f"{where}: row {n}", f"{split}-{n:05d}", _renamed(bound.check(r, f"{where}: row {n}"), columns))
            for n, r in enumerate(records, 1)]
    return Rows(where, rows, fingerprint, origin)


def _resolved_revision(name: str, revision: str | None) -> str | None:
    """The commit the Hub resolved `revision` to (None when it cannot say, e.g. a cached copy offline)."""
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(name, revision=revision).sha
    except Exception:  # offline, or a local builder: the requested revision is all there is to record
        return None
