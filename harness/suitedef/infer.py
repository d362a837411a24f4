"""Guessing a suite from one data file: its format, the `columns:` map onto the format's fields, and a
label field to stratify the held-out split by (`harness suites new NAME --from FILE`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from statistics import median
from typing import Any

from harness.common.errors import HarnessError

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
