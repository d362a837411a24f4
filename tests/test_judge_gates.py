"""Gates on judge metrics are decided only when the judge is calibrated against the suite's raters: end to end
from rating sheets to run.json, the command-line summary, the report and `pytest suites/`."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.cli.summary import gate_tally
from harness.evaluation.gates import decide
from harness.record import (
    CalibrationRule,
    GateSpec,
    JudgeCost,
    JudgeResult,
    JudgeVerdict,
    MetricInfo,
    Result,
    load_record,
    save_record,
)
from reports import render_report
from reports.overview import verdicts

from .test_sheets_support import N_EXAMPLES, fill_csv, key_items, make_run, varied

pytest_plugins = ["pytester"]

SUITE = "agent_tools"
CRITERIA = ("helpfulness", "correctness", "fluency")
AGREES = GateSpec(metric="judge", min=1.0)
ALWAYS_5 = GateSpec(metric="judge5", min=1.0, when_uncalibrated="skip")
HOSTILE = '<script>alert("judge")</script>'


def _varied_score(example: str, state: str, criterion: str) -> float:
    """What the `varied` rater gives (see test_sheets_support)."""
    return float(1 + (int(example[2:]) + len(criterion) + (state != "base")) % 5)


def _judge(metric: str, score) -> JudgeResult:
    verdicts = [JudgeVerdict(example_id=f"ex{i}", state=state, criterion=c, score=score(f"ex{i}", state, c),
                             reason=f"{HOSTILE} ex{i}") for i in range(N_EXAMPLES) for state in ("base", "lora")
                for c in CRITERIA]
    return JudgeResult(metric=metric, judge_model="http-judge", judge_fingerprint="fp-judge", template_version="t1",
                       mode="pointwise", samples=1, verdicts=verdicts,
                       cost=JudgeCost(calls=len(verdicts), prompt_tokens=600, completion_tokens=60, seconds=2.5,
                                      cached_calls=0))


@pytest.fixture
def judged_run(tmp_path) -> Path:
    """The sheets tests' synthetic run, with two judge metrics on agent_tools: one that scores exactly like the
    `varied` rater and one that always says 5; each gated, the second skipped while uncalibrated."""
    run = make_run(tmp_path / "run")
    record = load_record(run)
    info = record.suite(SUITE)
    info.metrics += [MetricInfo(name=m, kind="mean", scale=5, lowest=1) for m in ("judge", "judge5")]
    info.gates = [AGREES, ALWAYS_5]
    record.suites[0] = info.model_copy(update={"judge_calibration": CalibrationRule(min_items=10)})
    record.judging = {SUITE: [_judge("judge", _varied_score), _judge("judge5", lambda *_: 5.0)]}
    record.results = [Result(state=s, suite=SUITE, metric=m, value=3.0, n=N_EXAMPLES)
                      for s in ("base", "lora") for m in ("judge", "judge5")]
    record.results.append(Result(state="lora", suite=SUITE, metric="exact_match", value=0.8, n=N_EXAMPLES))
    save_record(run, record)
    return run


def _export_and_rate(run: Path, tmp_path: Path, raters=("r1", "r2")) -> list[Path]:
    assert main(["sheets", "export", str(run), "--per-suite", "5", "--raters", ",".join(raters),
                 "--format", "csv"]) == 0
    (folder,) = [p for p in (run / "sheets").iterdir() if p.is_dir()]
    items = key_items(run)
    return [fill_csv(folder / f"pointwise-{r}.csv", tmp_path / f"pointwise-{r}.csv", varied, items) for r in raters]


def test_before_ratings_every_judge_gate_is_refused_never_passed(judged_run, capsys):
    record = load_record(judged_run)
    for gate in (AGREES, ALWAYS_5):
        o = decide(record, SUITE, "lora", gate, str(judged_run))
        assert (o.decision, o.passed, o.value) == ("uncalibrated", False, None)
        assert "not calibrated against the raters: no imported ratings" in o.message
        assert o.message.endswith(f"JUDGE NOT CALIBRATED ({'skipped' if gate is ALWAYS_5 else 'fails'}) "
                                  f"(run: {judged_run})")
    # A gate on a metric no judge scored is decided as before.
    plain = decide(record, SUITE, "lora", GateSpec(metric="exact_match", min=0.5))
    assert plain.decision == "pass"
    render_report(judged_run)
    page = (judged_run / "report" / "suites" / SUITE / "index.html").read_text(encoding="utf-8")
    assert page.count("Not calibrated: no ratings imported.") == 2 and "<code>judge5</code>: pointwise judge" in page


def test_ratings_imported_calibrate_the_judge_decide_its_gate_and_refuse_the_one_that_says_5(judged_run, tmp_path,
                                                                                              capsys):
    assert main(["report", str(judged_run)]) == 0  # decides and records the gates: both refused so far
    assert {g.status for g in load_record(judged_run).gates} == {"uncalibrated"}
    capsys.readouterr()
    assert main(["sheets", "import", str(judged_run), *map(str, _export_and_rate(judged_run, tmp_path))]) == 0
    out = capsys.readouterr().out
    record = load_record(judged_run)
    agrees, fives = record.judging[SUITE]
    assert agrees.calibration is not None and fives.calibration is not None
    assert agrees.calibration.calibrated, agrees.calibration.reason
    assert [c.criterion for c in agrees.calibration.criteria] == sorted(CRITERIA)
    for c in agrees.calibration.criteria:  # two raters who agree perfectly, and a judge who scores as they do
        assert c.n_items == 10 and c.human_items == 10 and c.judge_alpha == pytest.approx(1.0)
        assert c.human_alpha == pytest.approx(1.0) and c.kappa == pytest.approx(1.0) and not c.disagreements
    assert not fives.calibration.calibrated
    assert fives.calibration.reason.startswith("correctness: judge–human alpha ")
    assert "below human–human 1.00–1.00" in fives.calibration.reason
    assert f"judge judge on {SUITE} (http-judge): calibrated: {agrees.calibration.reason}\n" in out
    assert f"judge judge5 on {SUITE} (http-judge): NOT CALIBRATED: {fives.calibration.reason}\n" in out
    # The import decided the judge gates again: the calibrated one on its number, the other still refused.
    outcomes = {g.label: g for g in record.gates if g.state == "lora"}
    assert outcomes["judge>=1"].decision == "pass" and outcomes["judge>=1"].decided_by == "harness sheets import"
    assert outcomes["judge5>=1"].decision == "uncalibrated" and not outcomes["judge5>=1"].passed
    assert gate_tally(record.gates) == "gates: 1 of 2 pass, 1 judge not calibrated"
    (v,) = verdicts(record, record.gates)
    assert "1 of 2 gates are not decided: their judge is not calibrated (agent_tools judge5>=1)" in v["text"]
    assert v["status"] == "warn"

    html = render_report(judged_run).read_text(encoding="utf-8")
    assert "is not decided (judge not calibrated)" in html
    page = (judged_run / "report" / "suites" / SUITE / "index.html").read_text(encoding="utf-8")
    assert "judge not calibrated (skipped)" in page and f"Not calibrated: {fives.calibration.reason}" in page
    assert f"Calibrated: {agrees.calibration.reason}" in page
    worst = fives.calibration.criteria[0]
    assert (f"{worst.judge_alpha:.3f}<span class=\"ci\">[{worst.judge_alpha_ci_low:.3f}, "
            f"{worst.judge_alpha_ci_high:.3f}]</span>") in page
    assert "<th>judge \\ humans</th>" in page and "Where the judge and the humans disagree most" in page
    assert HOSTILE not in page and "&lt;script&gt;alert(&#34;judge&#34;)&lt;/script&gt;" in page
    assert "cost 60 calls (0 cached), 600 + 60 tokens, 2.5 s" in page


def test_pytest_skips_or_fails_an_uncalibrated_judge_gate_as_the_gate_says(judged_run, pytester):
    # pytest loads the suite, which must name registered metrics: the judge results stand under the names of two
    # built-in mean metrics here (the gate reads only the record: which metrics a judge scored, and its calibration).
    record = load_record(judged_run)
    names = {"judge": "rouge_l", "judge5": "chrf"}
    record.judging = {SUITE: [r.model_copy(update={"metric": names[r.metric]}) for r in record.judging[SUITE]]}
    record.results = [r.model_copy(update={"metric": names.get(r.metric, r.metric)}) for r in record.results]
    save_record(judged_run, record)
    folder = pytester.path / "suites" / SUITE
    folder.mkdir(parents=True)
    (folder / "test.jsonl").write_text("".join(json.dumps({"prompt": f"p{i}", "completion": "c"}) + "\n"
                                               for i in range(N_EXAMPLES)), encoding="utf-8")
    gates = [{"metric": "rouge_l", "min": 0.5}, {"metric": "chrf", "min": 0.5, "when_uncalibrated": "skip"}]
    (folder / "suite.yaml").write_text(json.dumps({
        "name": SUITE, "version": "1", "data": {"format": "prompt-completion", "test": "test.jsonl"},
        "metrics": ["exact_match", "rouge_l", "chrf"], "gates": gates}), encoding="utf-8")
    result = pytester.runpytest(str(folder / "suite.yaml"), "--harness-run", str(judged_run), "-v", "-rs",
                                "-W", "ignore::pytest.PytestAssertRewriteWarning")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*lora::rouge_l>=0.5 FAILED*", "*JUDGE NOT CALIBRATED (fails)*",
                                 "*SKIPPED*chrf is judged by http-judge, not calibrated*no imported ratings*"])
    assert {g.decision for g in load_record(judged_run).gates} == {"uncalibrated"}


def test_when_uncalibrated_takes_fail_or_skip_only():
    assert GateSpec(metric="j", min=1).when_uncalibrated == "fail"
    with pytest.raises(ValueError, match="when_uncalibrated"):
        GateSpec(metric="j", min=1, when_uncalibrated="pass")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_items"):
        CalibrationRule(min_items=1)


@pytest.mark.parametrize("extra, field", [
    ({"judge_calibration": {"min_items": 0}}, "judge_calibration.min_items"),
    ({"judge_calibration": {"min_item": 30}}, "judge_calibration.min_item"),
    ({"gates": [{"metric": "exact_match", "min": 0.5, "when_uncalibrated": "pass"}]}, "gates.0.when_uncalibrated"),
])
def test_a_bad_calibration_key_in_suite_yaml_is_one_line_naming_the_field(tmp_path, extra, field):
    from harness.common.errors import HarnessError
    from harness.suitedef.suite import load_suite

    (tmp_path / "test.jsonl").write_text(json.dumps({"prompt": "p", "completion": "c"}) + "\n", encoding="utf-8")
    (tmp_path / "suite.yaml").write_text(json.dumps({
        "name": "s", "version": "1", "data": {"format": "prompt-completion", "test": "test.jsonl"},
        "metrics": ["exact_match"], **extra}), encoding="utf-8")
    with pytest.raises(HarnessError) as e:
        load_suite(tmp_path)
    assert f"field '{field}'" in str(e.value) and "\n" not in str(e.value)


def test_redeciding_after_an_import_touches_only_judge_gates_of_this_run(judged_run):
    from harness.evaluation.gates import redecide_judged

    record = load_record(judged_run)
    plain = GateSpec(metric="exact_match", min=0.9)
    judged = decide(record, SUITE, "lora", AGREES, str(judged_run))
    against = judged.model_copy(update={"baseline_run": "runs/other", "decision": "pass", "passed": True})
    stale = judged.model_copy(update={"decision": "pass", "passed": True, "decided_by": "harness run"})
    other = decide(record, SUITE, "lora", plain).model_copy(update={"decided_by": "pytest"})
    record.gates = [stale, against, other]
    redecide_judged(record, judged_run, "harness sheets import")
    assert record.gates[0].decision == "uncalibrated" and record.gates[0].decided_by == "harness sheets import"
    assert record.gates[1:] == [against, other]


def test_a_pairwise_judges_calibration_renders_outcomes_and_the_position_probe(judged_run, tmp_path):
    from harness.evaluation.calibration import attach_calibration

    outcomes = ["win", "loss", "tie", "win", "win"]
    record = load_record(judged_run)
    record.judging = {SUITE: [JudgeResult(
        metric="pair", judge_model="tiny", judge_fingerprint="fp", template_version="t1", mode="pairwise", samples=1,
        cost=JudgeCost(calls=10, prompt_tokens=1, completion_tokens=1, seconds=0.1, cached_calls=10),
        verdicts=[JudgeVerdict(example_id=f"ex{i}", state="lora", criterion="overall", score=v, reason="r",
                               swapped=i % 2 == 0) for i, v in enumerate([1.0, 1.0, 0.5, 1.0, 0.0])])]}
    rows = [{"kind": "preference", "suite": SUITE, "example": f"ex{i}", "state": "lora", "versus": "base",
             "criterion": "preference", "rater": r, "outcome": o, "comment": f"{r} says {o}"}
            for i, o in enumerate(outcomes) for r in ("r1", "r2")]
    attach_calibration(record, rows, judged_run)
    save_record(judged_run, record)
    (c,) = load_record(judged_run).judging[SUITE][0].calibration.criteria
    assert c.probes.position_pairs == 5 and c.probes.position_flip_share == pytest.approx(2 / 5)
    assert c.probes.self_preference and "the judge is the run's model (tiny)" in c.probes.note
    render_report(judged_run)
    page = (judged_run / "report" / "suites" / SUITE / "index.html").read_text(encoding="utf-8")
    header = "<th>judge \\ humans</th><th class=\"num\">loss</th><th class=\"num\">tie</th><th class=\"num\">win</th>"
    assert header in page and "40% of 5 verdicts flip when the outputs swap places" in page
    assert "r1 says loss<br>r2 says loss" in page and "the judge is the run's own model; it scores +0.00 above" in page
