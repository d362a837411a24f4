"""Prompt templates against hostile suites: each abuse is one fast line naming the file and the limit."""
from __future__ import annotations

import time
import tracemalloc

import jinja2
import pytest

from harness.common import limits
from harness.common.errors import HarnessError
from harness.suitedef.suite import load_suite
from harness.suitedef.templates import compile_template, render

from .test_suite import ROWS, basic_spec, write_suite

ORIGIN = "suites/s/suite.yaml: template"
FIELDS = {"prompt": "p" * 1000, "items": ["a", "b", "c"], "n": 3}

CHARS = "(TEMPLATE_MAX_CHARS)"
TOO_LONG = f"would be longer than the limit of 2,000,000 characters {CHARS}"
DEEP = "calls nested deeper than Python's limit"
DOUBLE = "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s OP ns.s %}{% endfor %}"
STEPS = "more than the limit of 100,000 steps (loop iterations, calls and operations) in one rendering"

HOSTILE = {
    "string repetition": ("{{ 'x' * 10**9 }}", f"the repeated value {TOO_LONG}"),
    "list repetition": ("{{ [prompt] * 100000 }}", "the repeated value would be longer"),
    "huge power": ("{{ 9**(9**9) }}", "an integer larger than the limit of 4096 bits (TEMPLATE_MAX_INT_BITS)"),
    "huge product": ("{{ 10**1000 * 10**1000 * 10**1000 * 10**1000 * 10**1000 }}", "(TEMPLATE_MAX_INT_BITS)"),
    "float power": ("{{ 9.0**(9**9) }}", "a number too large to compute"),
    "huge range": ("{% for i in range(10**9) %}{% endfor %}",
                   "range of 1,000,000,000 items is over the limit of 10,000 (TEMPLATE_MAX_RANGE)"),
    "nested loops": ("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}", STEPS),
    "loop over a long string": ("{% for c in prompt * 1000 %}{% endfor %}", STEPS),
    "lipsum": ("{{ lipsum(n=10**9) }}", "'lipsum' is undefined"),
    "endless recursion": ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", DEEP),
    "recursive loop": ("{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", DEEP),
    "exponential macro": ("{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(60) }}",
                          STEPS),
    "doubling with ~": (DOUBLE.replace("OP", "~"), f"the joined text {TOO_LONG}"),
    "doubling with +": (DOUBLE.replace("OP", "+"), f"a value {TOO_LONG}"),
    "output": ("{% for i in range(10000) %}{{ prompt }}{% endfor %}",
               f"output is longer than the limit of 2,000,000 characters {CHARS}"),
    "macro output": ("{% macro m() %}{% for i in range(10000) %}{{ prompt }}{% endfor %}{% endmacro %}{{ m()|length }}",
                     "the text of a block or macro would be longer"),
    "set block": ("{% set s %}{% for i in range(10000) %}{{ prompt }}{% endfor %}{% endset %}{{ s|length }}",
                  "the text of a block or macro would be longer"),
    "printed list of a long string": ("{% set b = prompt * 1000 %}{{ [b, b, b] }}", "an output would be longer"),
    "ljust": ("{{ 'x'.ljust(10**9) }}", "the padded text would be longer"),
    "center filter": ("{{ 'x'|center(10**9) }}", "the padded text would be longer"),
    "indent filter": ("{{ ((prompt ~ '\n') * 1000)|indent(10**6) }}", CHARS),
    "printf width": ("{{ '%999999999s' % 'x' }}", "the formatted text would be longer"),
    "printf star": ("{{ '%*s' % (10**9, 'x') }}", "'*' widths in %-formatting are not allowed"),
    "format filter": ("{{ '%999999999d'|format(1) }}", "the formatted text would be longer"),
    "str.format width": ("{{ '{:>999999999}'.format('x') }}", "the formatted text would be longer"),
    "str.format nested width": ("{{ '{:{}}'.format('x', 10**9) }}", "the formatted text would be longer"),
    "replace": ("{{ (prompt * 1000).replace('p', prompt) }}", "the replaced text would be longer"),
    "join filter": ("{{ range(10000)|join(prompt) }}", "the joined text would be longer"),
    "join of a generator": ("{{ range(10000)|map('center', 100000)|join }}", "the joined text would be longer"),
    "tojson indent": ("{{ items|tojson(indent=10**6) }}", "the JSON would be longer"),
    "batch padding": ("{{ items|batch(10**9, 'x')|list }}", "(TEMPLATE_MAX_RANGE)"),
    "slice count": ("{{ items|slice(10**9)|list }}", "(TEMPLATE_MAX_RANGE)"),
    "quadratic sum": ("{{ range(10000)|batch(1)|sum(start=[]) }}", "sum adds numbers only"),
    "expandtabs": ("{{ '\t'.expandtabs(10**9) }}", "the expanded text would be longer"),
    "translate": ("{{ (prompt * 100).translate({112: prompt}) }}", "the translated text would be longer"),
    "printed dict view": ("{% set b = prompt * 1000 %}{{ {'a': b, 'b': b, 'c': b}.items() }}",
                          "the result of a call would be"),
    "string filter on many references": ("{% set b = prompt * 1000 %}{{ [b, b, b, b, b, b, b, b, b, b]|string }}",
                                         "the input of |string would be longer"),
    "repr in str.format": ("{% set b = prompt * 1000 %}{{ '{!r}'.format([b, b, b, b, b, b, b, b, b, b]) }}",
                           "the formatted text would be longer"),
    "fromkeys": ("{{ {}.fromkeys(range(10000), prompt) }}", "the result of a call would be longer"),
    "mutation": ("{{ items.append(1) }}", "not allowed in the sandbox"),
    "python internals": ("{{ ''.__class__.__mro__ }}", "not allowed in the sandbox"),
    "division by zero": ("{{ 1 / 0 }}", "ZeroDivisionError: division by zero"),
}


def template_error(source: str) -> str:
    with pytest.raises(HarnessError) as error:
        render(compile_template(source, ORIGIN), dict(FIELDS), "suites/s/test.jsonl:7")
    return str(error.value)


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_templates_are_one_fast_line_in_bounded_memory(case, monkeypatch):
    # The step budget, not the clock, must stop these (about 0.3 s here), however busy the machine is.
    monkeypatch.setattr(limits, "TEMPLATE_MAX_SECONDS", 60)
    source, message = HOSTILE[case]
    started = time.monotonic()
    text = template_error(source)
    assert time.monotonic() - started < 5
    assert text.startswith(f"suites/s/test.jsonl:7: {ORIGIN}: ") and message in text
    assert "\n" not in text and len(text) < 300
    tracemalloc.start()  # again, measuring memory (which slows Python down several times)
    template_error(source)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 64 * limits.MIB


@pytest.mark.parametrize("source, message", [
    ("{% include 'other.j2' %}", "template line 1: {% include %} is not available"),
    ("{% extends 'base.j2' %}", "template line 1: {% extends %} is not available"),
    ("a\n{% import 'm.j2' as m %}", "template line 2: {% import %} is not available"),
    ("{% from 'm.j2' import x %}", "template line 1: {% from … import %} is not available"),
    ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "nested too deeply to compile"),
    ("{{ 1" + "0" * 5000 + " }}", "an integer literal with more than 4300 digits"),
    ("{{ items|random }}", "template line 1: No filter named 'random'."),
])
def test_templates_that_cannot_compile(source, message):
    with pytest.raises(HarnessError) as error:
        compile_template(source, ORIGIN)
    assert str(error.value).startswith(f"{ORIGIN}: {message}") and "\n" not in str(error.value)


def test_the_time_limit_stops_slow_renderings(monkeypatch):
    monkeypatch.setattr(limits, "TEMPLATE_MAX_SECONDS", 0.05)
    monkeypatch.setattr(limits, "TEMPLATE_MAX_STEPS", 10**9)
    started = time.monotonic()
    text = template_error("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}")
    assert "rendering took longer than the limit of 0.05 s (TEMPLATE_MAX_SECONDS)" in text
    assert time.monotonic() - started < 3


def test_every_rendering_gets_a_fresh_budget(monkeypatch):
    monkeypatch.setattr(limits, "TEMPLATE_MAX_STEPS", 50)
    template = compile_template("{% for i in range(40) %}.{% endfor %}", ORIGIN)
    for _ in range(5):
        assert render(template, {}, "t:1") == "." * 40
    assert STEPS.replace("100,000", "50") in template_error("{% for i in range(60) %}.{% endfor %}")


# Ordinary templates render exactly as Jinja renders them outside the sandbox.
ORDINARY = [
    "Say: {{ prompt[:10] }}",
    "{% for x in items %}{{ loop.index }}. {{ x|upper }}{% if not loop.last %}\n{% endif %}{% endfor %}",
    "{{ items|join(', ') }} / {{ items|length }} / {{ n * 2 }} / {{ 2 ** 10 }} / {{ n ~ '!' }}",
    "{{ '%05.1f|%s'|format(3.14159, 'x') }} {{ '{:>6}|{}'.format('ab', n) }} {{ '%d items' % n }}",
    "{{ items|map('upper')|list }} {{ range(3)|sum }} {{ {'b': 1, 'a': [1, 2]}|tojson(indent=2) }}",
    "{% macro li(x) %}<{{ x }}>{% endmacro %}{% for x in items %}{{ li(x) }}{% endfor %}{{ 'x'|center(7) }}",
    "{% set ns = namespace(t=0) %}{% for i in range(100) %}{% set ns.t = ns.t + i %}{% endfor %}{{ ns.t }}",
    "{{ ('a b c ' * 3)|wordwrap(6) }}|{{ 'x\ny'|indent(2, true) }}|{{ prompt|truncate(12) }}|{{ items|batch(2)|list }}",
]


@pytest.mark.parametrize("source", ORDINARY)
def test_ordinary_templates_render_as_plain_jinja_does(source):
    plain = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(source).render(**FIELDS)
    assert render(compile_template(source, ORIGIN), dict(FIELDS), "t:1") == plain


def test_a_suite_with_a_hostile_template_fails_at_load_naming_both_files(tmp_path):
    folder = write_suite(tmp_path, basic_spec(template="{{ prompt * 10**9 }}"), ROWS, ROWS)
    with pytest.raises(HarnessError) as error:
        load_suite(folder)
    assert str(error.value).startswith(f"{folder / 'test.jsonl'}:1: {folder / 'suite.yaml'}: template: ")
    assert "(TEMPLATE_MAX_CHARS)" in str(error.value)
