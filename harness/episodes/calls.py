"""Finding the tool calls in a model's turn, with the tool metrics' extraction step
(`harness.metrics.toolcalls.extract`).

`parse_tool_calls` takes the first JSON value in the text that is a call — an object with a `name` (and
`arguments`, an object; absent means none) — or a non-empty list of such objects (parallel calls), wherever it
stands: alone, after some words, inside a ``` fence, or in `<tool_call>` tags. A turn with no such value is a
plain answer, unless it looks like a failed attempt at one (a `"name":` key, a ```json fence or a `<tool_call>`
tag), which counts as an invalid call.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harness.metrics.toolcalls.extract import MAX_CHARS, extract

MAX_CALLS_PER_TURN = 4
"""Calls carried out from one turn; more are refused as invalid (and bound `invalid_calls`)."""
_ATTEMPT = re.compile(r"""["']name["']\s*:|```\s*json|<tool_call>""", re.IGNORECASE)


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


def parse_tool_calls(text: str) -> ParsedTurn:
    """The call(s) in `text`, a failed attempt at one, or a plain answer."""
    found = extract(text, "auto", accept=lambda value: bool(_as_calls(value)), strict=True)
    if found.found:
        return ParsedTurn(calls=_as_calls(found.value))
    if _ATTEMPT.search(text[:MAX_CHARS]):
        return ParsedTurn(problem="no parsable tool call (a JSON object with `name` and `arguments`)")
    return ParsedTurn()


def _as_calls(value: Any) -> tuple[ToolCall, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, dict) and "name" in item for item in items):
        return ()
    return tuple(ToolCall(name=item["name"], arguments=item.get("arguments", {})) for item in items)
