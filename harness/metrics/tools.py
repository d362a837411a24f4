"""Tool-call metrics: the call is extracted from the output (`toolcalls.extract`), then its `name` or its
`arguments` are compared with the reference's strictly, accepting any value the reference lists
(`toolcalls.compare`)."""
from __future__ import annotations

from typing import Any, Mapping

from .base import NO_FIELDS, Metric, Score
from .match import parse_json
from .toolcalls.compare import Expected, as_call, expected_calls, pairs_up, same
from .toolcalls.extract import extract
from .toolcalls.extract import signature as extract_signature

NOT_A_CALL = ('the reference is not a tool call {"name", "arguments"}, a list of them, nor a BFCL possible answer '
              '[{"function": {"argument": [accepted values]}}]')


class _ToolField(Metric):
    field: str

    def __init__(self, language: str = "en", key: str | None = None, extract: str = "auto"):
        super().__init__(language)
        self.key = key or self.field
        extract_signature(extract)
        self.extract = extract

    @property
    def signature(self) -> str:
        return extract_signature(self.extract)

    def score(self, output: str, reference: str, fields: Mapping[str, Any] = NO_FIELDS) -> Score:
        found = extract(output, self.extract)
        if not found.found:
            return Score(0.0, found.failure)
        want = parse_json(reference)
        if self.key != self.field:  # a renamed key: the plain comparison of that key
            return self._plain(found.value, want)
        expected = expected_calls(want)
        if expected is None:  # refused when the suite loads (`reference_problem`)
            return Score(0.0, NOT_A_CALL)
        got = found.value if isinstance(found.value, list) else [found.value]
        calls = [as_call(v) for v in got]
        if any(c is None for c in calls):
            return Score(0.0, "output is not a JSON object")
        if any(self.key not in c for c in calls):  # type: ignore[operator]
            return Score(0.0, f"no '{self.key}' in the output")
        if len(calls) != len(expected):
            return Score(0.0, f"{len(calls)} call(s) where the reference has {len(expected)}")
        return Score(1.0) if pairs_up(calls, expected, self.fits) else Score(0.0, f"wrong '{self.key}'")

    def fits(self, call: dict, expected: Expected) -> bool:
        raise NotImplementedError

    def reference_problem(self, reference: str) -> str | None:
        if self.key != self.field or expected_calls(parse_json(reference)) is not None:
            return None
        return NOT_A_CALL

    def _plain(self, got: Any, want: Any) -> Score:
        if not isinstance(got, dict):
            return Score(0.0, "output is not a JSON object")
        if self.key not in got:
            return Score(0.0, f"no '{self.key}' in the output")
        if not isinstance(want, dict) or not same(got[self.key], want.get(self.key)):
            return Score(0.0, f"wrong '{self.key}'")
        return Score(1.0)


class ToolName(_ToolField):
    """The right tool was called (arguments aside), in the call found in the output.

    `extract`: `auto` (default) or `whole`, see `harness.metrics.toolcalls.extract`."""

    name = "tool_name"
    field = "name"

    def fits(self, call: dict, expected: Expected) -> bool:
        return call["name"] == expected.name


class ToolArguments(_ToolField):
    """The arguments are the reference's, or values it accepts (key order ignored, types strict).

    The call is the one `extract` (`auto` by default, or `whole`) finds in the output."""

    name = "tool_arguments"
    field = "arguments"

    def fits(self, call: dict, expected: Expected) -> bool:
        return expected.arguments_fit(call["arguments"])
