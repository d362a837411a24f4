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
import json
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.common.errors import HarnessError
from harness.common.lazy import lazy_module

if TYPE_CHECKING:
    import datasets
    import huggingface_hub
else:  # heavy: imported on first use
    datasets = lazy_module("datasets")
    huggingface_hub = lazy_module("huggingface_hub")

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
        return huggingface_hub.HfApi().dataset_info(name, revision=revision).sha
    except Exception:  # offline, or a local builder: the requested revision is all there is to record
        return None


def split_rows(rows: Rows, fraction: float, seed: int, labels: str | None) -> tuple[Rows, Rows]:
    """(test, train): `rows` split once, seeded, holding out `fraction` of the records (of each label's
    records when `labels` names a field, so that both splits keep the labels' balance). Each label's
    records are shuffled by a generator seeded by `seed` and the label, and the first round(fraction × n)
    of them (at least one, when the label has two records or more) are held out. What was split, and how,
    is recorded in each split's origin."""
    strata: dict[str, list[int]] = {}
    for i, (_, _, record) in enumerate(rows.records):
        value = record.get(labels) if labels and isinstance(record, dict) else None
        strata.setdefault(json.dumps(value, sort_keys=True, default=str), []).append(i)
    held: set[int] = set()
    for label, members in sorted(strata.items()):
        shuffled = list(members)
        random.Random(f"{seed}:{label}").shuffle(shuffled)
        k = int(fraction * len(shuffled) + 0.5)  # round half up: 0.2 × 5 records is 1, 0.5 × 3 is 2
        held.update(shuffled[:max(k, 1) if len(shuffled) > 1 else k])
    if not held or len(held) == len(rows.records):
        raise HarnessError(f"test_fraction {fraction} of {len(rows.records)} records leaves "
                           f"{'no test' if not held else 'no training'} examples", rows.where)
    how = {"split": {"test_fraction": fraction, "split_seed": seed, "stratified_by": labels,
                     "test": len(held), "train": len(rows.records) - len(held)}}
    test = [r for i, r in enumerate(rows.records) if i in held]
    train = [r for i, r in enumerate(rows.records) if i not in held]
    # The fingerprint also names the split: another fraction or seed makes other results from the same file.
    digest = hashlib.sha256(json.dumps([rows.fingerprint, how], sort_keys=True).encode()).hexdigest()
    return (Rows(rows.where, test, digest, {**rows.origin, **how, "part": "test"}),
            Rows(rows.where, train, digest, {**rows.origin, **how, "part": "train"}))


def with_answers(rows: Rows, answers: list[Rows]) -> Rows:
    """BFCL questions joined by `id` to their possible answers: each record gains the answer's `ground_truth`.
    A question without an answer, or an id answered twice, is one error naming the file and line."""
    by_id: dict[str, tuple[Any, str]] = {}
    for part in answers:
        for where, _, record in part.records:
            if not isinstance(record, dict) or not isinstance(record.get("id"), str) or "ground_truth" not in record:
                raise HarnessError("a possible answer needs a string 'id' and a 'ground_truth'", where)
            if record["id"] in by_id:
                raise HarnessError(f"id {record['id']!r} is answered twice (first at {by_id[record['id']][1]})", where)
            by_id[record["id"]] = (record["ground_truth"], where)
    joined = []
    for where, default_id, record in rows.records:
        if isinstance(record, dict) and "id" in record:
            if not isinstance(record["id"], str) or record["id"] not in by_id:
                raise HarnessError(f"no possible answer has id {json.dumps(record['id'])[:60]} (answers: "
                                   f"{', '.join(a.where for a in answers)})", where)
            record = {**record, "ground_truth": by_id[record["id"]][0]}
        joined.append((where, default_id, record))
    # the answers decide the results as much as the questions: they are in the fingerprint
    digest = hashlib.sha256(json.dumps([rows.fingerprint, [a.fingerprint for a in answers]]).encode()).hexdigest()
    return Rows(rows.where, joined, digest, {**rows.origin, "answers": [a.origin for a in answers]})
