"""Judge metrics below the run: declaring them, parsing answers, the endpoint client (against a local server
the test controls), caching and cost, pairwise position swaps and repeated samples."""
from __future__ import annotations

import json
import statistics
from dataclasses import replace

import pytest

from harness.cache import Cache
from harness.common.errors import HarnessError
from harness.judging import Asker, Endpoint, EndpointJudge, LocalJudge, parse_pairwise, parse_pointwise
from harness.judging.endpoint import BACKOFF_FIRST_S, RETRY_AFTER_MAX_S
from harness.judging.verdicts import example_scores, judge_rows, repeatability
from harness.metrics import from_info
from harness.metrics.judge import EndpointSpec
from harness.record import Prediction
from harness.run import RunRequest, plan
from harness.suitedef.suite import SuiteProblems, load_suite

from .conftest import cut_suite
from .judge_server import JudgeServer, Reply, deterministic, expected_score

# --- parsing ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer, score", [
    ("Score: 4\nReason: Mostly right.", 4.0),
    ("  score:1\r\nREASON:   Invented the number.  \n", 1.0),
])
def test_a_well_formed_pointwise_answer_parses(answer, score):
    assert parse_pointwise(answer)[0] == score
    assert parse_pointwise(answer)[1] in {"Mostly right.", "Invented the number."}


@pytest.mark.parametrize("answer, got", [
    ("Score: 4.5\nReason: between", "Score: 4.5"),
    ("Score: 6\nReason: off the scale", "Score: 6"),
    ("I think it deserves a 4.\nScore: 4\nReason: fine", "I think"),
    ("Score: 4", "Score: 4"),
    ("Score: 4\nReason: ok\nExtra line", "Score: 4"),
    ("", "an empty answer"),
])
def test_anything_else_is_unparsable_with_a_reason_that_shows_it(answer, got):
    score, reason = parse_pointwise(answer)
    assert score is None
    assert reason.startswith("unparsable judge answer: expected 'Score: <1-5>'") and got in reason


def test_pairwise_answers_parse_to_a_winner_or_a_reason():
    assert parse_pairwise("Winner: b\nReason: clearer.") == ("B", "clearer.")
    assert parse_pairwise("Winner: TIE\nReason: same.") == ("tie", "same.")
    winner, reason = parse_pairwise("Winner: both\nReason: x")
    assert winner is None and "'Winner: <A, B or tie>'" in reason


# --- declaring a judge metric -------------------------------------------------------------------------------

def _suite(tmp_path, *metrics, **changes):
    return cut_suite("summarize_en", tmp_path / "summarize_en", 10, 3, metrics=["rouge_l", *metrics], **changes)


def test_a_judge_metric_is_declared_with_a_judge_block(tmp_path):
    folder = _suite(tmp_path, {"name": "judged", "judge": {"model": "tiny", "criteria": ["coverage"]}})
    metric, info = load_suite(folder).metrics["judged"]
    assert (info.kind, info.scale, info.lowest, info.source) == ("mean", 5.0, 1.0, "judge")
    assert metric.deferred and [c.name for c in metric.criteria] == ["coverage"]
    assert metric.signature.startswith("judge:pointwise|by:tiny|template:pointwise@")
    assert "decoding:greedy" in metric.signature
    again = from_info(info, "en", folder)  # what comparing against a baseline run rebuilds from the record
    assert (again.kind, again.scale, again.lowest, again.deferred) == ("mean", 5.0, 1.0, True)


def test_the_command_line_names_judge_metrics(tmp_path, capsys):
    from harness.cli import main

    folder = _suite(tmp_path, {"name": "judged", "judge": {"model": "tiny", "criteria": ["coverage"]}},
                    {"name": "paired", "judge": {"mode": "pairwise", "endpoint": {
                        "base_url": "http://127.0.0.1:9/v1", "model": "m"}}})
    assert main(["suites", "validate", str(folder)]) == 0
    assert capsys.readouterr().out.rstrip().endswith(
        "; judge metrics: judged (pointwise by tiny), paired (pairwise by m at an endpoint)")
    assert main(["metrics"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "judge pointwise mean 1–5, higher is better" in out and "judge pairwise mean 0–1, higher is better" in out
    assert "`judge:` keys: mode, model, endpoint, criteria, template, reference, samples," in out


def test_the_template_version_follows_the_templates_text(tmp_path):
    folder = _suite(tmp_path, {"name": "judged", "judge": {"model": "tiny", "template": "judge.jinja"}})
    (folder / "judge.jinja").write_text("Grade {{ output }} for {{ criterion.name }}. Score: N / Reason: …")
    first = load_suite(folder).metrics["judged"][0].template_version
    (folder / "judge.jinja").write_text("Grade {{ output }} strictly for {{ criterion.name }}.")
    second = load_suite(folder).metrics["judged"][0].template_version
    assert first != second and first.startswith("judge.jinja@")


@pytest.mark.parametrize("judge, expected", [
    ({"model": "tiny", "criteria": ["charm"]}, "judge criterion 'charm' is not in the suite's rubric"),
    ({"model": "tiny", "endpoint": {"base_url": "http://127.0.0.1:1/v1", "model": "m"}}, "exactly one of `model`"),
    ({"model": "tiny", "template": "../outside.jinja"}, "must be a path inside the suite folder"),
    ({"model": "tiny", "template": "missing.jinja"}, "no such file in the suite folder"),
    ({"model": "tiny", "samples": 0}, "samples"),
    ({"endpoint": {"base_url": "file:///etc/passwd", "model": "m"}}, "base_url"),
    ({"endpoint": {"base_url": "http://127.0.0.1:1/v1", "model": "m", "api_key_env": "A KEY"}}, "api_key_env"),
])
def test_a_bad_judge_block_is_one_line_naming_the_metric(tmp_path, judge, expected):
    folder = _suite(tmp_path, {"name": "judged", "judge": judge})
    with pytest.raises(SuiteProblems) as e:
        load_suite(folder, every_problem=True)
    assert expected in str(e.value) and "metrics" in str(e.value)


def test_a_judge_template_that_does_not_compile_is_named(tmp_path):
    folder = _suite(tmp_path, {"name": "judged", "judge": {"model": "tiny", "template": "judge.jinja"}})
    (folder / "judge.jinja").write_text("{% for x in %}")
    with pytest.raises((SuiteProblems, HarnessError)) as e:
        load_suite(folder)
    assert "metrics.1.judge.template" in str(e.value)


def test_a_judge_template_with_a_misspelt_variable_fails_when_the_suite_loads(tmp_path):
    folder = _suite(tmp_path, {"name": "judged", "judge": {"model": "tiny", "template": "judge.jinja"}})
    (folder / "judge.jinja").write_text("Grade {{ outptu }}.")
    with pytest.raises((SuiteProblems, HarnessError)) as e:
        load_suite(folder)
    assert "metrics.1.judge.template" in str(e.value) and "'outptu' is undefined" in str(e.value)


def test_options_beside_the_judge_block_are_refused(tmp_path):
    folder = _suite(tmp_path, {"name": "judged", "judge": {"model": "tiny"}, "samples": 3})
    with pytest.raises(SuiteProblems) as e:
        load_suite(folder)
    assert "options go inside `judge:`" in str(e.value)


# --- the endpoint client ------------------------------------------------------------------------------------

GREEDY = {"greedy": True, "max_new_tokens": 32}


def _endpoint(server, waits=None, **settings) -> Endpoint:
    spec = EndpointSpec(base_url=server.base_url, model="judge-model", **settings)
    return Endpoint(spec, sleep=(waits.append if waits is not None else lambda s: None))


def test_a_429_is_retried_after_the_wait_it_asks_for():
    calls = []

    def answer(prompt, body):
        calls.append(1)
        return Reply(429, headers={"Retry-After": "7"}) if len(calls) == 1 else "Score: 3\nReason: ok."

    waits: list[float] = []
    with JudgeServer(answer) as server:
        got = _endpoint(server, waits).ask("grade this", GREEDY, None)
    assert got.text == "Score: 3\nReason: ok." and got.error == ""
    assert waits == [7.0] and len(server.requests) == 2
    assert server.requests[0]["body"]["temperature"] == 0 and server.requests[0]["body"]["max_tokens"] == 32
    assert server.requests[0]["path"] == "/v1/chat/completions"


def test_a_huge_retry_after_is_capped_and_server_errors_back_off_exponentially():
    waits: list[float] = []
    with JudgeServer(lambda p, b: Reply(429, headers={"Retry-After": "86400"})) as server:
        _endpoint(server, waits, max_attempts=2).ask("x", GREEDY, None)
    assert waits == [RETRY_AFTER_MAX_S]
    waits = []
    with JudgeServer(lambda p, b: Reply(503)) as server:
        got = _endpoint(server, waits, max_attempts=4).ask("x", GREEDY, None)
    assert waits == [BACKOFF_FIRST_S, 2 * BACKOFF_FIRST_S, 4 * BACKOFF_FIRST_S] and len(server.requests) == 4
    assert got.text is None and got.error == "no answer after 4 attempts: HTTP 503"


def test_a_slow_endpoint_times_out_and_is_retried_a_bounded_number_of_times():
    with JudgeServer(lambda p, b: Reply(text="Score: 2\nReason: late.", delay=1.0)) as server:
        got = _endpoint(server, timeout_s=0.2, max_attempts=2).ask("x", GREEDY, None)
    assert got.text is None and "no answer after 2 attempts: no answer within 0.2 s" in got.error


@pytest.mark.parametrize("reply, problem", [
    (Reply(body=b"<html>not json</html>"), "not JSON"),
    (Reply(body=json.dumps({"choices": []}).encode()), "no choices[0].message.content"),
    (Reply(body=b"x" * (1024 * 1024 + 10)), "response over 1,048,576 bytes"),
    (Reply(401), "HTTP 401"),
    (Reply(302, headers={"Location": "http://127.0.0.1:9/elsewhere"}), "HTTP 302 from the judge endpoint (a redirect"),
])
def test_a_malformed_or_refused_answer_fails_at_once_with_a_reason(reply, problem):
    with JudgeServer(lambda p, b: reply) as server:
        got = _endpoint(server).ask("x", GREEDY, None)
    assert got.text is None and problem in got.error and len(server.requests) == 1


def test_the_key_comes_from_the_named_variable_and_goes_only_into_the_header(monkeypatch):
    with JudgeServer(lambda p, b: "Score: 5\nReason: fine.") as server:
        monkeypatch.delenv("TEST_JUDGE_KEY", raising=False)
        with pytest.raises(HarnessError, match="TEST_JUDGE_KEY is not set"):
            _endpoint(server, api_key_env="TEST_JUDGE_KEY")
        monkeypatch.setenv("TEST_JUDGE_KEY", "s3cret-value")
        _endpoint(server, api_key_env="TEST_JUDGE_KEY").ask("x", GREEDY, None)
    (request,) = server.requests
    assert request["headers"]["Authorization"] == "Bearer s3cret-value"
    assert "s3cret-value" not in json.dumps(request["body"])


# --- verdicts, cache and cost -------------------------------------------------------------------------------

def _rows(state: str, outputs: list[str]) -> list[Prediction]:
    return [Prediction(id=f"e{i}", state=state, suite="s", prompt=f"Summarize {i}.", model_input=f"Summarize {i}.",
                       reference="ref", output=o, scores={}) for i, o in enumerate(outputs)]


def _judge_suite(tmp_path, server, **judge):
    folder = _suite(tmp_path, {"name": "judged", "judge": {"endpoint": {"base_url": server.base_url, "model": "m"},
                                                           **judge}})
    suite = load_suite(folder)
    metric, info = suite.metrics["judged"]
    return metric, info, [replace(ex, id=f"e{i}") for i, ex in enumerate(suite.test)]  # the rows' ids


def test_pointwise_scores_are_the_judges_per_criterion_and_their_mean_per_example(tmp_path):
    with JudgeServer(deterministic) as server:
        metric, info, examples = _judge_suite(tmp_path, server)
        outputs = ["short", "a somewhat longer summary", "x"]
        cache = Cache(tmp_path / "cache")
        asker = Asker(EndpointJudge(metric.spec), cache.store)
        verdicts = judge_rows(metric, info, examples, {"base": _rows("base", outputs)}, asker, "here")
        criteria = [c.name for c in metric.criteria]
        assert {(v.example_id, v.criterion): v.score for v in verdicts} == {
            (f"e{i}", c): float(expected_score(c, o)) for i, o in enumerate(outputs) for c in criteria}
        scores = example_scores(verdicts, criteria)
        for i, o in enumerate(outputs):  # the example's score: the mean over the criteria, computed apart
            assert scores[("base", f"e{i}")][0] == pytest.approx(
                statistics.fmean(expected_score(c, o) for c in criteria), abs=1e-6)
        cost = asker.cost()
        assert (cost.calls, cost.cached_calls) == (9, 0) and len(server.requests) == 9
        assert cost.prompt_tokens == sum(len(r["body"]["messages"][0]["content"].split()) for r in server.requests)

        again = Asker(EndpointJudge(metric.spec), cache.store)  # a rerun: every answer from the cache
        assert judge_rows(metric, info, examples, {"base": _rows("base", outputs)}, again, "here") == verdicts
        assert (again.cost().calls, again.cost().cached_calls, len(server.requests)) == (0, 9, 9)


def test_an_unparsable_criterion_leaves_the_example_unscored_with_the_reason(tmp_path):
    def answer(prompt, body):
        return "I'd say 4/5" if "Criterion: coverage" in prompt else "Score: 5\nReason: fine."

    with JudgeServer(answer) as server:
        metric, info, examples = _judge_suite(tmp_path, server)
        verdicts = judge_rows(metric, info, examples[:1], {"base": _rows("base", ["out"])},
                              Asker(EndpointJudge(metric.spec), None), "here")
    score, reason = example_scores(verdicts, [c.name for c in metric.criteria])[("base", "e0")]
    assert score is None and reason == "coverage: unparsable judge answer: expected 'Score: <1-5>' then " \
                                       "'Reason: <one sentence>'; got \"I'd say 4/5\""


def test_pairwise_wins_count_only_when_both_orders_agree(tmp_path):
    with JudgeServer(deterministic) as server:
        metric, info, examples = _judge_suite(tmp_path, server, mode="pairwise")
        rows = {"base": _rows("base", ["long base answer", "b", "same"]),
                "lora": _rows("lora", ["t", "tuned longer", "same"])}
        verdicts = judge_rows(metric, info, examples, rows, Asker(EndpointJudge(metric.spec), None), "x")
    assert [(v.state, v.example_id, v.score, v.swapped) for v in verdicts] == [
        ("lora", "e0", 0.0, True), ("lora", "e1", 1.0, True), ("lora", "e2", 0.5, True)]
    assert len(server.requests) == 5  # two orders per example; identical outputs make the same question twice

    with JudgeServer(lambda p, b: "Winner: A\nReason: first is best.") as server:  # a judge that always picks A
        metric, info, _ = _judge_suite(tmp_path / "biased", server, mode="pairwise")
        verdicts = judge_rows(metric, info, examples, rows, Asker(EndpointJudge(metric.spec), None), "x")
    assert {(v.score, v.swapped) for v in verdicts} == {(0.5, False)}


def test_samples_record_their_spread_and_the_share_of_verdicts_that_change(tmp_path):
    def by_seed(prompt, body):  # seeds 10, 11, 12 → scores 1, 2, 3 for the first example; 4, 4, 4 for the second
        stable = "Answer to grade:\n<<<\nsame\n>>>" in prompt
        return f"Score: {4 if stable else 1 + body['seed'] % 5}\nReason: seed {body['seed']}."

    with JudgeServer(by_seed) as server:
        metric, info, examples = _judge_suite(tmp_path, server, samples=3, seed=10, temperature=0.5,
                                              criteria=["coverage"])
        verdicts = judge_rows(metric, info, examples[:2], {"base": _rows("base", ["varies", "same"])},
                              Asker(EndpointJudge(metric.spec), None), "x")
    assert [(v.score, v.samples) for v in verdicts] == [(2.0, [1.0, 2.0, 3.0]), (4.0, [4.0, 4.0, 4.0])]
    assert {r["body"]["seed"] for r in server.requests} == {10, 11, 12}
    assert {r["body"]["temperature"] for r in server.requests} == {0.5}
    got = repeatability(metric, verdicts)
    assert got is not None and (got.mean_spread, got.changed, got.verdicts, got.seed) == (1.0, 0.5, 2, 10)
    assert "samples:3|temperature:0.5|seed:10" in metric.signature


# --- before a run; a local judge ----------------------------------------------------------------------------

def test_a_run_whose_judge_cannot_be_reached_refuses_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_JUDGE_KEY", raising=False)
    endpoint = {"base_url": "http://127.0.0.1:9/v1", "model": "m", "api_key_env": "NO_SUCH_JUDGE_KEY"}
    folder = _suite(tmp_path / "a", {"name": "judged", "judge": {"endpoint": endpoint}})
    with pytest.raises(HarnessError, match="metric 'judged': the judge's API key variable NO_SUCH_JUDGE_KEY is not"):
        plan(RunRequest(suites=[str(folder)], backends=[]))
    folder = _suite(tmp_path / "b", {"name": "judged", "judge": {"model": str(tmp_path / "no-model")}})
    with pytest.raises(HarnessError, match="metric 'judged': judge model: .*no such file or directory"):
        plan(RunRequest(suites=[str(folder)], backends=[]))


def test_a_local_judge_samples_reproducibly_for_a_seed(tmp_path):
    folder = _suite(tmp_path, {"name": "judged", "judge": {"model": "tiny", "samples": 2, "max_new_tokens": 12}})
    suite = load_suite(folder)
    metric, _ = suite.metrics["judged"]
    judge = LocalJudge(metric.spec, [suite], 0, Cache(tmp_path / "cache"))
    prompts = ["Score this: a storm hit Tampere.", "Score this: the museum opened."]
    first = judge.answer(prompts, metric.spec.decoding, 5)
    assert [a.text for a in judge.answer(prompts, metric.spec.decoding, 5)] == [a.text for a in first]
    assert [a.text for a in judge.answer(prompts, metric.spec.decoding, 6)] != [a.text for a in first]
    assert all(a.prompt_tokens > 0 and a.completion_tokens > 0 for a in first)
    greedy = judge.answer(prompts, {"greedy": True, "max_new_tokens": 12}, None)
    assert [a.text for a in greedy] == [a.text for a in judge.answer(prompts, {"greedy": True, "max_new_tokens": 12},
                                                                       None)]
