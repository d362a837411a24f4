"""The `bfcl` data format: BFCL's question and possible-answer files read as they are (JSON lines, joined by
id), scored with the accepted alternatives the possible answers list."""
import json
from pathlib import Path

import pytest
import yaml

from harness.common.errors import HarnessError
from harness.dataquality.report import label_source
from harness.suitedef.suite import SuiteProblems, load_suite

# Examples written in BFCL v3's layout: questions (`id`, `question`, `function`) and possible answers
# (`id`, `ground_truth`), one JSON object per line in files named .json, as BFCL ships them.
AREA = {"name": "calculate_triangle_area", "description": "The area of a triangle from its base and height.",
        "parameters": {"type": "dict", "properties": {
            "base": {"type": "integer", "description": "The base."},
            "height": {"type": "float", "description": "The height."},
            "unit": {"type": "string", "description": "The unit (default 'units')."}},
            "required": ["base", "height"]}}
WEATHER = {"name": "get_weather", "description": "Weather in a city.", "parameters": {
    "type": "dict", "properties": {"city": {"type": "string"}, "days": {"type": "tuple", "items": {"type": "integer"}}},
    "required": ["city"]}}
QUESTIONS = {
    "simple": [{"id": "simple_0", "question": [[{"role": "user", "content": "Area of a triangle, base 10, height 5?"}]],
                "function": [AREA]},
               {"id": "simple_1", "question": [[{"role": "system", "content": "Be exact."},
                                                {"role": "user", "content": "Weather in Oslo?"}]],
                "function": [WEATHER]}],
    "multiple": [{"id": "multiple_0", "question": [[{"role": "user", "content": "Weather in Rome?"}]],
                  "function": [AREA, WEATHER]}],
    "parallel": [{"id": "parallel_0", "question": [[{"role": "user", "content": "Weather in Oslo and in Rome?"}]],
                  "function": [WEATHER]}],
}
ANSWERS = {
    "simple": [{"id": "simple_0", "ground_truth": [{"calculate_triangle_area": {
                   "base": [10], "height": [5, 5.0], "unit": ["units", ""]}}]},
               {"id": "simple_1", "ground_truth": [{"get_weather": {"city": ["Oslo", "Oslo, Norway"], "days": [""]}}]}],
    "multiple": [{"id": "multiple_0", "ground_truth": [{"get_weather": {"city": ["Rome"], "days": [""]}}]}],
    "parallel": [{"id": "parallel_0", "ground_truth": [{"get_weather": {"city": ["Oslo"], "days": [""]}},
                                                       {"get_weather": {"city": ["Rome"], "days": [""]}}]}],
}


def _jsonl(path: Path, rows: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def bfcl_suite(folder: Path, category: str = "simple", questions=None, answers=None, data: dict | None = None) -> Path:
    _jsonl(folder / f"BFCL_v3_{category}.json", questions if questions is not None else QUESTIONS[category])
    _jsonl(folder / "possible_answer" / f"BFCL_v3_{category}.json",
           answers if answers is not None else ANSWERS[category])
    spec = {"name": folder.name, "version": "1",
            "data": {"format": "bfcl", "test": f"BFCL_v3_{category}.json",
                     "answers": f"possible_answer/BFCL_v3_{category}.json"} | (data or {}),
            "metrics": [{"name": "exact_match", "parse": "json"}, "tool_name", "tool_arguments"]}
    (folder / "suite.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return folder


def _scores(suite, output: str, i: int = 0) -> list[float]:
    return [m.score(output, suite.test[i].reference).value for m, _ in suite.metrics.values()]


def test_questions_and_answers_become_examples(tmp_path):
    suite = load_suite(bfcl_suite(tmp_path / "simple"))
    area, weather = suite.test
    assert area.id == "simple_0" and area.messages == QUESTIONS["simple"][0]["question"][0]
    assert weather.messages == QUESTIONS["simple"][1]["question"][0]  # the system message kept
    assert json.loads(area.reference) == ANSWERS["simple"][0]["ground_truth"]
    (tool,) = area.tools
    assert tool["type"] == "function" and tool["function"]["name"] == "calculate_triangle_area"
    params = tool["function"]["parameters"]
    assert (params["type"], params["properties"]["height"]["type"], params["properties"]["base"]["type"]) == (
        "object", "number", "integer")
    assert weather.tools[0]["function"]["parameters"]["properties"]["days"]["type"] == "array"
    assert suite.sources["test"]["answers"][0]["file"] == "possible_answer/BFCL_v3_simple.json"


@pytest.mark.parametrize(("output", "scores"), [
    ('{"name": "calculate_triangle_area", "arguments": {"base": 10, "height": 5}}', [1.0, 1.0, 1.0]),
    ('```json\n{"name": "calculate_triangle_area", "arguments": {"base": 10, "height": 5.0, "unit": "units"}}\n```',
     [1.0, 1.0, 1.0]),
    ('{"name": "calculate_triangle_area", "arguments": {"base": 10, "height": 5, "unit": "cm"}}', [0.0, 1.0, 0.0]),
    ('{"name": "calculate_triangle_area", "arguments": {"base": "10", "height": 5}}', [0.0, 1.0, 0.0]),
    ('{"name": "triangle_area", "arguments": {"base": 10, "height": 5}}', [0.0, 0.0, 1.0]),
])
def test_a_simple_example_accepts_what_its_possible_answer_lists(tmp_path, output, scores):
    suite = load_suite(bfcl_suite(tmp_path / "simple"))
    assert _scores(suite, output) == scores


def test_multiple_and_parallel_categories(tmp_path):
    multiple = load_suite(bfcl_suite(tmp_path / "multiple", "multiple"))
    assert [t["function"]["name"] for t in multiple.test[0].tools] == ["calculate_triangle_area", "get_weather"]
    assert _scores(multiple, '{"name": "get_weather", "arguments": {"city": "Rome"}}') == [1.0, 1.0, 1.0]
    parallel = load_suite(bfcl_suite(tmp_path / "parallel", "parallel"))
    both = ('[{"name": "get_weather", "arguments": {"city": "Rome"}}, '
            '{"name": "get_weather", "arguments": {"city": "Oslo"}}]')
    assert _scores(parallel, both) == [1.0, 1.0, 1.0]
    assert _scores(parallel, '{"name": "get_weather", "arguments": {"city": "Rome"}}') == [0.0, 0.0, 0.0]


def test_the_answers_are_part_of_the_suites_identity(tmp_path):
    folder = bfcl_suite(tmp_path / "simple")
    before = load_suite(folder).content_hash
    answers = [dict(ANSWERS["simple"][0]), ANSWERS["simple"][1]]
    answers[0]["ground_truth"] = [{"calculate_triangle_area": {"base": [10], "height": [5]}}]
    _jsonl(folder / "possible_answer" / "BFCL_v3_simple.json", answers)
    assert load_suite(folder).content_hash != before


def test_bad_bfcl_data_is_one_clear_error(tmp_path):
    missing = bfcl_suite(tmp_path / "missing", answers=ANSWERS["simple"][:1])
    with pytest.raises(HarnessError, match=r"BFCL_v3_simple.json:2: no possible answer has id \"simple_1\""):
        load_suite(missing)
    twice = bfcl_suite(tmp_path / "twice", answers=ANSWERS["simple"] + ANSWERS["simple"][:1])
    with pytest.raises(HarnessError, match=r"possible_answer/BFCL_v3_simple.json:3: id 'simple_0' is answered twice"):
        load_suite(twice)
    turns = [dict(QUESTIONS["simple"][0], question=[[{"role": "user", "content": "a"}],
                                                    [{"role": "user", "content": "b"}]])]
    with pytest.raises(HarnessError, match="has 2 turns: multi-turn BFCL categories are not supported"):
        load_suite(bfcl_suite(tmp_path / "turns", questions=turns, answers=ANSWERS["simple"][:1]))
    plain = [dict(ANSWERS["simple"][0], ground_truth={"name": "calculate_triangle_area", "arguments": {}})]
    with pytest.raises(HarnessError, match="field 'ground_truth' must be BFCL's possible answer"):
        load_suite(bfcl_suite(tmp_path / "plain", questions=QUESTIONS["simple"][:1], answers=plain))
    with pytest.raises(SuiteProblems, match="goes with format bfcl, and bfcl needs it"):
        load_suite(bfcl_suite(tmp_path / "noanswers", data={"answers": None}))
    with pytest.raises(SuiteProblems, match="must be a path inside the suite folder"):
        load_suite(bfcl_suite(tmp_path / "outside", data={"answers": ["../elsewhere.json"]}))
    with pytest.raises(SuiteProblems, match="goes with format bfcl, and bfcl needs it"):
        load_suite(bfcl_suite(tmp_path / "chat", data={"format": "chat"}))


def test_a_bfcl_suite_is_labelled_by_its_functions(tmp_path):
    source, label_of = label_source(load_suite(bfcl_suite(tmp_path / "parallel", "parallel")))
    assert source == "tool name" and label_of is not None
    assert label_of(load_suite(tmp_path / "parallel").test[0]) == "get_weather"
    suite = load_suite(bfcl_suite(tmp_path / "simple"))
    assert [label_source(suite)[1](ex) for ex in suite.test] == ["calculate_triangle_area", "get_weather"]
    mixed = [{"id": "simple_0", "ground_truth": [{"b_fn": {}}, {"a_fn": {}}, {"b_fn": {}}]}, ANSWERS["simple"][1]]
    suite = load_suite(bfcl_suite(tmp_path / "mixed", answers=mixed))
    assert label_source(suite)[1](suite.test[0]) == "a_fn+b_fn"
