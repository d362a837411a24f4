"""`harness suites new`: a valid suite folder to start from, in any data format, or from one data file of
one's own (`--from`: the format and the columns guessed, the file split into train and test)."""
from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import yaml

from harness.common.errors import HarnessError
from harness.common.files import copy_file, write_text

from .formats import FORMATS
from .infer import Guess, guess
from .sources import read_split

_EXAMPLES: dict[str, list[tuple[dict, dict]]] = {
    # (a train record, a test record) per format; the scaffold writes a few of each.
    "prompt-completion": [({"prompt": "2 + 2", "completion": "4"}, {"prompt": "3 + 4", "completion": "7"}),
                          ({"prompt": "5 + 1", "completion": "6"}, {"prompt": "1 + 8", "completion": "9"})],
    "alpaca": [({"instruction": "Add the numbers.", "input": "2 and 2", "output": "4"},
                {"instruction": "Add the numbers.", "input": "3 and 4", "output": "7"}),
               ({"instruction": "Add the numbers.", "input": "5 and 1", "output": "6"},
                {"instruction": "Add the numbers.", "input": "1 and 8", "output": "9"})],
    "messages": [({"messages": [{"role": "user", "content": "2 + 2"}, {"role": "assistant", "content": "4"}]},
                  {"messages": [{"role": "user", "content": "3 + 4"}, {"role": "assistant", "content": "7"}]}),
                 ({"messages": [{"role": "user", "content": "5 + 1"}, {"role": "assistant", "content": "6"}]},
                  {"messages": [{"role": "user", "content": "1 + 8"}, {"role": "assistant", "content": "9"}]})],
    "sharegpt": [({"conversations": [{"from": "human", "value": "2 + 2"}, {"from": "gpt", "value": "4"}]},
                  {"conversations": [{"from": "human", "value": "3 + 4"}, {"from": "gpt", "value": "7"}]}),
                 ({"conversations": [{"from": "human", "value": "5 + 1"}, {"from": "gpt", "value": "6"}]},
                  {"conversations": [{"from": "human", "value": "1 + 8"}, {"from": "gpt", "value": "9"}]})],
}
_TOOLS = [{"type": "function", "function": {"name": "add", "description": "Add two numbers.", "parameters": {
    "type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}}}]


def _chat(a: int, b: int) -> dict:
    call = {"type": "function", "function": {"name": "add", "arguments": json.dumps({"a": a, "b": b})}}
    return {"tools": _TOOLS, "messages": [{"role": "user", "content": f"What is {a} + {b}?"},
                                          {"role": "assistant", "tool_calls": [call]}]}


_EXAMPLES["chat"] = [(_chat(2, 2), _chat(3, 4)), (_chat(5, 1), _chat(1, 8))]
_METRICS = {"chat": [{"name": "exact_match", "parse": "json"}, "tool_name", "tool_arguments"]}


TEST_FRACTION = 0.2
"""Share of a `--from` file's records held out for testing."""


def new_suite(folder: str | Path, name: str, fmt: str) -> Path:
    """Write a small valid suite called `name` in `folder` (which must not exist yet) and return it."""
    if fmt not in FORMATS:
        raise HarnessError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}", "--format")
    return _staged(folder, name, lambda staging: _write(staging, name, fmt, Path(folder)))


def new_suite_from(folder: str | Path, name: str, data_file: str | Path, check=None) -> tuple[Path, Guess]:
    """Write a suite called `name` in `folder` around a copy of `data_file`, split by the harness, with the
    format, columns and labels guessed from its records; returns the folder and the guess (with its reasons).
    `check(staging_folder)` validates the suite before it is put in place (an error leaves nothing behind)."""
    source = Path(data_file)
    rows = read_split(source.parent, source.name, {}, "--from", allow_outside=True)
    found = guess([record for _, _, record in rows.records], str(source))
    copy = f"data{source.suffix.lower()}"

    def write(staging: Path) -> None:
        copy_file(source, staging / copy)
        _write_guessed(staging, name, copy, found, source.name)
        if check is not None:
            check(staging)

    return _staged(folder, name, write), found


def _staged(folder: str | Path, name: str, write) -> Path:
    """`write(staging)` fills a hidden folder beside `folder`, renamed to `folder` once complete."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise HarnessError(f"a suite name is letters, digits, '.', '_' or '-', not {name!r}", "suites new")
    folder = Path(folder)
    if folder.exists():
        raise HarnessError("already exists; choose a new folder", str(folder))
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{name}-"))
    try:
        write(staging)
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def _write_guessed(folder: Path, name: str, data_file: str, g: Guess, original: str) -> None:
    data: dict = {"format": g.format, "file": data_file, "test_fraction": TEST_FRACTION, "split_seed": 0}
    if g.columns:
        data["columns"] = g.columns
    scale = 100 if g.metrics[0] == "chrf" else 1  # chrF is on a 0-100 scale, exact match on 0-1
    spec = {
        "name": name, "version": "0.1",
        "description": f"Made by `harness suites new --from {original}`; say what skill it measures.",
        "language": "en",
        "data": data,
        **({"labels": g.labels} if g.labels else {}),
        "generation": {"max_new_tokens": g.max_new_tokens},
        "metrics": g.metrics,
        "gates": [{"metric": g.metrics[0], "min_delta": 0.1 * scale}],
    }
    write_text(folder / "suite.yaml", yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    guessed = "\n".join(f"- {line}" for line in g.reasons)
    write_text(folder / "README.md", f"""# {name}

What skill this suite measures, and why it matters for the agent being tuned.

## Data

`{data_file}` is a copy of `{original}`. The harness holds out {TEST_FRACTION:.0%} of its records for testing
(`data.test_fraction`, seeded by `data.split_seed`; the run records the split). What
`harness suites new --from` guessed:

{guessed}
""")


def _write(folder: Path, name: str, fmt: str, final: Path) -> None:
    spec = {
        "name": name, "version": "0.1",
        "description": "What skill this suite measures, in a sentence or two.",
        "language": "en",
        "data": {"format": fmt, "train": "train.jsonl", "test": "test.jsonl"},
        "generation": {"max_new_tokens": 32},
        "metrics": _METRICS.get(fmt, ["exact_match"]),
        # Decided on the interval: a gain of 0.1 that the test split cannot resolve is not a pass.
        "gates": [{"metric": "exact_match", "min_delta": 0.1, "decide_on": "lower_bound"}],
    }
    pairs = _EXAMPLES[fmt]
    write_text(folder / "suite.yaml", yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    for split, index in (("train", 0), ("test", 1)):
        rows = [{"id": f"{split}-{i:05d}", **pair[index]} for i, pair in enumerate(pairs, 1)]
        write_text(folder / f"{split}.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    write_text(folder / "README.md", f"""# {name}

What skill this suite measures, and why it matters for the agent being tuned.

## Data

Format `{fmt}` (see the harness README). Say how the data was made (a generator beside it, a
source, a licence), and replace the two placeholder examples in `train.jsonl` and `test.jsonl`.

## Held out

What the test split holds that training never shows (phrasings, values), so the suite measures
generalisation, not recall.

## Numbers

Before and after tuning, once a run exists (`harness run --suite {final}`).
""")
