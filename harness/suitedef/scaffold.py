"""`harness suites new`: a valid suite folder to start from, in any data format."""
from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import yaml

from harness.common import limits
from harness.common.errors import HarnessError, quoted
from harness.common.files import write_text

from .formats import FORMATS
from .spec import NAME_PATTERN

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


def new_suite(folder: str | Path, name: str, fmt: str) -> Path:
    """Write a small valid suite called `name` in `folder` (which must not exist yet) and return it."""
    if fmt not in FORMATS:
        raise HarnessError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}", "--format")
    if not re.fullmatch(NAME_PATTERN, name) or len(name) > limits.NAME_MAX_CHARS:
        raise HarnessError(f"a suite name is letters, digits, '_', '.' or '-' (at most {limits.NAME_MAX_CHARS}, not "
                           f"starting with '.' or '-'), not {quoted(name)}", "suites new")
    folder = Path(folder)
    if folder.exists():
        raise HarnessError("already exists; choose a new folder", str(folder))
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{name}-"))
    try:
        _write(staging, name, fmt, folder)
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def _write(folder: Path, name: str, fmt: str, final: Path) -> None:
    spec = {
        "name": name, "version": "0.1",
        "description": "What skill this suite measures, in a sentence or two.",
        "language": "en",
        "data": {"format": fmt, "train": "train.jsonl", "test": "test.jsonl"},
        "generation": {"max_new_tokens": 32},
        "metrics": _METRICS.get(fmt, ["exact_match"]),
        "gates": [{"metric": "exact_match", "min_delta": 0.1}],
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
