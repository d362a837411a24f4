"""Finding the tool calls in a model's turn.

`parse_tool_calls` takes the first JSON value in the text that is a call — an object with a `name` (and
`arguments`, an object; absent means none) — or a non-empty list of such objects (parallel calls), wherever it
stands: alone, after some words, or inside a ``` fence. A turn with no such value is a plain answer, unless it
looks like a failed attempt at one (a `"name":` key or a ```json fence), which counts as an invalid call.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_CALLS_PER_TURN = 4
"""Calls carried out from one turn; more are refused as invalid (and bound `invalid_calls`)."""
MAX_SCAN_CHARS = 65_536
MAX_CANDIDATES = 64
"""Opening brackets tried as the start of a call: the scan stays linear in practice on any output."""
_ATTEMPT = re.compile(r"""["']name["']\s*:|```\s*json""", re.IGNORECASE)


@dataclass(frozen=True)
class ToolCall:
    name: Any
    """The name as written (checked against the environment's tools when it runs)."""
    arguments: Any
    """The arguments as written (checked against the tool's schema)."""


@dataclass(frozen=True)
class ParsedTurn:
    calls: tuple[ToolCall, ...] = ()
    problem: str | None = None
    """Why a turn that attempted a call gave none (None: it gave calls, or was a plain answer)."""

    @property
    def answer(self) -> bool:
        """A plain-text turn: no call, and no failed attempt at one."""
        return not self.calls and self.problem is None


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def parse_tool_calls(text: str) -> ParsedTurn:
    """The call(s) in `text`, a failed attempt at one, or a plain answer."""
    text = text[:MAX_SCAN_CHARS]
    starts = [m.start() for m in re.finditer(r"[\[{]", text)][:MAX_CANDIDATES]
    for start in starts:
        try:
            value, _ = _DECODER.raw_decode(text, start)
        except (ValueError, RecursionError):
            continue
        calls = _as_calls(value)
        if calls:
            return ParsedTurn(calls=calls)
    if _ATTEMPT.search(text):
        return ParsedTurn(problem="no parsable tool call (a JSON object with `name` and `arguments`)")
    return ParsedTurn()


def _as_calls(value: Any) -> tuple[ToolCall, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, dict) and "name" in item for item in items):
        return ()
    return tuple(ToolCall(name=item["name"], arguments=item.get("arguments", {})) for item in items)
