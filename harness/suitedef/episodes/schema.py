"""Tool parameters as JSON Schema: the subset an environment may use, checked when it loads, and the check
of a call's arguments against it.

Supported keywords: `type` (object, string, integer, number, boolean, array, null), `properties`, `required`,
`additionalProperties` (false only: an argument the tool does not declare is always invalid), `items`, `enum`,
`minimum`, `maximum`, `minLength`, `maxLength`, `description` and `title`. Anything else is refused at load
rather than silently ignored. Types are strict: `true` is
not an integer, `1.0` is a number but not an integer.
"""
from __future__ import annotations

from typing import Any

from harness.common.errors import HarnessError, quoted

TYPES = ("object", "string", "integer", "number", "boolean", "array", "null")
KEYWORDS = {"type", "properties", "required", "additionalProperties", "items", "enum", "minimum", "maximum",
            "minLength", "maxLength", "description", "title"}
MAX_DEPTH = 8


def check_schema(schema: Any, where: str, depth: int = 0) -> None:
    """`schema` uses only the supported subset, consistently."""
    if not isinstance(schema, dict):
        raise HarnessError("expected a JSON schema (a mapping)", where)
    if depth > MAX_DEPTH:
        raise HarnessError(f"a schema nests at most {MAX_DEPTH} levels", where)
    unknown = set(schema) - KEYWORDS
    if unknown:
        raise HarnessError(f"unsupported schema keyword(s) {sorted(map(str, unknown))} (supported: "
                           f"{sorted(KEYWORDS)})", where)
    kind = schema.get("type")
    if kind not in TYPES:
        raise HarnessError(f"`type` must be one of {list(TYPES)}, not {quoted(kind)}", where)
    if schema.get("additionalProperties", False) is not False:
        raise HarnessError("`additionalProperties` may only be false", where)
    props = schema.get("properties", {})
    if not isinstance(props, dict):
        raise HarnessError("`properties` must map names to schemas", where)
    for name, sub in props.items():
        check_schema(sub, f"{where}.properties.{name}", depth + 1)
    required = schema.get("required", [])
    if not isinstance(required, list) or any(r not in props for r in required):
        raise HarnessError("`required` must list names among `properties`", where)
    if "items" in schema:
        check_schema(schema["items"], f"{where}.items", depth + 1)
    if "enum" in schema and (not isinstance(schema["enum"], list) or not schema["enum"]):
        raise HarnessError("`enum` must be a non-empty list", where)
    for bound in ("minimum", "maximum", "minLength", "maxLength"):
        if bound in schema and not _is_number(schema[bound]):
            raise HarnessError(f"`{bound}` must be a number", where)


def problems(arguments: Any, schema: dict, where: str = "arguments") -> list[str]:
    """Why `arguments` does not meet `schema` (empty: it does)."""
    kind = schema["type"]
    if not _has_type(arguments, kind):
        return [f"{where} is not of type {kind}"]
    out: list[str] = []
    if "enum" in schema and not any(_strict_equal(arguments, option) for option in schema["enum"]):
        out.append(f"{where} is not one of {schema['enum']}")
    if _is_number(arguments):
        if "minimum" in schema and arguments < schema["minimum"]:
            out.append(f"{where} is below {schema['minimum']}")
        if "maximum" in schema and arguments > schema["maximum"]:
            out.append(f"{where} is above {schema['maximum']}")
    if isinstance(arguments, str):
        if len(arguments) < schema.get("minLength", 0):
            out.append(f"{where} is shorter than {schema['minLength']}")
        if "maxLength" in schema and len(arguments) > schema["maxLength"]:
            out.append(f"{where} is longer than {schema['maxLength']}")
    if isinstance(arguments, list) and "items" in schema:
        for i, item in enumerate(arguments):
            out += problems(item, schema["items"], f"{where}[{i}]")
    if isinstance(arguments, dict):
        props = schema.get("properties", {})
        out += [f"{where}.{name} is missing" for name in schema.get("required", []) if name not in arguments]
        for name, item in arguments.items():
            if name in props:
                out += problems(item, props[name], f"{where}.{name}")
            else:  # stricter than JSON Schema's default: a name the tool does not declare is a mistake
                out.append(f"{where}.{name} is not a parameter")
    return out


def _has_type(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return _is_number(value)
    return isinstance(value, {"object": dict, "string": str, "boolean": bool, "array": list,
                              "null": type(None)}[kind])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _strict_equal(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b
