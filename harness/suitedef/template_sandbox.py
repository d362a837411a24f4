"""A Jinja2 sandbox whose every rendering is bounded in steps, time, output and the size of what it builds.

Jinja's own sandbox keeps templates away from Python internals; it does not stop
`{{ 'x' * 10**9 }}`, `{{ 9**9**9 }}`, nested loops that never end or a string doubled in a loop.
Here every operator, call, filter, loop iteration, `~` and output goes through a check against
`limits.TEMPLATE_*`: a value that would grow past the limit is refused *before* it is built where
its size can be known in advance (repetition, powers, padding widths, joins), and checked right
after otherwise (when it is at most a small multiple of values that were themselves checked).
Data is immutable (no `list.append` loops), `lipsum` and `random` are gone (prompts must be
reproducible), and no template can load another.
"""
from __future__ import annotations

import functools
import inspect
import math
import re
import time
import types
from collections.abc import Collection
from contextvars import ContextVar
from string import Formatter
from typing import Any, Iterable, Iterator

from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import Namespace
from markupsafe import EscapeFormatter, Markup

from harness.common import limits


class TemplateLimit(Exception):
    """A rendering went past one of `limits.TEMPLATE_*`; the message names the limit."""


class _Budget:
    """What one rendering may still spend."""

    def __init__(self) -> None:
        self.steps = limits.TEMPLATE_MAX_STEPS
        self.deadline = time.monotonic() + limits.TEMPLATE_MAX_SECONDS

    def spend(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise TemplateLimit(f"more than the limit of {limits.TEMPLATE_MAX_STEPS:,} steps (loop iterations, "
                                "calls and operations) in one rendering (TEMPLATE_MAX_STEPS)")
        if time.monotonic() > self.deadline:
            raise TemplateLimit(f"rendering took longer than the limit of {limits.TEMPLATE_MAX_SECONDS:g} s "
                                "(TEMPLATE_MAX_SECONDS)")


_budget: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


def start_budget():
    """Give the renderings on this thread a fresh budget; pass the token to `end_budget`."""
    return _budget.set(_Budget())


def end_budget(token) -> None:
    """Drop the budget `start_budget` set."""
    _budget.reset(token)


def _spend() -> None:
    budget = _budget.get()
    if budget is not None:  # None while Jinja folds constants at compile time: sizes are still checked
        budget.spend()


# --- sizes -----------------------------------------------------------------------------------------

def _size(value: Any, limit: int) -> int:
    """About len(str(value)), counted only until it passes `limit`.

    Containers are walked: a short list may hold one long string a thousand times.
    """
    total, stack = 0, [value]
    while stack and total <= limit:
        v = stack.pop()
        if isinstance(v, (str, bytes, bytearray)):
            total += len(v)
        elif isinstance(v, dict):
            total += 2 + 4 * len(v)
            if total <= limit:
                stack.extend(v.keys())
                stack.extend(v.values())
        elif isinstance(v, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(v)
            if total <= limit:
                stack.extend(v)
        elif isinstance(v, Namespace):
            stack.append(v._Namespace__attrs)  # its repr shows them all
        elif isinstance(v, Collection) and not isinstance(v, range):  # dict views and the like print their items
            total += 2 + 2 * len(v)
            if total <= limit:
                stack.extend(v)
        elif isinstance(v, int):
            total += v.bit_length() // 3 + 1
        else:
            total += 8
    return total


def _too_long(what: str) -> TemplateLimit:
    return TemplateLimit(f"{what} would be longer than the limit of {limits.TEMPLATE_MAX_CHARS:,} characters "
                         "(TEMPLATE_MAX_CHARS)")


def _check_chars(n: int, what: str = "a value") -> None:
    if n > limits.TEMPLATE_MAX_CHARS:
        raise _too_long(what)


def check_value(value: Any, what: str = "a value") -> Any:
    """`value` if it is within the limits for what a template may build; TemplateLimit otherwise."""
    if isinstance(value, int) and value.bit_length() > limits.TEMPLATE_MAX_INT_BITS:
        raise _too_big_int()
    _check_chars(_size(value, limits.TEMPLATE_MAX_CHARS), what)
    return value


def _too_big_int() -> TemplateLimit:
    return TemplateLimit(f"an integer larger than the limit of {limits.TEMPLATE_MAX_INT_BITS} bits "
                         "(TEMPLATE_MAX_INT_BITS)")


def _check_width(width: Any) -> None:
    if isinstance(width, int) and width > limits.TEMPLATE_MAX_CHARS:
        raise _too_long("the padded text")


# --- operators ----------------------------------------------------------------------------------------

_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_printf(fmt: str, args: Any) -> None:
    """`fmt % args` stays within the limit: widths and precisions are added up before it is formatted."""
    widths = 0
    for spec in _PRINTF_SPEC.finditer(fmt):
        for part in spec.groups():
            if part == "*":
                raise TemplateLimit("'*' widths in %-formatting are not allowed in templates")
            widths += int(part) if part else 0
    _check_chars(len(fmt) + widths + _size(args, limits.TEMPLATE_MAX_CHARS), "the formatted text")


def _check_binop(operator: str, left: Any, right: Any) -> None:
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "*":
        if ints and left.bit_length() + right.bit_length() > limits.TEMPLATE_MAX_INT_BITS:
            raise _too_big_int()
        seq, times = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(times, int) and times > 0 and isinstance(seq, (str, bytes, list, tuple)) and seq:
            _check_chars(_size(seq, limits.TEMPLATE_MAX_CHARS // times + 1) * times, "the repeated value")
    elif operator == "**" and ints and right > 0 and abs(left) > 1:
        if math.log2(abs(left)) * right > limits.TEMPLATE_MAX_INT_BITS:
            raise _too_big_int()
    elif operator == "%" and isinstance(left, str):
        _check_printf(left, right)


# --- calls of str methods ----------------------------------------------------------------------------

def _check_str_method(text: str, name: str, args: tuple, kwargs: dict) -> tuple:
    """Refuse a str method call whose result would pass the limit; returns the args to call it with."""
    if name in ("ljust", "rjust", "center", "zfill") and args:
        _check_width(args[0])
    elif name == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tabsize, int):
            _check_chars(len(text) + text.count("\t") * tabsize, "the expanded text")
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        _check_replace(text, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count", -1))
    elif name == "join" and args:
        return (_joinable(text, args[0]), *args[1:])
    elif name == "translate" and args and isinstance(args[0], dict):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        _check_chars(len(text) * longest, "the translated text")
    return args


def _check_replace(text: str, old: str, new: str, count: Any) -> None:
    n = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        n = min(n, count)
    _check_chars(len(text) + n * len(new), "the replaced text")


def _joinable(separator: str, iterable: Iterable) -> list:
    """The items of `iterable` as a list, refused as soon as joining them with `separator` would pass the limit."""
    items: list = []
    total = 0
    for item in iterable:
        total += _size(item, limits.TEMPLATE_MAX_CHARS) + (len(separator) if items else 0)
        _check_chars(total, "the joined text")
        items.append(item)
        if len(items) % 1024 == 0:
            _spend()
    return items


# --- filters ---------------------------------------------------------------------------------------------

def _arg(bound: inspect.BoundArguments, name: str, default: Any = None) -> Any:
    return bound.arguments.get(name, default)


_CHECKED_FILTERS = frozenset({"center", "indent", "replace", "join", "format", "slice", "batch", "tojson", "wordwrap",
                              "urlize", "sum"})


def _check_filter_args(name: str, bound: inspect.BoundArguments) -> None:
    """Refuse filter arguments that would make the result pass the limit before the filter builds it."""
    if name == "center":
        _check_width(_arg(bound, "width"))
    elif name == "indent":
        width, text = _arg(bound, "width", 4), str(_arg(bound, "s", ""))
        per_line = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        _check_chars(len(text) + (text.count("\n") + 1) * per_line, "the indented text")
    elif name == "replace":
        text, old, new = (str(_arg(bound, k, "")) for k in ("s", "old", "new"))
        _check_replace(text, old, new, _arg(bound, "count"))
    elif name == "join":
        bound.arguments["value"] = _joinable(str(_arg(bound, "d", "")), _arg(bound, "value", ()))
    elif name == "format":
        _check_printf(str(_arg(bound, "value", "")), (_arg(bound, "args", ()), _arg(bound, "kwargs", {})))
    elif name in ("slice", "batch"):
        count = _arg(bound, "slices" if name == "slice" else "linecount")
        if isinstance(count, int) and count > limits.TEMPLATE_MAX_RANGE:
            raise TemplateLimit(f"{name}({count}) makes more than the limit of {limits.TEMPLATE_MAX_RANGE:,} items "
                                "(TEMPLATE_MAX_RANGE)")
    elif name == "tojson":
        indent = _arg(bound, "indent")
        per_level = len(indent) if isinstance(indent, str) else indent if isinstance(indent, int) else 0
        size = _size(_arg(bound, "value"), limits.TEMPLATE_MAX_CHARS)
        _check_chars(size * (1 + per_level * limits.JSON_MAX_DEPTH) if per_level > 0 else size, "the JSON")
    elif name == "wordwrap":
        text, width = str(_arg(bound, "s", "")), _arg(bound, "width", 79)
        lines = len(text) // max(width, 1) + text.count("\n") + 1 if isinstance(width, int) else 1
        _check_chars(len(text) + lines * len(str(_arg(bound, "wrapstring") or "\n")), "the wrapped text")
    elif name == "urlize":
        text = str(_arg(bound, "value", ""))
        # Each link adds a few dozen characters (checked afterwards); target and rel are repeated in every one.
        extra = sum(len(str(_arg(bound, k) or "")) for k in ("target", "rel"))
        _check_chars(len(text) + (len(text) // 4 + 1) * extra, "the linked text")
    elif name == "sum" and not isinstance(_arg(bound, "start", 0), (int, float)):
        raise TemplateLimit("sum adds numbers only in templates (start must be a number)")


def bounded_filter(name: str, func: Any) -> Any:
    """`func` (the filter `name`) with its arguments, input and result checked against the limits."""
    plain = inspect.unwrap(func)
    signature = inspect.signature(plain)
    # Jinja's sync/async filters take an eval context first that the plain function's signature lacks.
    skip = int(getattr(func, "jinja_pass_arg", None) is not None and getattr(plain, "jinja_pass_arg", None) is None)

    first = int(getattr(func, "jinja_pass_arg", None) is not None)  # Jinja's context/environment argument

    @functools.wraps(func)  # keeps Jinja's pass_context/pass_environment marks
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _spend()
        for value in (*args[first:], *kwargs.values()):  # a literal [b, b, …] may print far past the limit
            check_value(value, f"the input of |{name}")
        if name in _CHECKED_FILTERS:
            bound = signature.bind(*args[skip:], **kwargs)
            _check_filter_args(name, bound)
            args, kwargs = (*args[:skip], *bound.args), bound.kwargs
        return check_value(func(*args, **kwargs), f"the result of |{name}")

    return bounded


# --- str.format ------------------------------------------------------------------------------------

class _BoundedFormatter(SandboxedFormatter):
    """str.format in the sandbox, adding up what each field writes before it is written."""

    def vformat(self, format_string, args, kwargs):
        self._written = len(format_string)
        return super().vformat(format_string, args, kwargs)

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        # {!r}, {!s} and {!a} build the text before format_field sees it; ascii() writes up to 10 per character.
        if conversion:
            _check_chars(_size(value, limits.TEMPLATE_MAX_CHARS) * (10 if conversion == "a" else 1),
                         "the formatted text")
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        widths = sum(int(n) for n in re.findall(r"\d+", format_spec))
        self._written += widths + _size(value, limits.TEMPLATE_MAX_CHARS)
        _check_chars(self._written, "the formatted text")
        return super().format_field(value, format_spec)


class _BoundedEscapeFormatter(_BoundedFormatter, EscapeFormatter):
    pass


# --- the environment ----------------------------------------------------------------------------------

class _BoundedCodeGenerator(CodeGenerator):
    """Compiles `a ~ b` to a join that checks the operands' sizes before turning them into text."""

    def visit_Concat(self, node: nodes.Concat, frame) -> None:
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        else:
            join = "markup_join" if frame.eval_ctx.autoescape else "str_join"
        self.write(f"environment.bounded_concat({join}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


def _range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > limits.TEMPLATE_MAX_RANGE:
        raise TemplateLimit(f"range of {len(numbers):,} items is over the limit of {limits.TEMPLATE_MAX_RANGE:,} "
                            "(TEMPLATE_MAX_RANGE)")
    return numbers


def _join_output(parts: Iterable[str]) -> str:
    """The text of a macro, call block, `{% set %}` block or filter block, refused past the output limit."""
    parts = list(parts)
    _check_chars(sum(map(len, parts)), "the text of a block or macro")
    return "".join(parts)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox prompt templates render in (see the module's docstring)."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    code_generator_class = _BoundedCodeGenerator
    concat = staticmethod(_join_output)

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False,
                         finalize=lambda value: check_value(value, "an output"))
        self.globals["range"] = _range
        del self.globals["lipsum"]  # random text: a prompt must be the same every time
        self.filters = {name: bounded_filter(name, f) for name, f in self.filters.items() if name != "random"}

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        """Operators, refused before they build a value past the limits."""
        _spend()
        _check_binop(operator, left, right)
        return check_value(super().call_binop(context, operator, left, right))

    def call(__self, __context, __obj, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (Jinja's own signature)
        """Calls from templates (methods, macros, globals), each a step and bounded."""
        _spend()
        owner = getattr(__obj, "__self__", None)
        if isinstance(__obj, types.BuiltinMethodType) and isinstance(owner, str):
            args = _check_str_method(owner, __obj.__name__, args, kwargs)
        return check_value(super().call(__context, __obj, *args, **kwargs), "the result of a call")

    def bounded_iter(self, iterable: Iterable) -> Iterator:
        """What a `{% for %}` loop iterates: each item is a step."""
        for item in iterable:
            _spend()
            yield item

    def bounded_concat(self, join, operands: tuple) -> str:
        """`a ~ b ~ …`, refused when the operands' text would pass the limit."""
        _check_chars(sum(_size(v, limits.TEMPLATE_MAX_CHARS) for v in operands), "the joined text")
        return check_value(join(operands))

    def wrap_str_format(self, value: Any):
        """str.format / format_map with the bounded formatter (Jinja's own, with the formatter swapped)."""
        if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) or \
                value.__name__ not in ("format", "format_map"):
            return None
        text = value.__self__
        if not isinstance(text, str):
            return None
        formatter: Formatter = (_BoundedEscapeFormatter(self, escape=text.escape) if isinstance(text, Markup)
                                else _BoundedFormatter(self))
        is_format_map = value.__name__ == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if not is_format_map:
                return type(text)(formatter.vformat(text, args, kwargs))
            if kwargs or len(args) != 1:
                raise TypeError("format_map() takes exactly one argument")
            return type(text)(formatter.vformat(text, (), args[0]))

        return functools.update_wrapper(wrapper, value)
