"""`harness sheets import`: validate filled rater files, unblind them with the key, append the ratings.

Every file is checked completely before anything is written, and the command imports all of its
files or none of them, so a rejected file never leaves part of itself (or of another file) behind.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from harness.common.errors import HarnessError, quoted
from harness.record import load_record

from .layout import (
    ANSWER,
    PAIRWISE,
    POINTWISE,
    PREFERENCE_CRITERION,
    PREFERENCES,
    REQUIRED,
    SCORES,
    normalise_preference,
    sheet_file,
    split_sheet_id,
)
from .readers import Table, check_file_size, read_table
from .store import append_ratings, load_key, load_ratings, store_lock

_SHOWN = 20


class SheetErrors(HarnessError):
    """Every problem found, one line each naming file, row and column."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        if len(problems) == 1:
            text = f"{problems[0]} (nothing was imported)"
        else:
            more = f"\n  … and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
            text = f"{len(problems)} problems; nothing was imported:\n  " + "\n  ".join(problems[:_SHOWN]) + more
        super().__init__(text)


@dataclass
class FileResult:
    path: Path
    sha256: str
    already: bool = False
    """Same content as an earlier import: skipped."""
    ratings: list[dict] = field(default_factory=list)
    unanswered: int = 0


def import_ratings(run_dir: str | Path, files: list[str | Path]) -> list[FileResult]:
    """Check every file completely, then append all their ratings to RUN_DIR/sheets/ratings.jsonl, or none."""
    run_dir = Path(run_dir)
    record = load_record(run_dir)
    if load_key(run_dir) is None:
        raise HarnessError("no rating sheets were exported for this run; run `harness sheets export` first",
                           str(run_dir))
    # Two imports at once would each read the ratings, add theirs and rewrite the file, the later
    # erasing the earlier's: reading, checking and appending all happen under the store's lock.
    with store_lock(run_dir):
        return _import(run_dir, record.run_id, load_key(run_dir) or {"exports": {}}, files)


def _import(run_dir: Path, run_id: str, key: dict, files: list[str | Path]) -> list[FileResult]:
    existing = load_ratings(run_dir)
    seen_hashes = {r["source"]["sha256"] for r in existing}
    # (rater, export, item, criterion) → where it was rated, across earlier imports and this batch
    taken = {_slot(r): f"earlier import '{r['source']['file']}'" for r in existing}
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    results, problems = [], []
    for name in files:
        path = Path(name)
        if not path.is_file():
            problems.append(f"{path}: file not found")
            continue
        try:
            check_file_size(path)
        except HarnessError as e:
            problems.append(str(e))
            continue
        result = FileResult(path, hashlib.sha256(path.read_bytes()).hexdigest())
        results.append(result)
        if result.sha256 in seen_hashes:
            result.already = True
            continue
        seen_hashes.add(result.sha256)
        try:
            table = read_table(path, verbatim=(ANSWER[POINTWISE],))
        except HarnessError as e:
            problems.append(str(e))
            continue
        file_problems = _read_ratings(table, key, run_id, result, taken, now)
        problems += file_problems
        if not file_problems:
            taken |= {_slot(r): f"'{path}' row {r['source']['row']}" for r in result.ratings}
    if problems:
        raise SheetErrors(problems)
    new = [r for res in results for r in res.ratings]
    if new:
        append_ratings(run_dir, existing, new)
    return results


def _slot(rating: dict) -> tuple:
    return rating["rater"], rating["export"], rating["item"], rating["criterion"]


def _read_ratings(table: Table, key: dict, run_id: str, result: FileResult, taken: dict, now: str) -> list[str]:
    """Fills result.ratings from the table; returns the problems found (none: the ratings are good)."""
    kind = PAIRWISE if "preference" in table.columns else POINTWISE if "score" in table.columns else None
    if kind is None:
        return [f"{table.where()}: missing required column 'score' (pointwise sheets) or 'preference' (A/B sheets); "
                f"is row {table.rows[0][0] - 1 if table.rows else 1} the header?"]
    missing = [c for c in REQUIRED[kind] if c not in table.columns]
    if missing:
        return [f"{table.where()}: missing required column{'s' if len(missing) > 1 else ''} "
                + ", ".join(f"'{c}'" for c in missing)]
    if not table.rows:
        return [f"{table.where()}: empty file: a header and no rows"]
    problems: list[str] = []
    in_file: dict[tuple, int] = {}
    given: dict[str, set[str]] = {}  # export id → raters this file was exported for
    for n, row in table.rows:
        if not row[ANSWER[kind]].strip():
            result.unanswered += 1  # unanswered rows are allowed: raters may hand in part of a sheet
            continue
        errors: list[str] = []
        rating = _rating(row, kind, key, run_id, lambda column, msg: errors.append(f"{table.where(n, column)}: {msg}"))
        problems += errors
        if errors or rating is None:
            continue
        if rating["export"] not in given:
            given[rating["export"]] = _given_to(table.path, key["exports"][rating["export"]])
        given_to = given[rating["export"]]
        if given_to and rating["rater"] not in given_to:
            # One line for the file: every row of an edited rater column says the same.
            return problems + [f"{table.where(n, 'rater')}: rater {quoted(rating['rater'])} in the file exported for "
                               f"{' or '.join(sorted(given_to))}; each rater imports the file made for them"]
        slot = _slot(rating)
        if slot in in_file or slot in taken:
            where = f"row {in_file[slot]}" if slot in in_file else taken[slot]
            problems.append(f"{table.where(n, 'item_id')}: rater {quoted(rating['rater'])} already rated item "
                            f"{quoted(rating['item'])} ({rating['criterion']}) in {where}")
            continue
        in_file[slot] = n
        rating |= {"comment": row.get("comment", ""), "imported": now,
                   "source": {"file": str(table.path), "sha256": result.sha256, "row": n}}
        result.ratings.append(rating)
    if not problems and not result.ratings:
        problems.append(f"{table.where()}: no ratings: every '{ANSWER[kind]}' cell is empty")
    if problems:
        result.ratings = []
    return problems


def _rating(row: dict, kind: str, key: dict, run_id: str, err) -> dict | None:
    """One answered row, unblinded; None after reporting what is wrong with it through `err(column, message)`."""
    rater = row["rater"]
    if not rater:
        err("rater", "missing rater id")
    export_id = _export_of(row["sheet_id"], key, run_id, lambda m: err("sheet_id", m))
    if export_id is None:
        return None
    export = key["exports"][export_id]
    raters = export.get("raters")
    if rater and raters is not None and rater not in raters:
        err("rater", f"rater {quoted(rater)} is not one this export was made for ({', '.join(raters)}); "
                     "export sheets for a new rater with `harness sheets export --raters`")
        return None
    item = export["items"].get(row["item_id"])
    if item is None:
        err("item_id", f"unknown item id {quoted(row['item_id'])} (not in sheet {row['sheet_id']})" if row["item_id"]
            else "missing item id")
        return None
    if item["kind"] != kind:
        err("item_id", f"item {quoted(row['item_id'])} belongs on a {item['kind']} sheet, not a {kind} one")
        return None
    rating = {"kind": "score" if kind == POINTWISE else "preference", "export": export_id, "item": row["item_id"],
              "suite": item["suite"], "example": item["example"], "state": item["state"], "rater": rater}
    if kind == POINTWISE:
        criteria = export["criteria"][item["suite"]]
        if row["criterion"] not in criteria:
            err("criterion", f"unknown criterion {quoted(row['criterion'])} for suite {item['suite']} "
                             f"(expected {', '.join(criteria)})")
            return None
        score = _score(row["score"], lambda m: err("score", m))
        if score is None or not rater:
            return None
        return rating | {"criterion": row["criterion"], "score": score}
    choice = normalise_preference(row["preference"])
    if choice is None:
        err("preference", f"{quoted(row['preference'])} is not one of {', '.join(PREFERENCES)}")
        return None
    if not rater:
        return None
    preferred = {"A": item["a"], "B": item["b"]}.get(choice)
    outcome = choice if preferred is None else "win" if preferred == item["state"] else "loss"
    return rating | {"versus": item["versus"], "criterion": PREFERENCE_CRITERION, "preference": choice,
                     "preferred": preferred, "outcome": outcome}


def _given_to(path: Path, export: dict) -> set[str]:
    """The raters the export wrote a file of this name for (empty when the name is not an exported one's).

    A rater file names its rater (`pointwise-r1.csv`); the HTML form saves `<name>-ratings.csv` and a
    browser may add ` (1)`. A renamed file cannot be traced to its rater, so it is not checked."""
    stem = re.sub(r" \(\d+\)$", "", path.stem).removesuffix("-ratings")
    states = {None} | {item.get("state") for item in export.get("items", {}).values() if item.get("kind") == PAIRWISE}
    exported = {PurePosixPath(f).stem for f in export.get("files", [])}
    return {rater for rater in export.get("raters") or [] for state in states
            for kind in ((POINTWISE,) if state is None else (PAIRWISE,))
            if PurePosixPath(sheet_file(kind, rater, "csv", state)).stem == stem and stem in exported}


def _export_of(value: str, key: dict, run_id: str, err) -> str | None:
    if not value:
        err("missing sheet id")
        return None
    sheet_run, export_id = split_sheet_id(value)
    if sheet_run != run_id:
        origin = f"run {sheet_run[:40]}" if sheet_run else "another run"
        err(f"sheet id {quoted(value)} is from {origin}, not this run ({run_id})")
        return None
    if export_id not in key["exports"]:
        err(f"sheet id {quoted(value)} is from an export this run has no key for (known: {', '.join(key['exports'])})")
        return None
    return export_id


def _score(text: str, err) -> int | None:
    """A score as raters type it: plain ASCII digits, nothing around them, within the rubric's 1–5."""
    low, high = SCORES[0], SCORES[-1]
    if re.fullmatch(r"[0-9]{1,6}", text):
        if int(text) in SCORES:
            return int(text)
        err(f"{text} is not a whole number from {low} to {high}")
        return None
    try:
        float(text)  # '3e0', '+3', ' 3 ', '٣' and '３' all read as 3 here: a number, but not as typed
    except ValueError:
        err(f"{quoted(text)} is not a number; scores are whole numbers {low}–{high}")
        return None
    err(f"{quoted(text)} is not a whole number from {low} to {high} in plain digits 0-9, with nothing around it")
    return None
