"""`harness suites new`: a valid suite folder to start from, in any data format, or from one data file of
one's own (`--from`: its format, the `columns:` map onto the format's fields and a label field to stratify the
held-out split by are guessed, and the file is split into train and test)."""
from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import yaml

from harness.common import limits
from harness.common.errors import HarnessError, quoted
from harness.common.files import copy_file, write_text

from .formats import FORMATS
from .sources import read_split
from .spec import NAME_PATTERN

PROMPT_NAMES = ("prompt", "question", "query", "request", "problem", "text", "source", "src", "user", "input")
"""Field names read as the prompt, most telling first."""
REFERENCE_NAMES = ("completion", "output", "answer", "response", "target", "reference", "solution", "tgt",
                   "assistant")
"""Field names read as the reference output, most telling first."""
LABEL_NAMES = ("label", "category", "intent", "class", "type", "task", "tag", "tool", "topic")
"""Field names read as an example's label (the held-out split keeps their balance)."""
MAX_NEW_TOKENS = 512
"""The most tokens a guessed suite generates per example."""
SHORT_REFERENCE_WORDS = 4
"""References of at most this many words (the median) are scored by exact match first; longer ones by chrF."""


@dataclass
class Guess:
    """What `--from` made of a file, and why, in lines a person reads."""

    format: str
    columns: dict[str, str] = field(default_factory=dict)
    labels: str | None = None
    metrics: list[str] = field(default_factory=list)
    max_new_tokens: int = 64
    reasons: list[str] = field(default_factory=list)


def guess(records: list[Any], where: str) -> Guess:
    """The suite that fits `records` (each a JSON object); one error naming the fields when none does."""
    objects = [r for r in records if isinstance(r, dict)]
    if not objects or len(objects) != len(records):
        raise HarnessError("every record must be a JSON object (with the prompt and the reference as fields)", where)
    common = [k for k in objects[0] if all(k in r for r in objects)]
    g = _format(objects, common, where)
    g.labels = _label_field(objects, common, set(g.columns) | _used(g.format))
    if g.labels:
        values = len({str(r[g.labels]) for r in objects})
        g.reasons.append(f"labels: {g.labels} ({values} values): the test split keeps their balance")
    reference = [str(r.get(_source_of(g, "completion" if g.format == "prompt-completion" else "output"), ""))
                 for r in objects] if g.format in ("alpaca", "prompt-completion") else []
    words = median(len(t.split()) for t in reference) if reference else 0
    g.metrics = ["exact_match", "chrf"] if words <= SHORT_REFERENCE_WORDS else ["chrf", "exact_match"]
    g.reasons.append(f"metrics: {', '.join(g.metrics)} (references' median length: {words:g} words; "
                     f"{g.metrics[0]} is the gated one)")
    if reference:  # room for the longest reference (about 2 characters a token) and a little more
        g.max_new_tokens = min(max(16, max(len(t) for t in reference) // 2 + 16), MAX_NEW_TOKENS)
        g.reasons.append(f"generation.max_new_tokens: {g.max_new_tokens} (the longest reference is "
                         f"{max(len(t) for t in reference)} characters)")
    return g


def _format(objects: list[dict], common: list[str], where: str) -> Guess:
    keys = set(common)
    if "conversations" in keys:
        return Guess("sharegpt", reasons=["format: sharegpt (every record has `conversations`)"])
    if "messages" in keys:
        chat = any("tools" in r or any(isinstance(m, dict) and m.get("tool_calls") for m in r["messages"] or [])
                   for r in objects if isinstance(r["messages"], list))
        return Guess("chat" if chat else "messages",
                     reasons=[f"format: {'chat (tool calls or tools)' if chat else 'messages'} "
                              "(every record has `messages`)"])
    reference = next((k for k in REFERENCE_NAMES if k in keys and k != "input"), None)
    if "instruction" in keys and reference is not None:
        columns = {reference: "output"} if reference != "output" else {}
        return Guess("alpaca", columns, reasons=[f"format: alpaca (`instruction`, {_optional_input(keys)}"
                                                 f"reference `{reference}`)", *_mapped(columns)])
    prompt = next((k for k in PROMPT_NAMES if k in keys and k != reference), None)
    if prompt is not None and reference is not None:
        columns = {k: v for k, v in ((prompt, "prompt"), (reference, "completion")) if k != v}
        return Guess("prompt-completion", columns,
                     reasons=[f"format: prompt-completion (prompt `{prompt}`, reference `{reference}`)",
                              *_mapped(columns)])
    raise HarnessError(f"cannot tell which fields hold the prompt and the reference (fields every record has: "
                       f"{', '.join(common) or 'none'}); name them prompt and completion, or write the suite with "
                       "`harness suites new NAME --format F` and map them with data.columns", where)


def _optional_input(keys: set[str]) -> str:
    return "`input`, " if "input" in keys else ""


def _mapped(columns: dict[str, str]) -> list[str]:
    return [f"columns: {', '.join(f'{k} → {v}' for k, v in columns.items())}"] if columns else []


def _used(fmt: str) -> set[str]:
    return {"prompt-completion": {"prompt", "completion"}, "alpaca": {"instruction", "input", "output"}}.get(
        fmt, {"messages", "conversations", "tools", "system"})


def _source_of(g: Guess, target: str) -> str:
    return next((k for k, v in g.columns.items() if v == target), target)


def _label_field(objects: list[dict], common: list[str], used: set[str]) -> str | None:
    """A field named like a label whose string values repeat (2 or more values, each on 2 records on average)."""
    for name in LABEL_NAMES:
        key = next((k for k in common if k.lower() == name and k not in used), None)
        if key is None or not all(isinstance(r[key], str) for r in objects):
            continue
        values = {r[key] for r in objects}
        if 2 <= len(values) <= len(objects) / 2:
            return key
    return None


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
    if not re.fullmatch(NAME_PATTERN, name) or len(name) > limits.NAME_MAX_CHARS:
        raise HarnessError(f"a suite name is letters, digits, '_', '.' or '-' (at most {limits.NAME_MAX_CHARS}, not "
                           f"starting with '.' or '-'), not {quoted(name)}", "suites new")
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
