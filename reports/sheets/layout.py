"""What a rating sheet looks like: its files, columns, ids and values, shared by export and import."""
from __future__ import annotations

import re
from pathlib import Path

from harness.common.errors import HarnessError
from harness.record import RATING_SCORES, Rubric
from harness.record.ratings import SHEETS_DIR

KEY_FILE = "key.json"
LOCK_FILE = ".lock"
"""Held while key.json or ratings.jsonl is read and rewritten, so concurrent commands never lose each other's writes."""
FORMATS = ("csv", "xlsx", "html")

POINTWISE, PAIRWISE = "pointwise", "pairwise"
# Column order as raters see it; the importer finds columns by name, so raters may reorder them.
COLUMNS = {
    POINTWISE: ["sheet_id", "rater", "item_id", "suite", "system", "criterion", "levels", "prompt", "reference",
                "output", "score", "comment"],
    PAIRWISE: ["sheet_id", "rater", "item_id", "suite", "prompt", "reference", "output_a", "output_b",
               "preference", "comment"],
}
REQUIRED = {POINTWISE: ("sheet_id", "rater", "item_id", "criterion", "score"),
            PAIRWISE: ("sheet_id", "rater", "item_id", "preference")}
ANSWER = {POINTWISE: "score", PAIRWISE: "preference"}
SCORES = RATING_SCORES
PREFERENCES = ("A", "B", "tie", "both bad")
PREFERENCE_CRITERION = "preference"
"""The criterion name pairwise ratings are stored under."""

_RATER = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def sheets_dir(run_dir: str | Path) -> Path:
    """RUN_DIR/sheets: exports, key.json and ratings.jsonl."""
    return Path(run_dir) / SHEETS_DIR


def sheet_id(run_id: str, export_id: str) -> str:
    """The id a sheet carries in every row: `RUN_ID/EXPORT_ID`."""
    return f"{run_id}/{export_id}"


def split_sheet_id(value: str) -> tuple[str, str]:
    """(run id, export id) of a sheet id; empty strings for what is missing."""
    run_id, _, export_id = value.rpartition("/")
    return run_id, export_id


def sheet_file(kind: str, rater: str, fmt: str, state: str | None = None) -> str:
    """`pointwise-r1.csv`, `pairwise-lora-r1.xlsx`: one file per rater, and per tuned state for A/B."""
    return f"{kind}{'-' + state if state else ''}-{rater}.{fmt}"


def rubric_of(info) -> Rubric:
    """The suite's rubric as recorded in run.json."""
    return info.rubric


def levels_text(criterion) -> str:
    """The criterion and its anchored levels, as one cell a rater can read."""
    levels = "\n".join(f"{score} = {criterion.levels[score]}" for score in SCORES)
    return f"{criterion.description}\n{levels}"


def parse_raters(value: str) -> list[str]:
    """`3` → r1, r2, r3; `ana,ben` → those ids (they become part of file names)."""
    value = value.strip()
    if value.isdigit():
        if int(value) < 1:
            raise HarnessError("needs at least one rater", "--raters")
        return [f"r{i}" for i in range(1, int(value) + 1)]
    raters = [r.strip() for r in value.split(",") if r.strip()]
    bad = [r for r in raters if not _RATER.match(r)]
    if not raters or bad:
        raise HarnessError(f"rater ids are letters, digits, '.', '_' or '-' (got {', '.join(bad) or 'none'})",
                           "--raters")
    if len(set(raters)) != len(raters):
        raise HarnessError("a rater id is listed twice", "--raters")
    return raters


def normalise_preference(value: str) -> str | None:
    """`a`, ` Both_Bad ` → `A`, `both bad`; None when it is none of the four answers."""
    text = " ".join(value.replace("_", " ").split()).lower()
    return next((p for p in PREFERENCES if p.lower() == text), None)
