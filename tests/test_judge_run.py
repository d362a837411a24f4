"""A run with judge metrics, end to end: `tiny` as judge (its answers are garbage, reported per item), and a
local OpenAI-compatible server as a second judge (exact scores, cost, a 429 retried, the key kept out of the
run directory, and a second run answered from the cache with identical verdicts)."""
from __future__ import annotations

import statistics
import threading

import numpy as np
import pytest

from harness.cli import main
from harness.record import BASE, load_predictions, load_record
from reports import render_report

from .conftest import cut_suite
from .judge_server import JudgeServer, Reply, deterministic, expected_score

SECRET = "sk-test-do-not-record-4f1c"


@pytest.fixture(scope="module")
def judged_runs(tmp_path_factory):
    """Two runs of the same suite with the same cache: the second answers every judge question from it."""
    tmp = tmp_path_factory.mktemp("judged")
    state = {"refused": 0}
    lock = threading.Lock()

    def answer(prompt, body):
        with lock:
            if state["refused"] == 0:  # the very first request is told to come back later
                state["refused"] += 1
                return Reply(429, headers={"Retry-After": "0"})
        return deterministic(prompt, body)

    mp = pytest.MonkeyPatch()
    mp.setenv("JUDGE_TEST_KEY", SECRET)
    with JudgeServer(answer) as server:
        endpoint = {"base_url": server.base_url, "model": "judge-model", "api_key_env": "JUDGE_TEST_KEY"}
        suite = cut_suite("summarize_en", tmp / "suites" / "summarize_en", 20, 4, metrics=[
            "rouge_l",
            {"name": "judge_tiny", "judge": {"model": "tiny", "criteria": ["faithfulness"], "max_new_tokens": 16}},
            {"name": "judge_api", "judge": {"endpoint": endpoint}},
            {"name": "judge_pair", "judge": {"mode": "pairwise", "endpoint": endpoint}},
        ], gates=[{"metric": "judge_api", "min": 1.0}])
        runs = []
        for out in ("first", "second"):
            code = main(["run", "--suite", str(suite), "--out", str(tmp / out), "--backend", "lora",
                         "--set", "lora.max_steps=2", "--batch-size", "4"])
            assert code == 0
            (run_dir,) = (tmp / out).iterdir()
            runs.append((run_dir, len(server.requests)))
    mp.undo()
    return runs, state


def _judged(run_dir, metric):
    return next(j for j in load_record(run_dir).judging["summarize_en"] if j.metric == metric)


def test_tiny_as_judge_is_reported_unparsable_item_by_item_not_hidden(judged_runs):
    ((run_dir, _), _), _ = judged_runs
    result = _judged(run_dir, "judge_tiny")
    assert len(result.verdicts) == 8  # 4 examples × base and lora × 1 criterion
    assert all(v.score is None and v.reason.startswith("unparsable judge answer") for v in result.verdicts)
    assert result.judge_fingerprint.startswith("dir:") and result.cost.calls == 8
    assert not [r for r in load_record(run_dir).results if r.metric == "judge_tiny"]  # no value from no score
    for state in (BASE, "lora"):
        for row in load_predictions(run_dir, state, "summarize_en"):
            assert "judge_tiny" not in row.scores
            assert row.reasons["judge_tiny"].startswith("not scored: faithfulness: unparsable judge answer")


def test_the_endpoint_judges_scores_are_recorded_exactly(judged_runs):
    ((run_dir, _), _), _ = judged_runs
    record = load_record(run_dir)
    result = _judged(run_dir, "judge_api")
    criteria = [c.name for c in record.suite("summarize_en").rubric.criteria]
    by_item = {(v.state, v.example_id, v.criterion): v.score for v in result.verdicts}
    for state in (BASE, "lora"):
        rows = load_predictions(run_dir, state, "summarize_en")
        for row in rows:  # recomputed apart, from the outputs the predictions hold
            expected = [expected_score(c, row.output) for c in criteria]
            assert [by_item[(state, row.id, c)] for c in criteria] == expected
            assert row.scores["judge_api"] == pytest.approx(statistics.fmean(expected), abs=1e-6)
        value = record.value(state, "summarize_en", "judge_api")
        assert value == pytest.approx(statistics.fmean(r.scores["judge_api"] for r in rows))
        (res,) = [r for r in record.results if (r.state, r.metric) == (state, "judge_api")]
        assert res.n == 4 and res.ci_low <= value <= res.ci_high and res.ci_method == "bootstrap"
    assert any(c.metric == "judge_api" and c.state == "lora" for c in record.comparisons)
    # No ratings imported yet: the gate on the judge's metric is refused, never passed on an unmeasured judge.
    (gate,) = [g for g in record.gates if g.gate.metric == "judge_api"]
    assert (gate.decision, gate.passed) == ("uncalibrated", False) and "no imported ratings" in gate.message
    info = record.suite("summarize_en").metric("judge_api")
    assert (info.kind, info.scale, info.lowest) == ("mean", 5.0, 1.0)
    assert info.signature == f"judge:pointwise|by:{result.judge_model}|template:{result.template_version}|" \
                             f"criteria:{','.join(criteria)}|reference:yes|parse:1|max_new_tokens:96|decoding:greedy"


def test_pairwise_judging_records_each_tuned_output_against_base(judged_runs):
    ((run_dir, _), _), _ = judged_runs
    result = _judged(run_dir, "judge_pair")
    base = {r.id: r.output for r in load_predictions(run_dir, BASE, "summarize_en")}
    tuned = {r.id: r.output for r in load_predictions(run_dir, "lora", "summarize_en")}
    expected = {i: 1.0 if len(tuned[i]) > len(base[i]) else 0.0 if len(tuned[i]) < len(base[i]) else 0.5
                for i in base}
    assert {v.example_id: v.score for v in result.verdicts} == expected
    assert {v.state for v in result.verdicts} == {"lora"} and all(v.swapped for v in result.verdicts)
    record = load_record(run_dir)
    assert record.value("lora", "summarize_en", "judge_pair") == pytest.approx(statistics.fmean(expected.values()))
    assert record.value(BASE, "summarize_en", "judge_pair") is None


def test_cost_counts_calls_tokens_and_the_retried_429(judged_runs):
    ((run_dir, requests_after_first), _), state = judged_runs
    api, pair = _judged(run_dir, "judge_api"), _judged(run_dir, "judge_pair")
    assert state["refused"] == 1
    assert api.cost.calls + pair.cost.calls + 1 == requests_after_first  # every call once, the refused one again
    assert api.cost.cached_calls == 0 and api.cost.prompt_tokens > 0 and api.cost.completion_tokens > 0
    assert all("no judge answer" not in v.reason for v in api.verdicts + pair.verdicts)


def test_the_key_is_never_written_to_the_run_directory(judged_runs):
    ((run_dir, _), _), _ = judged_runs
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert "JUDGE_TEST_KEY" in (run_dir / "run.json").read_text()  # the variable's name is what is recorded


def test_a_second_run_is_answered_from_the_cache_with_identical_verdicts(judged_runs):
    ((first, requests_after_first), (second, requests_after_second)), _ = judged_runs
    assert requests_after_second == requests_after_first  # the endpoint was not asked again
    for metric in ("judge_tiny", "judge_api", "judge_pair"):
        a, b = _judged(first, metric), _judged(second, metric)
        assert a.verdicts == b.verdicts and a.judge_fingerprint == b.judge_fingerprint
        assert (b.cost.calls, b.cost.cached_calls) == (0, a.cost.calls)
    assert [r for r in load_record(first).results if r.metric.startswith("judge")] == \
           [r for r in load_record(second).results if r.metric.startswith("judge")]


def test_harness_eval_judges_too(tmp_path):
    with JudgeServer(deterministic) as server:
        endpoint = {"base_url": server.base_url, "model": "judge-model"}
        suite = cut_suite("summarize_en", tmp_path / "suites" / "summarize_en", 20, 3, metrics=[
            "rouge_l", {"name": "judge_api", "judge": {"endpoint": endpoint, "criteria": ["fluency"]}}])
        assert main(["eval", "--model", "tiny", "--suite", str(suite), "--out", str(tmp_path / "runs")]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    (result,) = load_record(run_dir).judging["summarize_en"]
    rows = load_predictions(run_dir, BASE, "summarize_en")
    assert {v.example_id: v.score for v in result.verdicts} == {r.id: expected_score("fluency", r.output) for r in rows}
    assert load_record(run_dir).value(BASE, "summarize_en", "judge_api") == \
        pytest.approx(statistics.fmean(expected_score("fluency", r.output) for r in rows))


def test_each_criterions_judge_scores_per_state_are_recorded_with_intervals_and_shown(judged_runs, tmp_path):
    ((run_dir, _), _), _ = judged_runs
    record = load_record(run_dir)
    result = _judged(run_dir, "judge_api")
    criteria = [c.name for c in record.suite("summarize_en").rubric.criteria]
    assert {(s.criterion, s.state) for s in result.by_criterion} == {(c, s) for c in criteria for s in (BASE, "lora")}
    for s in result.by_criterion:  # recomputed apart from the outputs, with a bootstrap of its own
        rows = load_predictions(run_dir, s.state, "summarize_en")
        values = np.array([expected_score(s.criterion, r.output) for r in rows], dtype=float)
        means = values[np.random.default_rng(record.seed).integers(0, len(values), (2000, len(values)))].mean(axis=1)
        assert (s.n, s.mean) == (len(rows), pytest.approx(values.mean()))
        assert (s.ci_low, s.ci_high) == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])))
    pages = render_report(run_dir, tmp_path / "report").parent.rglob("*.html")
    html = "".join(p.read_text(encoding="utf-8") for p in pages)
    assert "mean score per criterion and state over every item it scored" in html
