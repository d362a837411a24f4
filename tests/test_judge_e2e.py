"""Issue 21 end to end: a real `harness run` with `tiny` and a local OpenAI-compatible server as judges, rating
sheets exported, filled by simulated raters and imported, the calibration recorded (checked against the
`krippendorff` package and scikit-learn), and the gates decided for the calibrated judge and refused for the
others, in run.json, the report and `pytest suites/`."""
from __future__ import annotations

import io
import json
import re
import zlib
from contextlib import redirect_stdout

import krippendorff
import numpy as np
import pytest

from harness.cli import main
from harness.record import BASE, load_predictions, load_ratings, load_record
from reports import render_report

from .conftest import cut_suite
from .judge_server import JudgeServer, deterministic, expected_score
from .test_sheets_support import fill_csv, key_items

pytest_plugins = ["pytester"]

SUITE = "summarize_en"
CRITERION = "faithfulness"
N_TEST = 8
MIN_ITEMS = 12
"""Pointwise, 8 examples × 2 states = 16 items are rated by both judge and raters; pairwise only 8."""
SCALE = [1.0, 2.0, 3.0, 4.0, 5.0]
GATES = [{"metric": "judge_api", "min": 1.0}, {"metric": "judge_five", "min": 1.0, "when_uncalibrated": "skip"},
         {"metric": "judge_tiny", "min": 1.0}]


def _answer(prompt: str, body: dict) -> str:
    """The server: model `always-5` says 5 to everything; any other model answers `deterministic`ally."""
    if body.get("model") == "always-5":
        return "Score: 5\nReason: it is fine."
    return deterministic(prompt, body)


def _noisy(example: str, score: int) -> int:
    """The second rater: one step off the first on about a third of the items."""
    if zlib.crc32(example.encode()) % 3:
        return score
    return score + 1 if score < 5 else score - 1


@pytest.fixture(scope="module")
def rated_run(tmp_path_factory):
    """A run judged by `tiny`, the server's deterministic judge, its always-5 judge and its pairwise judge; then
    sheets exported, rated by two raters who agree with the deterministic judge (one of them a little noisy),
    and imported. Returns the run dir, the record before any rating, and what the import printed."""
    tmp = tmp_path_factory.mktemp("e2e")
    with JudgeServer(_answer) as server:
        endpoint = {"base_url": server.base_url, "model": "judge-model"}
        suite = cut_suite(SUITE, tmp / "suites" / SUITE, 20, N_TEST, metrics=[
            "rouge_l",
            # 12 tokens, not tests/test_judge_run.py's 16: the session's cache must not answer that test's questions
            {"name": "judge_tiny", "judge": {"model": "tiny", "criteria": [CRITERION], "max_new_tokens": 12}},
            {"name": "judge_api", "judge": {"endpoint": endpoint, "criteria": [CRITERION]}},
            {"name": "judge_five", "judge": {"endpoint": endpoint | {"model": "always-5"}, "criteria": [CRITERION]}},
            {"name": "judge_pair", "judge": {"mode": "pairwise", "endpoint": endpoint}},
        ], gates=GATES, judge_calibration={"min_items": MIN_ITEMS})
        assert main(["run", "--suite", str(suite), "--out", str(tmp / "runs"), "--backend", "lora",
                     "--set", "lora.max_steps=2", "--batch-size", "4"]) == 0
    (run,) = (tmp / "runs").iterdir()
    before = load_record(run)
    assert main(["sheets", "export", str(run), "--per-suite", str(N_TEST), "--raters", "r1,r2", "--format", "csv"]) == 0
    (folder,) = [p for p in (run / "sheets").iterdir() if p.is_dir()]
    items = key_items(run)
    outputs = {(s, r.id): r.output for s in (BASE, "lora") for r in load_predictions(run, s, SUITE)}

    def scores(noisy: bool):
        def answer(item, row):
            score = expected_score(row["criterion"], outputs[(item["state"], item["example"])])
            return str(_noisy(item["example"], score) if noisy else score)
        return answer

    def prefers_longer(item, row):  # as the deterministic pairwise judge does
        a, b = (len(outputs[(item[side], item["example"])]) for side in ("a", "b"))
        return "A" if a > b else "B" if b > a else "tie"

    files = [fill_csv(folder / f"pointwise-{r}.csv", tmp / f"pointwise-{r}.csv", scores(r == "r2"), items)
             for r in ("r1", "r2")]
    files += [fill_csv(folder / f"pairwise-lora-{r}.csv", tmp / f"pairwise-lora-{r}.csv", prefers_longer, items)
              for r in ("r1", "r2")]
    return run, before, tmp, files


@pytest.fixture(scope="module")
def imported(rated_run):
    run, before, tmp, files = rated_run
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["sheets", "import", str(run), *map(str, files)]) == 0
    return run, before, out.getvalue()


def _judged(record, metric):
    return next(j for j in record.judging[SUITE] if j.metric == metric)


def test_before_any_rating_every_judge_gate_is_refused(rated_run):
    _, before, _, _ = rated_run
    outcomes = {g.gate.metric: g for g in before.gates}
    assert set(outcomes) == {"judge_api", "judge_five", "judge_tiny"}
    for metric, g in outcomes.items():
        assert (g.decision, g.passed, g.decided_by) == ("uncalibrated", False, "harness run"), g.message
        assert f"{metric} is judged by" in g.message and "no imported ratings" in g.message
    assert all(j.calibration is None for j in before.judging[SUITE])


def _matrix(run, metric: str):
    """Independently of the harness: raters r1, r2 and the judge as rows, the judged and rated items as columns."""
    ratings = [r for r in load_ratings(run) if r["kind"] == "score" and r["criterion"] == CRITERION]
    verdicts = {(v.state, v.example_id): v.score for v in _judged(load_record(run), metric).verdicts}
    items = sorted({(r["state"], r["example"]) for r in ratings})
    human = {(r["rater"], r["state"], r["example"]): r["score"] for r in ratings}
    rows = [[human.get((rater, *i), np.nan) for i in items] for rater in ("r1", "r2")]
    return np.array(rows, dtype=float), np.array([verdicts[i] for i in items], dtype=float)


def _quadratic_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's quadratic-weighted kappa on the 1–5 scale from its textbook definition: 1 − Σ w·observed / Σ w·expected."""
    observed = np.zeros((5, 5))
    for x, y in zip(a.astype(int) - 1, b.astype(int) - 1):
        observed[x, y] += 1
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    weights = np.subtract.outer(np.arange(5), np.arange(5)) ** 2
    return float(1 - (weights * observed).sum() / (weights * expected).sum())


def _bootstrap(data: np.ndarray, rounds: int = 400) -> tuple[float, float]:
    """A percentile bootstrap over items of the ordinal alpha, with the `krippendorff` package and our own rng."""
    rng = np.random.default_rng(12345)
    values = []
    for _ in range(rounds):
        pick = rng.integers(0, data.shape[1], data.shape[1])
        sample = data[:, pick]
        if len(np.unique(sample[~np.isnan(sample)])) > 1:
            values.append(krippendorff.alpha(reliability_data=sample, level_of_measurement="ordinal",
                                             value_domain=SCALE))
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def test_the_calibrated_judge_matches_krippendorff_and_sklearn(imported):
    run, _, out = imported
    record = load_record(run)
    api = _judged(record, "judge_api")
    assert api.calibration is not None and api.calibration.calibrated, api.calibration
    (c,) = api.calibration.criteria
    humans, judge = _matrix(run, "judge_api")
    assert c.n_items == humans.shape[1] == 2 * N_TEST and c.human_items == 2 * N_TEST
    both = np.vstack([humans, judge[None, :]])
    assert c.judge_alpha == pytest.approx(
        krippendorff.alpha(reliability_data=both, level_of_measurement="ordinal", value_domain=SCALE), abs=1e-9)
    assert c.human_alpha == pytest.approx(
        krippendorff.alpha(reliability_data=humans, level_of_measurement="ordinal", value_domain=SCALE), abs=1e-9)
    mean = humans.mean(axis=0)
    rounded = np.floor(mean + 0.5)  # a rater's rounding: 3.5 → 4
    assert c.kappa == pytest.approx(_quadratic_kappa(judge, rounded), abs=1e-9)
    # The recorded intervals hold their estimate and sit where an independent bootstrap puts them.
    for value, low, high, data in ((c.judge_alpha, c.judge_alpha_ci_low, c.judge_alpha_ci_high, both),
                                   (c.human_alpha, c.human_alpha_ci_low, c.human_alpha_ci_high, humans)):
        assert low <= value <= high
        ind_low, ind_high = _bootstrap(data)
        assert low == pytest.approx(ind_low, abs=0.1) and high == pytest.approx(ind_high, abs=0.1)
    assert c.kappa_ci_low <= c.kappa <= c.kappa_ci_high
    assert c.judge_alpha >= c.human_alpha_ci_low and c.human_alpha < 1.0  # the noisy rater: a real bar to meet
    assert f"judge judge_api on {SUITE} (judge-model@" in out and ": calibrated: " in out


def test_the_always_5_judge_and_tiny_are_refused_and_their_gates_not_decided(imported):
    run, _, out = imported
    record = load_record(run)
    five, tiny = _judged(record, "judge_five"), _judged(record, "judge_tiny")
    assert not five.calibration.calibrated and "below human–human" in five.calibration.reason
    humans, judge = _matrix(run, "judge_five")
    assert set(judge) == {5.0}
    assert five.calibration.criteria[0].judge_alpha == pytest.approx(krippendorff.alpha(
        reliability_data=np.vstack([humans, judge[None, :]]), level_of_measurement="ordinal", value_domain=SCALE))
    # tiny's answers never parse: nothing to measure, and it is found to be the run's own model by fingerprint.
    (t,) = tiny.calibration.criteria
    assert not tiny.calibration.calibrated and t.n_items == 0 and t.n_unparsed == 2 * N_TEST
    assert tiny.calibration.reason == f"{CRITERION}: no item was both judged and rated"
    assert t.probes.self_preference and "the judge's fingerprint is the run's model's" in t.probes.note
    outcomes = {g.gate.metric: g for g in record.gates}
    assert (outcomes["judge_api"].decision, outcomes["judge_api"].decided_by) == ("pass", "harness sheets import")
    assert outcomes["judge_five"].decision == "uncalibrated" and "(skipped)" in outcomes["judge_five"].message
    assert outcomes["judge_tiny"].decision == "uncalibrated" and "(fails)" in outcomes["judge_tiny"].message
    assert f"judge judge_five on {SUITE} (always-5@{five.judge_model.split('@')[1]}): NOT CALIBRATED: " in out


def test_the_pairwise_judge_is_calibrated_on_ab_preferences_and_shown_in_the_report(imported):
    run, _, _ = imported
    record = load_record(run)
    pair = _judged(record, "judge_pair")
    (c,) = pair.calibration.criteria
    assert c.criterion == "overall" and c.scale == [0.0, 0.5, 1.0] and c.n_items == N_TEST
    assert c.probes.position_pairs == N_TEST and c.probes.position_flip_share == 0.0
    assert pair.calibration.reason == f"overall: only {N_TEST} items rated by both; needs {MIN_ITEMS}"
    value = record.value("lora", SUITE, "judge_pair")
    render_report(run)
    page = (run / "report" / "suites" / SUITE / "index.html").read_text(encoding="utf-8")
    assert "<code>judge_pair</code>: pairwise judge" in page
    results, judging = page.split('id="judging"')
    rows = re.findall(r"<tr[^>]*>(?:(?!</tr>).)*</tr>", results, re.S)  # the results table: the tuned state's win rate
    assert any("judge_pair" in row and f"{value:.3f}" in row for row in rows)
    assert f"{value:.2f}" in judging  # and beside the humans' in the calibration


def test_pytest_suites_decides_the_calibrated_gate_and_refuses_the_others(imported, pytester):
    run, _, _ = imported
    suite = run.parent.parent / "suites" / SUITE / "suite.yaml"
    result = pytester.runpytest(str(suite), "--harness-run", str(run), "-v", "-rs",
                                "-W", "ignore::pytest.PytestAssertRewriteWarning")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*lora::judge_api>=1 PASSED*", "*lora::judge_tiny>=1 FAILED*",
                                 "*SKIPPED*judge_five is judged by always-5@*not calibrated*below human*"])
    assert json.loads((run / "run.json").read_text())["judging"][SUITE]
