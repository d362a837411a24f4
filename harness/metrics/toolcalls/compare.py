"""Comparing JSON strictly, and tool calls against a reference that may accept alternatives.

Strict types: a boolean equals only a boolean (`true` ≠ `1`), a string only a string (`"1"` ≠ `1`),
null only null. Numbers compare by value however they are written (`1.0` = `1`, `1e2` = `100`):
JSON has a single number type, and whether a serializer writes `1.0` or `1` says nothing about the
call. Objects need the same keys with the same values; lists the same values in the same order.

A reference is one call `{"name": …, "arguments": {…}}`, a list of them (parallel calls, matched in
any order), or BFCL's possible-answer form: a list of `{"function": {"arg": [accepted, …]}}`, where
the call may use any accepted value of each argument and `""` among them means the argument may be
left out. Accepted values are literal JSON values compared strictly.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_CALLS = 32
"""Calls matched in any order at most (the matching tries pairings)."""
OMITTED = ""
"""In a possible answer's list: the argument may be left out."""


def same(a: Any, b: Any) -> bool:
    """Strict JSON equality (see the module's docstring)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) or isinstance(b, (int, float)):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and a == b
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and all(
            same(a[k], b[k]) for k in a)
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(
            same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class Expected:
    """One call a reference asks for: the function and, per argument, the values it accepts."""

    name: str
    accepted: dict[str, list]
    optional: frozenset[str] = frozenset()

    def arguments_fit(self, arguments: Any) -> bool:
        """Every argument given is known and takes an accepted value; every required one is given."""
        if not isinstance(arguments, dict) or not arguments.keys() <= self.accepted.keys():
            return False
        if not (self.accepted.keys() - self.optional) <= arguments.keys():
            return False
        return all(any(same(v, ok) for ok in self.accepted[k]) for k, v in arguments.items())


def is_possible_answer(value: Any) -> bool:
    """BFCL's form: a non-empty list of one-key objects `{function: {argument: [values]}}`."""
    return isinstance(value, list) and bool(value) and all(_possible_call(v) for v in value)


def _possible_call(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    (arguments,) = value.values()
    return isinstance(arguments, dict) and all(isinstance(v, list) for v in arguments.values())


def expected_calls(reference: Any) -> list[Expected] | None:
    """The calls a reference asks for, in its order; None when it is neither a call, a list of calls nor
    a possible answer (a single `{function: {…}}` is read as a possible answer too)."""
    if _possible_call(reference):
        reference = [reference]
    if is_possible_answer(reference):
        out = []
        for v in reference:
            ((name, arguments),) = v.items()
            out.append(Expected(name, {k: [ok for ok in alts if ok != OMITTED] or alts
                                       for k, alts in arguments.items()},
                                frozenset(k for k, alts in arguments.items() if OMITTED in alts)))
        return out
    calls = reference if isinstance(reference, list) else [reference]
    if not calls or not all(isinstance(c, dict) and isinstance(c.get("name"), str)
                            and isinstance(c.get("arguments", {}), dict) for c in calls):
        return None
    return [Expected(c["name"], {k: [v] for k, v in c.get("arguments", {}).items()}) for c in calls]


def as_call(value: Any) -> dict | None:
    """An output's call as `{"name", "arguments"}` (either may be missing): OpenAI's `{"function": {…}}`
    wrapper is unwrapped, `parameters` read as `arguments`, and arguments written as a JSON string parsed."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("function"), dict):
        value = value["function"]
    call = {k: value[k] for k in ("name",) if k in value}
    arguments = value.get("arguments", value.get("parameters"))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            pass
    if "arguments" in value or "parameters" in value:
        call["arguments"] = arguments
    return call


def pairs_up(got: list, want: list[Expected], fits) -> bool:
    """Whether each output call can be paired with its own expected call so that `fits(call, expected)`
    holds for every pair (any order; the lists have the same length)."""
    if len(got) != len(want) or len(got) > MAX_CALLS:
        return False
    options = [[j for j, w in enumerate(want) if fits(g, w)] for g in got]
    taken: dict[int, int] = {}

    def assign(i: int, seen: set[int]) -> bool:  # augmenting path (Kuhn's bipartite matching)
        for j in options[i]:
            if j not in seen:
                seen.add(j)
                if j not in taken or assign(taken[j], seen):
                    taken[j] = i
                    return True
        return False

    return all(assign(i, set()) for i in range(len(got)))
