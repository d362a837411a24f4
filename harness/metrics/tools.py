"""Tool-call metrics: the output is one JSON object {"name": ..., "arguments": {...}}."""
from __future__ import annotations

from typing import Any, Mapping

from .base import NO_FIELDS, Metric, Score
from .match import parse_json


class _ToolField(Metric):
    field: str

    def __init__(self, language: str = "en", key: str | None = None):
        super().__init__(language)
        self.key = key or self.field

    def score(self, output: str, reference: str, fields: Mapping[str, Any] = NO_FIELDS) -> Score:
        got, want = parse_json(output), parse_json(reference)
        if not isinstance(got, dict):
            return Score(0.0, "output is not a JSON object")
        if self.key not in got:
            return Score(0.0, f"no '{self.key}' in the output")
        if not isinstance(want, dict) or got[self.key] != want.get(self.key):
            return Score(0.0, f"wrong '{self.key}'")
        return Score(1.0)


class ToolName(_ToolField):
    """The right tool was called (arguments aside)."""

    name = "tool_name"
    field = "name"


class ToolArguments(_ToolField):
    """The arguments equal the reference's (key order ignored)."""

    name = "tool_arguments"
    field = "arguments"
