"""An episode suite's declarations: the environment (state, tools, failures) and its tasks, checked when they
load so that every mistake is one error naming the file and field (see docs/episodes.md for the format)."""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.common.errors import HarnessError, quoted
from harness.common.files import load_yaml, read_jsonl

from . import expressions as ex
from .schema import check_schema

MAX_TOOLS = 64
MAX_RULES = 32
"""Preconditions, effects, values or facts per tool or task."""
MAX_TURNS = 50
"""The highest turn limit an environment or task may set."""
DEFAULT_MAX_TURNS = 8
MAX_STATE_CHARS = 1_000_000
"""The state as JSON, at the start and after every call (an append-only effect cannot grow it without end)."""
MAX_TEXT_CHARS = 20_000
"""A system prompt, user message or result template."""
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
INVALID = "invalid"
"""The failure name of a call that did not parse, named no tool or broke the tool's schema."""
ERROR = "error"
"""The failure name of a call whose effects could not be carried out on the state (rolled back)."""


@dataclass(frozen=True)
class Precondition:
    check: dict
    """The condition (see `expressions`)."""
    fail: str
    """The failure whose message the tool answers with when the condition does not hold."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict
    """The JSON schema of the arguments (an object)."""
    preconditions: tuple[Precondition, ...]
    effects: tuple[dict, ...]
    result: str
    """The message of a successful call: a template over the arguments and `values`."""
    values: dict[str, Any]
    """Name → value expression, computed after the effects, for the result message."""

    def schema(self) -> dict:
        """The function as chat templates take it (`tools=`)."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.parameters}}


@dataclass(frozen=True)
class EnvironmentSpec:
    tools: dict[str, Tool]
    failures: dict[str, str]
    """Failure name → message template over the failing tool's arguments."""
    state: dict
    """The initial state (a task may replace some of its top-level keys)."""
    system: str | None = None
    """A system turn opening every episode (how to call a tool, what the assistant is for)."""
    max_turns: int = DEFAULT_MAX_TURNS
    source: str = ""
    """Where it was read from, for messages."""

    def schemas(self) -> list[dict]:
        return [tool.schema() for tool in self.tools.values()]


@dataclass(frozen=True)
class Fact:
    slot: str
    asked_by: tuple[str, ...]
    """Words in the assistant's message that mean it asks for this slot (matched case-insensitively)."""
    answer: str


@dataclass(frozen=True)
class SimulatedUser:
    opening: str
    facts: tuple[Fact, ...] = ()
    otherwise: str | None = None
    """The reply to a question (a `?` or `？`) that asks for no known slot; None: such a question ends the episode."""
    script: tuple[str, ...] = ()
    """Further messages, said in order after plain answers that asked nothing (then the episode ends)."""


@dataclass(frozen=True)
class Task:
    id: str
    goal: str
    user: SimulatedUser
    state: dict
    """The initial state: the environment's, with the task's own top-level keys in place of its."""
    expected: dict
    """What the end state must contain (a subset match: see `metrics.state_matches`)."""
    answer_facts: tuple[str, ...] = ()
    max_turns: int = DEFAULT_MAX_TURNS
    fields: dict[str, Any] = field(default_factory=dict)


def load_environment(path: str | Path) -> EnvironmentSpec:
    """The environment in a YAML (or JSON) file."""
    _, data = load_yaml(Path(path))
    return environment_from(data, str(path))


def environment_from(data: Any, source: str) -> EnvironmentSpec:
    """An environment from its parsed declaration; `source` names the file in errors."""
    _mapping(data, {"state", "tools", "failures", "system", "max_turns"}, source, "")
    failures = data.get("failures") or {}
    _mapping(failures, None, source, "failures")
    for name, text in failures.items():
        _name(name, source, "failures")
        _text(text, source, f"failures.{name}")
    state = data.get("state") or {}
    _mapping(state, None, source, "state")
    _state_size(state, source, "state")
    tools_data = data.get("tools")
    if not isinstance(tools_data, list) or not tools_data or len(tools_data) > MAX_TOOLS:
        raise HarnessError(f"expected a list of 1 to {MAX_TOOLS} tools", f"{source}: tools")
    tools: dict[str, Tool] = {}
    for i, item in enumerate(tools_data):
        tool = _tool(item, failures, source, f"tools[{i}]")
        if tool.name in tools:
            raise HarnessError(f"a second tool named {quoted(tool.name)}", f"{source}: tools[{i}].name")
        tools[tool.name] = tool
    system = data.get("system")
    if system is not None:
        _text(system, source, "system")
    return EnvironmentSpec(tools=tools, failures=dict(failures), state=state, system=system,
                           max_turns=_turns(data.get("max_turns", DEFAULT_MAX_TURNS), source, "max_turns"),
                           source=source)


def _tool(data: Any, failures: dict, source: str, where: str) -> Tool:
    _mapping(data, {"name", "description", "parameters", "preconditions", "effects", "result", "values"},
             source, where)
    name = data.get("name")
    _name(name, source, f"{where}.name")
    at = f"{where}({name})"
    description = data.get("description", "")
    _text(description, source, f"{at}.description")
    params = data.get("parameters", {"type": "object", "properties": {}})
    check_schema(params, f"{source}: {at}.parameters")
    if params["type"] != "object":
        raise HarnessError("a tool's parameters are an object", f"{source}: {at}.parameters.type")
    names = set(params.get("properties", {}))
    pre = []
    for i, item in enumerate(_list(data.get("preconditions", []), source, f"{at}.preconditions")):
        here = f"{at}.preconditions[{i}]"
        _mapping(item, {"check", "fail"}, source, here)
        ex.check_condition(item.get("check"), names, f"{source}: {here}.check")
        if item.get("fail") not in failures:
            raise HarnessError(f"names no failure declared under `failures` (has: {sorted(failures)})",
                               f"{source}: {here}.fail")
        ex.check_template(failures[item["fail"]], names, f"{source}: failures.{item['fail']} (used by {name})")
        pre.append(Precondition(check=item["check"], fail=item["fail"]))
    effects = _list(data.get("effects", []), source, f"{at}.effects")
    for i, effect in enumerate(effects):
        ex.check_effect(effect, names, f"{source}: {at}.effects[{i}]")
    values = data.get("values") or {}
    _mapping(values, None, source, f"{at}.values")
    if len(values) > MAX_RULES:
        raise HarnessError(f"at most {MAX_RULES} values", f"{source}: {at}.values")
    for key, expr in values.items():
        _name(key, source, f"{at}.values")
        ex.check_value(expr, names, f"{source}: {at}.values.{key}")
    result = data.get("result", "ok")
    _text(result, source, f"{at}.result")
    ex.check_template(result, names | set(values), f"{source}: {at}.result")
    return Tool(name=name, description=description, parameters=params, preconditions=tuple(pre),
                effects=tuple(effects), result=result, values=dict(values))


def load_tasks(path: str | Path, env: EnvironmentSpec) -> list[Task]:
    """The tasks in a JSONL file, one per line."""
    tasks = [task_from(row, env, f"{path}:{i + 1}") for i, row in enumerate(read_jsonl(Path(path)))]
    seen: set[str] = set()
    for task in tasks:
        if task.id in seen:
            raise HarnessError(f"a second task with id {quoted(task.id)}", str(path))
        seen.add(task.id)
    return tasks


TASK_KEYS = {"id", "goal", "user", "state", "expected", "answer_facts", "max_turns", "fields"}


def task_from(row: Any, env: EnvironmentSpec, where: str) -> Task:
    """A task from one data row; `where` names the file and line in errors."""
    _mapping(row, TASK_KEYS, where, "")
    task_id = row.get("id")
    if not isinstance(task_id, str) or not task_id or len(task_id) > 200:
        raise HarnessError("`id` must be a non-empty string of at most 200 characters", f"{where}: id")
    goal = row.get("goal", "")
    _text(goal, where, "goal")
    state = copy.deepcopy(env.state)
    own = row.get("state") or {}
    _mapping(own, None, where, "state")
    state.update(copy.deepcopy(own))
    _state_size(state, where, "state")
    expected = row.get("expected")
    _mapping(expected, None, where, "expected")
    facts = row.get("answer_facts", [])
    if not isinstance(facts, list) or not all(isinstance(f, str) and f.strip() for f in facts):
        raise HarnessError("`answer_facts` must be a list of non-empty strings", f"{where}: answer_facts")
    extra = row.get("fields") or {}
    _mapping(extra, None, where, "fields")
    return Task(id=task_id, goal=goal, user=_user(row.get("user"), where), state=state, expected=expected,
                answer_facts=tuple(facts), max_turns=_turns(row.get("max_turns", env.max_turns), where, "max_turns"),
                fields=extra)


def _user(data: Any, where: str) -> SimulatedUser:
    _mapping(data, {"opening", "facts", "otherwise", "script"}, where, "user")
    _text(data.get("opening"), where, "user.opening")
    facts = []
    for i, item in enumerate(_list(data.get("facts", []), where, "user.facts")):
        here = f"user.facts[{i}]"
        _mapping(item, {"slot", "asked_by", "answer"}, where, here)
        _name(item.get("slot"), where, f"{here}.slot")
        words = item.get("asked_by")
        if not isinstance(words, list) or not words or not all(isinstance(w, str) and w.strip() for w in words):
            raise HarnessError("`asked_by` must be a non-empty list of words", f"{where}: {here}.asked_by")
        _text(item.get("answer"), where, f"{here}.answer")
        facts.append(Fact(slot=item["slot"], asked_by=tuple(w.strip() for w in words), answer=item["answer"]))
    otherwise = data.get("otherwise")
    if otherwise is not None:
        _text(otherwise, where, "user.otherwise")
    script = _list(data.get("script", []), where, "user.script")
    for i, text in enumerate(script):
        _text(text, where, f"user.script[{i}]")
    return SimulatedUser(opening=data["opening"], facts=tuple(facts), otherwise=otherwise, script=tuple(script))


def state_chars(state: Any) -> int:
    """The state's size as JSON, in characters."""
    return len(json.dumps(state, ensure_ascii=False))


def _state_size(state: dict, source: str, where: str) -> None:
    if state_chars(state) > MAX_STATE_CHARS:
        raise HarnessError(f"the state is over {MAX_STATE_CHARS} characters as JSON", f"{source}: {where}")


def _mapping(value: Any, keys: set[str] | None, source: str, where: str) -> None:
    at = f"{source}: {where}" if where else source
    if not isinstance(value, dict):
        raise HarnessError("expected a mapping", at)
    if keys is not None:
        unknown = set(value) - keys
        if unknown:
            raise HarnessError(f"unknown key(s) {sorted(map(str, unknown))} (expected some of {sorted(keys)})", at)


def _list(value: Any, source: str, where: str) -> list:
    if not isinstance(value, list) or len(value) > MAX_RULES:
        raise HarnessError(f"expected a list of at most {MAX_RULES} items", f"{source}: {where}")
    return value


def _name(value: Any, source: str, where: str) -> None:
    if not isinstance(value, str) or not _NAME.match(value) or value in (INVALID, ERROR):
        raise HarnessError(f"{quoted(value)} is not a name (letters, digits, _ . -; at most 64; not "
                           f"{INVALID!r} or {ERROR!r})", f"{source}: {where}")


def _text(value: Any, source: str, where: str) -> None:
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        raise HarnessError(f"expected a string of at most {MAX_TEXT_CHARS} characters", f"{source}: {where}")


def _turns(value: Any, source: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TURNS:
        raise HarnessError(f"expected an integer from 1 to {MAX_TURNS}", f"{source}: {where}")
    return value
