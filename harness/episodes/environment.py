"""An environment in use: its state, and tool calls carried out on it.

A call is checked against the tool's schema, then its preconditions in order (the first that fails answers
with its failure's message and changes nothing), then its effects are applied to a copy of the state that
replaces it only when all of them succeeded. Nothing a model writes is ever run: it is data the
declarations read.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from harness.suitedef.episodes import expressions as ex
from harness.suitedef.episodes.schema import problems
from harness.suitedef.episodes.spec import ERROR, INVALID, MAX_STATE_CHARS, EnvironmentSpec, state_chars

OK = "ok"


@dataclass(frozen=True)
class Outcome:
    """What one call did."""

    message: str
    """The tool message the model reads next."""
    status: str
    """`ok`, a declared failure's name, `invalid` (no such tool, or arguments that break the schema) or
    `error` (the effects could not be carried out; the state is unchanged)."""

    @property
    def valid(self) -> bool:
        """The call named a tool and met its schema (whatever the environment then answered)."""
        return self.status != INVALID


class Environment:
    """One episode's environment: the declarations and a private state."""

    def __init__(self, spec: EnvironmentSpec, state: dict):
        self.spec = spec
        self.state = copy.deepcopy(state)

    def call(self, name: Any, arguments: Any) -> Outcome:
        """Carry out one call of tool `name` with `arguments`."""
        tool = self.spec.tools.get(name) if isinstance(name, str) else None
        if tool is None:
            return Outcome(f"error: no tool named {str(name)[:64]!r} (tools: {', '.join(self.spec.tools)})", INVALID)
        wrong = problems(arguments, tool.parameters)
        if wrong:
            return Outcome(f"error: invalid arguments for {tool.name}: {'; '.join(wrong[:5])}", INVALID)
        try:
            for pre in tool.preconditions:
                if not ex.holds(pre.check, self.state, arguments):
                    return Outcome(ex.fill(self.spec.failures[pre.fail], arguments), pre.fail)
            after = copy.deepcopy(self.state)
            for effect in tool.effects:
                ex.apply(effect, after, arguments)
            if state_chars(after) > MAX_STATE_CHARS:
                raise ex.Failed(f"the state would grow over {MAX_STATE_CHARS} characters")
            values = {key: ex.value(expr, after, arguments) for key, expr in tool.values.items()}
        except ex.Failed as e:
            return Outcome(f"error: {tool.name} failed: {e}", ERROR)
        self.state = after
        return Outcome(ex.fill(tool.result, {**arguments, **values}), OK)
