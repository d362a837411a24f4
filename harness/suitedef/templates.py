"""Prompt templates: Jinja2 in a bounded sandbox, with undefined variables as errors.

Suite authors and data files are not trusted code: the sandbox (`harness.template_sandbox`) stops a
template from reaching Python internals, from loading other templates and from spending more
than `limits.TEMPLATE_*` on one example; StrictUndefined turns a misspelt field into an error
instead of "". Every failure is one HarnessError line naming the suite file and the example.
"""
from __future__ import annotations

import sys
from functools import lru_cache

import jinja2
from jinja2 import nodes

from harness.common import limits
from harness.common.errors import HarnessError

from .template_sandbox import BoundedSandbox, TemplateLimit, end_budget, start_budget

_env = BoundedSandbox()
_LOADING = {nodes.Extends: "extends", nodes.Include: "include", nodes.Import: "import",
            nodes.FromImport: "from … import"}


@lru_cache(maxsize=64)
def compile_template(source: str, where: str) -> jinja2.Template:
    """The template in `source` (from the suite file `where`), ready for `render`."""
    try:
        tree = _env.parse(source)
        for node in tree.find_all(tuple(_LOADING)):
            raise HarnessError(f"template line {node.lineno}: {{% {_LOADING[type(node)]} %}} is not available: "
                               "a suite's template is one self-contained text", where)
        for loop in tree.find_all(nodes.For):  # each iteration of every loop is a step of the budget
            loop.iter = nodes.Call(nodes.EnvironmentAttribute("bounded_iter"), [loop.iter], [], None, None,
                                   lineno=loop.lineno)
        template = _env.from_string(tree)
    except jinja2.TemplateSyntaxError as e:
        raise HarnessError(f"template line {e.lineno}: {e.message}", where) from None
    except (RecursionError, MemoryError):
        raise HarnessError("nested too deeply to compile", where) from None
    except ValueError as e:
        if "integer string conversion" in str(e):
            digits = sys.get_int_max_str_digits()
            raise HarnessError(f"an integer literal with more than {digits} digits", where) from None
        raise HarnessError(f"cannot compile: {_one_line(e)}", where) from None
    except (SyntaxError, OverflowError) as e:
        raise HarnessError(f"cannot compile: {_one_line(e)}", where) from None
    template.harness_origin = where  # type: ignore[attr-defined]
    return template


def render(template: jinja2.Template, variables: dict, where: str) -> str:
    """The template rendered with `variables`, within the limits; `where` names the example."""
    origin = getattr(template, "harness_origin", "template")
    token = start_budget()
    try:
        parts, length = [], 0
        for chunk in template.generate(**variables):
            length += len(chunk)
            if length > limits.TEMPLATE_MAX_CHARS:
                raise TemplateLimit(f"output is longer than the limit of {limits.TEMPLATE_MAX_CHARS:,} characters "
                                    "(TEMPLATE_MAX_CHARS)")
            parts.append(chunk)
        return "".join(parts)
    except TemplateLimit as e:
        problem = str(e)
    except jinja2.UndefinedError as e:
        problem = f"{e.message} (fields here: {', '.join(sorted(variables)) or 'none'})"
    except jinja2.exceptions.SecurityError as e:
        problem = f"not allowed in the sandbox: {_one_line(e)}"
    except jinja2.TemplateError as e:
        problem = _one_line(e)
    except RecursionError:
        problem = (f"calls nested deeper than Python's limit of {sys.getrecursionlimit()} "
                   "(a macro that calls itself without end?)")
    except MemoryError:
        problem = "ran out of memory"
    except OverflowError:
        problem = "a number too large to compute"
    except Exception as e:  # whatever else the template's own expressions raise (1/0, int('x'), …)
        problem = f"{type(e).__name__}: {_one_line(e)}"
    finally:
        end_budget(token)
    raise HarnessError(f"{origin}: {problem}", where) from None


def _one_line(error: BaseException, keep: int = 200) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= keep else text[:keep] + "…"
