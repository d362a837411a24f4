"""Tool-call extraction before the tool metrics, strict JSON types, and BFCL-style accepted alternatives."""
import json

import pytest

from harness.metrics import make_metric
from harness.metrics.toolcalls.compare import expected_calls, pairs_up, same
from harness.metrics.toolcalls.extract import extract
from harness.suitedef.suite import SuiteProblems, load_suite

REF = '{"name":"get_weather","arguments":{"city":"Oslo","days":2,"metric":true}}'
RIGHT = '{"name": "get_weather", "arguments": {"metric": true, "days": 2, "city": "Oslo"}}'


def _scores(output: str, reference: str = REF, **options) -> tuple[float, float, float]:
    metrics = [make_metric("exact_match", "en", {"parse": "json"} | options),
               make_metric("tool_name", "en", options), make_metric("tool_arguments", "en", options)]
    return tuple(m.score(output, reference).value for m in metrics)  # type: ignore[return-value]


@pytest.mark.parametrize("output", [
    RIGHT,
    f"Sure! Here is the call:\n```json\n{RIGHT}\n```\nLet me know if you need more.",
    f"<tool_call>\n{RIGHT}\n</tool_call>",
    f"I think [x] is needed. {RIGHT} and then {{\"name\": \"other\"}}",  # the first object, not a stray bracket
])
def test_the_call_is_found_in_prose_fences_and_tags(output):
    assert _scores(output) == (1.0, 1.0, 1.0)


def test_whole_output_extraction_keeps_the_old_strictness():
    fenced = f"```json\n{RIGHT}\n```"
    assert _scores(fenced, extract="whole") == (0.0, 0.0, 0.0)
    assert _scores(RIGHT, extract="whole") == (1.0, 1.0, 1.0)
    reason = make_metric("tool_arguments", "en", {"extract": "whole"}).score(fenced, REF).reason
    assert reason == "extraction (whole): the output is not valid JSON"


def test_a_failed_extraction_says_so_per_example():
    assert extract("no call here").failure == "extraction (auto): no JSON object in the output"
    assert extract("<tool_call>{oops</tool_call>").failure == "extraction (auto): a <tool_call> block is not valid JSON"
    score = make_metric("exact_match", "en", {"parse": "json"}).score("I cannot help.", REF)
    assert (score.value, score.reason) == (0.0, "extraction (auto): no JSON object in the output")


def test_an_output_that_is_json_as_a_whole_is_taken_as_it_is():
    exact = make_metric("exact_match", "en", {"parse": "json"})
    assert exact.score("[1, 2.0]", "[1,2]").value == 1.0 and exact.score('"yes"', '"yes"').value == 1.0
    assert exact.score("The list: [1, 2]", "[1,2]").value == 0.0  # only objects are looked for inside text
    assert (extract("[1, 2]").how, extract(' {"a": 1} ').how) == ("whole output", "whole output")


def test_extraction_reports_how_and_finds_parallel_calls():
    two = '<tool_call>{"name":"a","arguments":{}}</tool_call>\n<tool_call>{"name":"b","arguments":{}}</tool_call>'
    found = extract(two)
    assert (found.how, [c["name"] for c in found.value]) == ("<tool_call> tags", ["a", "b"])
    assert extract('x [{"name":"a"}, {"name":"b"}] y').value == [{"name": "a"}, {"name": "b"}]
    assert extract('```\n{"a": 1}\n```').how == "first JSON in the output"


def test_the_extraction_is_in_the_signature_and_bad_options_are_refused():
    assert make_metric("tool_name", "en", {}).signature == "extract:auto|types:strict|numbers:by-value"
    assert make_metric("exact_match", "en", {"parse": "json", "extract": "whole"}).signature.startswith(
        "extract:whole|")
    assert make_metric("exact_match", "en", {}).signature is None  # text comparison extracts nothing
    with pytest.raises(ValueError, match="extract must be one of auto, whole"):
        make_metric("tool_name", "en", {"extract": "regex"})
    with pytest.raises(ValueError, match="parse: json only"):
        make_metric("exact_match", "en", {"extract": "auto"})


@pytest.mark.parametrize(("a", "b", "equal"), [
    (True, 1, False), (1, True, False), (False, 0, False), (True, True, True),
    (1.0, 1, True), (100, 1e2, True), (1, 1.5, False),  # numbers by value, whatever the spelling
    ("1", 1, False), (None, 0, False), (None, None, True), ([], {}, False),
    ({"a": [1, True]}, {"a": [1.0, True]}, True), ({"a": [1, True]}, {"a": [1, 1]}, False),
    ([1, 2], [2, 1], False), ({"a": 1}, {"a": 1, "b": None}, False),
])
def test_strict_json_equality(a, b, equal):
    assert same(a, b) is equal and same(b, a) is equal


def test_strict_types_in_the_metrics():
    flag_as_one = '{"name":"get_weather","arguments":{"city":"Oslo","days":2,"metric":1}}'
    days_as_float = '{"name":"get_weather","arguments":{"city":"Oslo","days":2.0,"metric":true}}'
    days_as_text = '{"name":"get_weather","arguments":{"city":"Oslo","days":"2","metric":true}}'
    assert _scores(flag_as_one) == (0.0, 1.0, 0.0)
    assert _scores(days_as_float) == (1.0, 1.0, 1.0)
    assert _scores(days_as_text) == (0.0, 1.0, 0.0)


# BFCL's possible-answer form, as in its possible_answer/*.json files
POSSIBLE = '[{"calculate_area": {"base": [10], "height": [5, 5.0], "unit": ["units", "cm", ""]}}]'


@pytest.mark.parametrize(("arguments", "fits"), [
    ('{"base": 10, "height": 5}', True),  # the optional unit left out
    ('{"base": 10, "height": 5, "unit": "cm"}', True),  # an accepted alternative
    ('{"base": 10, "height": 5, "unit": "units"}', True),
    ('{"base": 10, "height": 5, "unit": "m"}', False),  # not listed
    ('{"base": 10, "unit": "cm"}', False),  # a required argument missing
    ('{"base": 10, "height": 5, "colour": "red"}', False),  # an argument the function does not take
    ('{"base": true, "height": 5}', False),
])
def test_accepted_alternatives_and_optional_arguments(arguments, fits):
    output = f'{{"name": "calculate_area", "arguments": {arguments}}}'
    want = 1.0 if fits else 0.0
    assert _scores(output, POSSIBLE) == (want, 1.0, want)
    wrong_name = f'{{"name": "calculate_volume", "arguments": {arguments}}}'
    assert _scores(wrong_name, POSSIBLE) == (0.0, 0.0, want)


def test_parallel_calls_match_in_any_order():
    possible = '[{"spot": {"city": ["Oslo"]}}, {"spot": {"city": ["Rome", "Roma"]}}]'
    in_order = '[{"name":"spot","arguments":{"city":"Oslo"}},{"name":"spot","arguments":{"city":"Roma"}}]'
    reversed_ = '[{"name":"spot","arguments":{"city":"Rome"}},{"name":"spot","arguments":{"city":"Oslo"}}]'
    twice = '[{"name":"spot","arguments":{"city":"Oslo"}},{"name":"spot","arguments":{"city":"Oslo"}}]'
    one = '{"name":"spot","arguments":{"city":"Oslo"}}'
    assert _scores(in_order, possible) == _scores(reversed_, possible) == (1.0, 1.0, 1.0)
    assert _scores(twice, possible) == (0.0, 1.0, 0.0)  # one call cannot stand for both
    assert _scores(one, possible) == (0.0, 0.0, 0.0)
    assert make_metric("tool_name", "en", {}).score(one, possible).reason == "1 call(s) where the reference has 2"


def test_the_matching_finds_a_pairing_a_greedy_one_misses():
    # call 0 fits both expectations, call 1 only the first: greedy (0→0) would fail; Kuhn's matching finds 0→1, 1→0
    want = expected_calls([{"f": {"x": [1, 2]}}, {"f": {"x": [1]}}])
    assert want is not None
    got = [{"name": "f", "arguments": {"x": 1}}, {"name": "f", "arguments": {"x": 2}}]
    assert pairs_up(got, want, lambda c, w: w.arguments_fit(c["arguments"]))
    assert not pairs_up(got[:1] * 2 + [got[1]], want, lambda c, w: w.arguments_fit(c["arguments"]))


def test_other_call_shapes_are_read_as_calls():
    openai = '{"type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Oslo\\",\\"days\\":2,\\"metric\\":true}"}}'
    llama = '{"name":"get_weather","parameters":{"city":"Oslo","days":2,"metric":true}}'
    assert _scores(openai)[1:] == _scores(llama)[1:] == (1.0, 1.0)
    assert _scores(llama)[0] == 0.0  # exact_match compares the JSON as written


def test_a_reference_that_is_no_call_is_refused_when_the_suite_loads(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    rows = [{"id": "a", "prompt": "Weather?", "completion": REF}, {"id": "b", "prompt": "Hi", "completion": "Hello"},
            {"id": "c", "prompt": "Hm", "completion": '{"tool": "x"}'}]
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    spec = {"name": "s", "version": "1", "data": {"format": "prompt-completion", "test": "test.jsonl"},
            "metrics": ["tool_arguments", {"name": "tool_name", "key": "tool"}]}
    (folder / "suite.yaml").write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(SuiteProblems) as refused:
        load_suite(folder, every_problem=True)
    (problem,) = refused.value.problems
    assert f"{folder / 'test.jsonl'}: examples 'b', 'c': metric 'tool_arguments': the reference is not a tool call" \
        in problem  # `key: tool` compares one key as it is: nothing to refuse
    assert make_metric("tool_name", "en", {}).score(REF, "Hello").reason.startswith("the reference is not a tool call")


def test_extraction_survives_nesting_past_the_recursion_limit_and_can_be_strict():
    deep = "[" * 5000 + '{"name": "a"}' + "]" * 5000
    assert not extract(deep).found and not extract(deep, "whole").found
    assert extract('{"x": NaN}').value["x"] != 0  # the tool metrics read NaN as Python does (and it equals nothing)
    assert not extract('{"x": NaN}', strict=True).found  # the episode loop: not JSON, so not a call
    calls = extract('{"note": 1} then {"name": "b"}', accept=lambda v: isinstance(v, dict) and "name" in v)
    assert calls.value == {"name": "b"} and calls.how == "first JSON in the output"
