"""The environment's tiny language: paths into the state, values, conditions and effects.

Everything is data (YAML/JSON), checked once when the environment loads (`check_*`, errors name the
file and field) and then interpreted with bounded cost (`value`, `holds`, `apply`): no `eval`, no
template engine, no loops. A dict is always an operator with exactly one key (plus the effect's own
keys); a literal is a string, an integer, a boolean or null.

- path: `"menu.{item}.stock"` — keys separated by dots from the state's root; `{name}` is the tool
  argument `name`; a segment of digits indexes a list.
- values: a literal, `{arg: name}`, `{get: path}` (null when absent), `{add|sub|mul: [a, b]}` (integers),
  `{len: value}`, `{object: {key: value, …}}`, `{list: [value, …]}`.
- conditions: `{eq|ne|lt|le|gt|ge: [a, b]}`, `{in: [value, container]}`, `{exists: path}`,
  `{all: [...]}`, `{any: [...]}`, `{not: condition}`.
- effects: `{set: path, value: v}`, `{append: path, value: v}`, `{increment|decrement: path, by: v}`.
"""
from __future__ import annotations

import json
import re
from typing import Any

from harness.common.errors import HarnessError, quoted

INT_LIMIT = 10**12
"""Arithmetic results beyond ±this are refused (ints stay small; no bignum blow-up)."""
MAX_PATH_SEGMENTS = 16
MAX_EXPRESSION_DEPTH = 16

ARITHMETIC = ("add", "sub", "mul")
COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge")
EFFECTS = {"set": ("value",), "append": ("value",), "increment": ("by",), "decrement": ("by",)}
"""Effect operator → the other keys it may carry."""

_SEGMENT = re.compile(r"^(\{[A-Za-z_][A-Za-z0-9_]*\}|[^.{}]+)$")


class Failed(Exception):
    """An expression could not be evaluated on this state (a type mismatch, a missing key): the call fails."""


# --- checking, when the environment loads ------------------------------------------------------------

def check_path(path: Any, params: set[str], where: str) -> None:
    """`path` is a dotted path whose `{name}` segments name tool parameters."""
    if not isinstance(path, str) or not path:
        raise HarnessError("expected a path such as \"menu.{item}.stock\"", where)
    segments = path.split(".")
    if len(segments) > MAX_PATH_SEGMENTS:
        raise HarnessError(f"a path has at most {MAX_PATH_SEGMENTS} segments", where)
    for seg in segments:
        if not _SEGMENT.match(seg):
            raise HarnessError(f"bad path segment {quoted(seg)} in {quoted(path)}: a key, digits or {{argument}}",
                               where)
        if seg.startswith("{") and seg[1:-1] not in params:
            raise HarnessError(f"{quoted(seg)} names no parameter of the tool (has: {sorted(params)})", where)


def check_value(expr: Any, params: set[str], where: str, depth: int = 0) -> None:
    """`expr` is a value expression whose arguments are tool parameters."""
    if depth > MAX_EXPRESSION_DEPTH:
        raise HarnessError(f"nested deeper than {MAX_EXPRESSION_DEPTH} levels", where)
    if expr is None or isinstance(expr, (str, bool, int)):
        return
    if isinstance(expr, float):
        raise HarnessError("numbers are integers here (no floats)", where)
    op, arg = _operator(expr, where)
    inner = f"{where}.{op}"
    if op == "arg":
        if arg not in params:
            raise HarnessError(f"{quoted(arg)} names no parameter of the tool (has: {sorted(params)})", inner)
    elif op == "get":
        check_path(arg, params, inner)
    elif op in ARITHMETIC:
        for i, item in enumerate(_pair(arg, inner)):
            check_value(item, params, f"{inner}[{i}]", depth + 1)
    elif op == "len":
        check_value(arg, params, inner, depth + 1)
    elif op == "object":
        if not isinstance(arg, dict):
            raise HarnessError("expected a mapping of keys to values", inner)
        for key, item in arg.items():
            check_value(item, params, f"{inner}.{key}", depth + 1)
    elif op == "list":
        if not isinstance(arg, list):
            raise HarnessError("expected a list of values", inner)
        for i, item in enumerate(arg):
            check_value(item, params, f"{inner}[{i}]", depth + 1)
    else:
        raise HarnessError(f"unknown value operator {quoted(op)} (arg, get, add, sub, mul, len, object, list)", where)


def check_condition(cond: Any, params: set[str], where: str, depth: int = 0) -> None:
    """`cond` is a condition whose arguments are tool parameters."""
    if depth > MAX_EXPRESSION_DEPTH:
        raise HarnessError(f"nested deeper than {MAX_EXPRESSION_DEPTH} levels", where)
    op, arg = _operator(cond, where)
    inner = f"{where}.{op}"
    if op in COMPARISONS or op == "in":
        for i, item in enumerate(_pair(arg, inner)):
            check_value(item, params, f"{inner}[{i}]", depth + 1)
    elif op == "exists":
        check_path(arg, params, inner)
    elif op in ("all", "any"):
        if not isinstance(arg, list) or not arg:
            raise HarnessError("expected a non-empty list of conditions", inner)
        for i, item in enumerate(arg):
            check_condition(item, params, f"{inner}[{i}]", depth + 1)
    elif op == "not":
        check_condition(arg, params, inner, depth + 1)
    else:
        raise HarnessError(f"unknown condition {quoted(op)} (eq, ne, lt, le, gt, ge, in, exists, all, any, not)",
                           where)


def check_effect(effect: Any, params: set[str], where: str) -> None:
    """`effect` is one state update."""
    if not isinstance(effect, dict):
        raise HarnessError("expected an effect such as {set: PATH, value: VALUE}", where)
    ops = [k for k in effect if k in EFFECTS]
    if len(ops) != 1:
        raise HarnessError(f"an effect has exactly one of {sorted(EFFECTS)}", where)
    op = ops[0]
    extra = set(effect) - {op, *EFFECTS[op]}
    if extra:
        raise HarnessError(f"unknown key(s) {sorted(map(str, extra))} in a {op} effect", where)
    check_path(effect[op], params, f"{where}.{op}")
    if op in ("set", "append") and "value" not in effect:
        raise HarnessError(f"a {op} effect needs a value", where)
    for key in EFFECTS[op]:
        if key in effect:
            check_value(effect[key], params, f"{where}.{key}")


def _operator(expr: Any, where: str) -> tuple[str, Any]:
    if not isinstance(expr, dict) or len(expr) != 1:
        raise HarnessError("expected a literal (string, integer, boolean, null) or an operator with one key "
                           "such as {arg: NAME}", where)
    (op, arg), = expr.items()
    return str(op), arg


def _pair(arg: Any, where: str) -> list:
    if not isinstance(arg, list) or len(arg) != 2:
        raise HarnessError("expected a list of two values", where)
    return arg


# --- evaluation, when a tool is called ------------------------------------------------------------------

def resolve(path: str, args: dict[str, Any]) -> list[str | int]:
    """The path's keys, with `{name}` replaced by the argument and digit segments as list indices."""
    keys: list[str | int] = []
    for seg in path.split("."):
        if seg.startswith("{"):
            key = args.get(seg[1:-1])
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise Failed(f"argument {seg[1:-1]} is not a key")
            keys.append(key)
        else:
            keys.append(int(seg) if seg.isdigit() else seg)
    return keys


def lookup(state: Any, keys: list[str | int]) -> tuple[bool, Any]:
    """(found, value) at `keys` in `state`."""
    node = state
    for key in keys:
        if isinstance(node, dict) and str(key) in node:
            node = node[str(key)]
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            node = node[key]
        else:
            return False, None
    return True, node


def value(expr: Any, state: Any, args: dict[str, Any]) -> Any:
    """The value of a checked expression."""
    if not isinstance(expr, dict):
        return expr
    (op, arg), = expr.items()
    if op == "arg":
        return args.get(arg)
    if op == "get":
        return lookup(state, resolve(arg, args))[1]
    if op in ARITHMETIC:
        a, b = (value(x, state, args) for x in arg)
        if not (_is_int(a) and _is_int(b)):
            raise Failed(f"{op} needs integers")
        out = a + b if op == "add" else a - b if op == "sub" else a * b
        if abs(out) > INT_LIMIT:
            raise Failed(f"{op} is out of range")
        return out
    if op == "len":
        got = value(arg, state, args)
        if not isinstance(got, (str, list, dict)):
            raise Failed("len needs a string, list or object")
        return len(got)
    if op == "object":
        return {key: value(item, state, args) for key, item in arg.items()}
    return [value(item, state, args) for item in arg]  # list


def holds(cond: dict, state: Any, args: dict[str, Any]) -> bool:
    """Whether a checked condition holds."""
    (op, arg), = cond.items()
    if op == "all":
        return all(holds(c, state, args) for c in arg)
    if op == "any":
        return any(holds(c, state, args) for c in arg)
    if op == "not":
        return not holds(arg, state, args)
    if op == "exists":
        return lookup(state, resolve(arg, args))[0]
    a, b = (value(x, state, args) for x in arg)
    if op == "in":
        if isinstance(b, dict):
            return isinstance(a, str) and a in b
        if isinstance(b, list):
            return any(same(a, item) for item in b)
        return False
    if op == "eq":
        return same(a, b)
    if op == "ne":
        return not same(a, b)
    if not (_is_int(a) and _is_int(b) or isinstance(a, str) and isinstance(b, str)):
        return False  # an order between different kinds of value never holds
    return {"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op]


def apply(effect: dict, state: Any, args: dict[str, Any]) -> None:
    """Carry out a checked effect on `state` (in place)."""
    op = next(k for k in effect if k in EFFECTS)
    keys = resolve(effect[op], args)
    found, parent = lookup(state, keys[:-1])
    last = keys[-1]
    if not found or not isinstance(parent, (dict, list)):
        raise Failed(f"{effect[op]} has no parent in the state")
    if isinstance(parent, list) and not (isinstance(last, int) and 0 <= last < len(parent)):
        raise Failed(f"{effect[op]} is not an index of its list")
    key: Any = str(last) if isinstance(parent, dict) else last
    if op == "set":
        parent[key] = value(effect["value"], state, args)
        return
    has, current = lookup(parent, [key])
    if op == "append":
        if not has or not isinstance(current, list):
            raise Failed(f"{effect[op]} is not a list")
        current.append(value(effect["value"], state, args))
        return
    by = value(effect.get("by", 1), state, args)
    if not (has and _is_int(current) and _is_int(by)):
        raise Failed(f"{op} needs an integer at {effect[op]} and an integer step")
    out = current + by if op == "increment" else current - by
    if abs(out) > INT_LIMIT:
        raise Failed(f"{op} is out of range")
    parent[key] = out


def same(a: Any, b: Any) -> bool:
    """Strict equality of JSON values: `true` is not `1`, `1.0` is not `1` (types must agree)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


# --- templates: a tool's result and failure messages ------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]")
MAX_MESSAGE_CHARS = 4000
"""A tool message is cut here (values from the state may be long lists)."""


def check_template(text: Any, names: set[str], where: str) -> None:
    """`text` is a message whose `{name}` placeholders are among `names` (`{{` and `}}` are braces)."""
    if not isinstance(text, str):
        raise HarnessError("expected a message (a string with {name} placeholders)", where)
    for m in _PLACEHOLDER.finditer(text):
        if m.group(0) in ("{", "}"):
            raise HarnessError(f"a lone brace in {quoted(text)}: write {{{{ or }}}} for a literal one", where)
        if m.group(1) is not None and m.group(1) not in names:
            raise HarnessError(f"{{{m.group(1)}}} is neither a parameter nor a value (has: {sorted(names)})", where)


def fill(text: str, values: dict[str, Any]) -> str:
    """A checked template with its placeholders replaced: strings as they are, null as nothing, the rest as JSON."""
    def one(m: re.Match) -> str:
        if m.group(1) is None:
            return m.group(0)[0]
        got = values.get(m.group(1))
        return got if isinstance(got, str) else "" if got is None else json.dumps(got, ensure_ascii=False)

    out = _PLACEHOLDER.sub(one, text)
    return out if len(out) <= MAX_MESSAGE_CHARS else out[:MAX_MESSAGE_CHARS] + "…"
