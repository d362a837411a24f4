"""Prompt templates: Jinja2 in its sandbox, with undefined variables as errors.

Suite authors and data files are not trusted code: the sandbox stops a template from reaching
Python internals, and StrictUndefined turns a misspelt field into an error instead of "".
"""
from __future__ import annotations

from functools import lru_cache

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from .errors import HarnessError

_env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


@lru_cache(maxsize=64)
def compile_template(source: str, where: str) -> jinja2.Template:
    """Compile a suite's Jinja2 template in the sandbox; a syntax error names the line."""
    try:
        return _env.from_string(source)
    except jinja2.TemplateSyntaxError as e:
        raise HarnessError(f"template line {e.lineno}: {e.message}", where) from None


def render(template: jinja2.Template, variables: dict, where: str) -> str:
    """Render a template with an example's fields; any failure is one line naming the example."""
    try:
        return template.render(**variables)
    except jinja2.UndefinedError as e:
        fields = ", ".join(sorted(variables)) or "none"
        raise HarnessError(f"template: {e.message} (fields here: {fields})", where) from None
    except jinja2.exceptions.SecurityError as e:
        raise HarnessError(f"template: not allowed in the sandbox: {e}", where) from None
    except jinja2.TemplateError as e:
        raise HarnessError(f"template: {e}", where) from None
