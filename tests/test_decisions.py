"""Gates that hold on small samples: non-inferiority, equivalence (TOST), `min_delta` on the interval, and
the underpowered state, with known truth."""
from __future__ import annotations

import json

import numpy as np
import pytest

from harness.evaluation.gates import decide
from harness.evaluation.margins import decide_margin
from harness.record import (
    BackendRun,
    Cost,
    GateSpec,
    MetricInfo,
    Prediction,
    Result,
    RunRecord,
    SuiteInfo,
    load_record,
    save_predictions,
    save_record,
)
from harness.stats.compare import compare, finalize

pytest_plugins = ["pytester"]

EXACT = MetricInfo(name="exact_match", kind="passfail")
SCORE = MetricInfo(name="score", kind="mean")


class _Scored:
    """A metric whose per-example scores are given (compare reads only its kind and direction)."""

    def __init__(self, info: MetricInfo):
        self.kind, self.higher_is_better, self.name = info.kind, info.higher_is_better, info.name


def _rows(state: str, scores, name: str) -> list[Prediction]:
    return [Prediction(id=f"ex{i}", state=state, suite="s", prompt="p", model_input="p", reference="r",
                       output=f"{state} {s}", scores={name: float(s)}) for i, s in enumerate(scores)]


def comparison(info: MetricInfo, base, tuned, alpha: float = 0.05):
    """The recorded comparison of two states' per-example scores, as a run makes it."""
    raw = compare(_Scored(info), info.name, "s", "base", _rows("base", base, info.name), "lora",
                  _rows("lora", tuned, info.name), seed=0, alpha=alpha)
    (c,) = finalize([{"suite": "s", "metric": info.name, "baseline": "base", "state": "lora", **raw}], alpha)
    return c


def record_with(info: MetricInfo, base, tuned, gates: list[GateSpec], alpha: float = 0.05) -> RunRecord:
    """A run of one suite, base and lora, with these per-example scores."""
    suite = SuiteInfo(name="s", version="1", content_hash="h", path="s", language="en", n_train=0, n_test=len(base),
                      metrics=[info], gates=gates)
    cost = Cost(wall_seconds=1, train_seconds=1, trainable_params=1, total_params=2, peak_memory_mb=1,
                memory_kind="rss", train_tokens=1, tokens_per_second=1, steps=1, loss_curve=[])
    results = [Result(state=state, suite="s", metric=info.name, value=float(np.mean(x)), n=len(x))
               for state, x in (("base", base), ("lora", tuned))]
    return RunRecord(run_id="r1", status="complete", created="2026-01-01T00:00:00+00:00", model="tiny",
                     model_path="tiny", seed=0, alpha=alpha, suites=[suite], requested_backends=["lora"],
                     environment={"python": "3.11", "platform": "test", "device": "cpu", "code_hash": "0"},
                     config_key="k", results=results, comparisons=[comparison(info, base, tuned, alpha)],
                     backends=[BackendRun(name="lora", settings={}, artefact="models/lora", kind="adapter", cost=cost)])


def drop(n: int, lost: int, gained: int, rate: float = 0.7):
    """Pass/fail outcomes of n examples: base passes `rate` of them; tuning loses `lost` passes and gains
    `gained` (a net drop of (lost − gained)/n)."""
    base = np.zeros(n)
    base[: round(rate * n)] = 1
    tuned = base.copy()
    tuned[:lost] = 0
    tuned[n - gained:] = 1
    return base, tuned


MAX_DROP = GateSpec(metric="exact_match", max_drop=0.01)


def test_a_two_point_drop_at_2000_examples_fails_max_drop():
    base, tuned = drop(2000, lost=60, gained=20)  # 3% lose their pass, 1% gain one: −2%
    o = decide(record_with(EXACT, base, tuned, [MAX_DROP]), "s", "lora", MAX_DROP)
    assert o.value == pytest.approx(-0.02)
    assert o.decision == "fail" and not o.passed and "FAILS" in o.message
    c = comparison(EXACT, base, tuned)
    assert c.bound_high < -0.01  # even the optimistic one-sided bound is below the margin


def test_the_same_drop_at_40_examples_is_underpowered_never_a_pass():
    for lost, gained in ((1, 0), (0, 0), (1, 1)):  # −2.5%, no change seen, a wash
        base, tuned = drop(40, lost, gained)
        o = decide(record_with(EXACT, base, tuned, [MAX_DROP]), "s", "lora", MAX_DROP)
        assert o.decision == "underpowered" and not o.passed and o.status == "underpowered"
        assert o.powered is False and o.detectable > 0.01 and o.examples_needed > 40
        assert "UNDERPOWERED" in o.message and f"~{o.examples_needed} examples" in o.message


def test_no_drop_at_2000_examples_passes_max_drop():
    base, tuned = drop(2000, lost=20, gained=20)
    o = decide(record_with(EXACT, base, tuned, [MAX_DROP]), "s", "lora", MAX_DROP)
    assert o.decision == "pass" and o.passed and o.powered is True


def test_max_drop_reads_a_lower_is_better_metric_the_other_way():
    loss = MetricInfo(name="score", kind="mean", higher_is_better=False)
    base = np.full(400, 0.5)
    gate = GateSpec(metric="score", max_drop=0.05)
    worse = decide(record_with(loss, base, base + 0.2, [gate]), "s", "lora", gate)  # the loss rose: a drop
    better = decide(record_with(loss, base, base - 0.2, [gate]), "s", "lora", gate)
    assert (worse.decision, better.decision) == ("fail", "pass")


def tost_equivalent(d, margin: float, alpha: float) -> bool:
    """The hand-worked TOST: two one-sided t tests of the paired differences, H0 Δ ≤ −δ and H0 Δ ≥ δ."""
    from scipy.stats import ttest_1samp

    p_low = ttest_1samp(d, -margin, alternative="greater").pvalue
    p_high = ttest_1samp(d, margin, alternative="less").pvalue
    return max(p_low, p_high) < alpha


@pytest.mark.parametrize("centre", [0.0, 0.1])
@pytest.mark.parametrize("margin", [0.02, 0.05, 0.08, 0.15])
def test_equivalent_within_agrees_with_a_hand_worked_tost(centre, margin):
    """100 differences, half centre + 0.2 and half centre − 0.2: sd 0.201, se 0.0201, and the one-sided 95%
    bounds centre ± 1.645 × 0.0201 = centre ± 0.033. Equivalent within δ iff both bounds lie inside ±δ:
    at centre 0, δ = 0.05 and 0.08 and 0.15 are shown (t = 2.49, 3.98, 7.5), 0.02 is not (t = 1.0); at
    centre 0.1 only 0.15 is (0.1 − 0.033 > 0.08)."""
    base = np.full(100, 0.5)
    tuned = base + centre + np.where(np.arange(100) % 2 == 0, 0.2, -0.2)
    gate = GateSpec(metric="score", equivalent_within=margin)
    m = decide_margin(gate, comparison(SCORE, base, tuned), SCORE, 100, 0.05)
    assert (m.decision == "pass") == tost_equivalent(tuned - base, margin, 0.05)
    if centre == 0.1 and margin <= 0.08:
        assert m.decision in ("fail", "underpowered")


def test_min_delta_on_the_lower_bound_and_the_legacy_point_warning():
    base, tuned = drop(10, lost=0, gained=1, rate=0.3)  # +0.1 at n = 10: the scaffolded suite
    point = GateSpec(metric="exact_match", min_delta=0.1)
    bound = GateSpec(metric="exact_match", min_delta=0.1, decide_on="lower_bound")
    record = record_with(EXACT, base, tuned, [point, bound])
    legacy = decide(record, "s", "lora", point)
    assert legacy.decision == "pass" and legacy.powered is False and "underpowered" in legacy.warning
    assert "WARNING" in legacy.message
    strict = decide(record, "s", "lora", bound)
    assert strict.decision == "underpowered" and not strict.passed and strict.warning is None
    base, tuned = drop(400, lost=0, gained=120, rate=0.3)  # +0.3, well resolved
    assert decide(record_with(EXACT, base, tuned, [bound]), "s", "lora", bound).decision == "pass"


def test_gate_spec_validates_the_new_keys():
    with pytest.raises(ValueError, match="decide_on"):
        GateSpec(metric="m", min=0.5, decide_on="point")
    with pytest.raises(ValueError):
        GateSpec(metric="m", max_drop=-0.1)
    with pytest.raises(ValueError, match="exactly one"):
        GateSpec(metric="m", max_drop=0.1, equivalent_within=0.1)
    assert GateSpec(metric="m", max_drop=0.05).label == "m:max_drop=0.05"
    assert GateSpec(metric="m", equivalent_within=0.05).threshold == 0.05


def test_records_without_one_sided_bounds_still_decide():
    """An older record (no n, se or bounds on its comparisons) decides on its 95% interval."""
    base, tuned = drop(2000, lost=60, gained=20)
    record = record_with(EXACT, base, tuned, [MAX_DROP])
    old = json.loads(record.model_dump_json())
    for c in old["comparisons"]:
        for key in ("n", "se", "bound_low", "bound_high", "p_floor"):
            c.pop(key)
    o = decide(RunRecord.model_validate(old), "s", "lora", MAX_DROP)
    assert o.decision == "fail"


def test_pytest_fails_an_underpowered_gate_and_warns_on_a_point_one(pytester, tmp_path):
    folder = pytester.path / "suites" / "s"
    folder.mkdir(parents=True)
    (folder / "test.jsonl").write_text("".join(json.dumps({"prompt": f"{i} + 1", "completion": str(i + 1)}) + "\n"
                                               for i in range(40)), encoding="utf-8")
    gates = [{"metric": "exact_match", "max_drop": 0.01}, {"metric": "exact_match", "min_delta": -0.05}]
    (folder / "suite.yaml").write_text(json.dumps({
        "name": "s", "version": "1", "data": {"format": "prompt-completion", "test": "test.jsonl"},
        "metrics": ["exact_match"], "gates": gates}), encoding="utf-8")
    base, tuned = drop(40, 1, 0)
    record = record_with(EXACT, base, tuned, [GateSpec(**g) for g in gates])
    run = tmp_path / "run"
    save_record(run, record)
    for state, scores in (("base", base), ("lora", tuned)):
        save_predictions(run, state, "s", _rows(state, scores, "exact_match"))
    result = pytester.runpytest(str(folder / "suite.yaml"), "--harness-run", str(run), "-v",
                                "-W", "ignore::pytest.PytestAssertRewriteWarning")
    result.assert_outcomes(passed=1, failed=1, warnings=1)
    result.stdout.fnmatch_lines(["*lora::exact_match:max_drop=0.01 FAILED*", "*UNDERPOWERED*",
                                 "*GateWarning*underpowered*"])
    assert {g.decision for g in load_record(run).gates} == {"pass", "underpowered"}


def test_summary_and_report_verdict_count_underpowered_on_its_own():
    from harness.cli.summary import gate_tally
    from reports.overview import verdicts

    base, tuned = drop(40, 1, 0)
    gates = [MAX_DROP, GateSpec(metric="exact_match", min=0.0)]
    record = record_with(EXACT, base, tuned, gates)
    outcomes = [decide(record, "s", "lora", g) for g in gates]
    assert gate_tally(outcomes) == "gates: 1 of 2 pass, 1 underpowered"
    (v,) = verdicts(record, outcomes)
    assert "1 of 2 gates are underpowered (decided neither way) (s exact_match:max_drop=0.01)" in v["text"]
    assert "pass" not in v["text"].split(";")[-1] and v["status"] == "warn"
    base, tuned = drop(2000, lost=60, gained=20)
    failed = [decide(record_with(EXACT, base, tuned, [MAX_DROP]), "s", "lora", MAX_DROP)]
    assert gate_tally(failed) == "gates: 0 of 1 pass, 1 fails"


def test_a_scaffolded_suite_decides_its_min_delta_on_the_lower_bound(tmp_path):
    from harness.suitedef.scaffold import new_suite
    from harness.suitedef.suite import load_suite

    (gate,) = load_suite(new_suite(tmp_path / "fresh", "fresh", "prompt-completion")).spec.gates
    assert gate.kind == "min_delta" and gate.decide_on == "lower_bound"
