"""Sample sizes and detectable changes: closed form for proportions, simulation for the rest."""
from __future__ import annotations

import numpy as np
import pytest

from harness.cli import main
from harness.evaluation.planning import plan_from_rate, plan_from_run
from harness.record import GateSpec, MetricInfo
from harness.stats import power

from .test_decisions import EXACT, SCORE, comparison, drop, record_with


def closed_form_n(p: float, margin: float, alpha: float, beta: float = 0.2) -> int:
    """The textbook non-inferiority sample size for two proportions at a common rate p (normal approximation,
    per group): n = (z_{1−α} + z_{1−β})² · 2p(1 − p) / δ², with scipy's normal quantiles."""
    from scipy.stats import norm

    return int(np.ceil((norm.ppf(1 - alpha) + norm.ppf(1 - beta)) ** 2 * 2 * p * (1 - p) / margin ** 2))


@pytest.mark.parametrize("p, margin, alpha", [(0.3, 0.1, 0.05), (0.5, 0.05, 0.05), (0.8, 0.02, 0.025),
                                              (0.1, 0.05, 0.1)])
def test_plan_from_a_rate_matches_the_closed_form_for_proportions(p, margin, alpha):
    gate = GateSpec(metric="exact_match", max_drop=margin)
    (plan,) = plan_from_rate("s", [gate], {"exact_match": EXACT}, p, alpha)
    assert plan.needed == closed_form_n(p, margin, alpha)
    # and at that n the normal-approximation power is 80% (to rounding up)
    sd = power.sd_from_rate(p)
    assert 0.8 <= power.power_one_sided(plan.needed, sd, margin, alpha) < 0.81


def test_plan_names_what_it_cannot_plan():
    gates = [GateSpec(metric="exact_match", no_significant_regression=True), GateSpec(metric="score", max_drop=0.1),
             GateSpec(metric="exact_match", min=0.5)]
    plans = plan_from_rate("s", gates, {"exact_match": EXACT, "score": SCORE}, 0.3, 0.05)
    assert [p.needed for p in plans] == [None, None, None]
    assert "no effect size" in plans[0].note and "--from RUN" in plans[1].note and "not a paired" in plans[2].note


def test_plan_from_a_run_gives_the_examples_the_gate_needed():
    """A run of 400 mean-metric examples (sd of one difference 0.3); at the planned n, simulated runs with no
    true change pass the non-inferiority gate 80% of the time (2,000 simulations of the one-sided bound)."""
    rng = np.random.default_rng(0)
    base = rng.uniform(0.3, 0.7, 400)
    tuned = base + rng.normal(0, 0.3, 400)
    gate = GateSpec(metric="score", max_drop=0.05)
    record = record_with(SCORE, base, tuned, [gate])
    (plan,) = plan_from_run(record, "run r1")
    c = comparison(SCORE, base, tuned)
    assert plan.sd == pytest.approx(c.se * np.sqrt(400)) and plan.have == 400
    sd = float(np.std(tuned - base, ddof=1))
    assert plan.sd == pytest.approx(sd, rel=0.1)  # the bootstrap se agrees with the sample sd
    n = plan.needed
    sims = rng.normal(0, plan.sd, size=(2000, n))
    lower = sims.mean(axis=1) - 1.6449 * sims.std(axis=1, ddof=1) / np.sqrt(n)
    passed = float(np.mean(lower >= -0.05))
    print(f"planned n = {n}: simulated power {passed:.3f}")
    assert 0.77 <= passed <= 0.83


def test_detectable_and_examples_needed_are_inverse():
    for design in ("one-sided", "tost", "two-sided"):
        n = power.examples_needed(0.4, 0.05, 0.05, design)
        assert power.detectable(0.4 / np.sqrt(n), 0.05, design) <= 0.05 < power.detectable(0.4 / np.sqrt(n - 1),
                                                                                          0.05, design)
    assert power.examples_needed(0.4, 0.0, 0.05, "one-sided") is None


def test_plan_command(tmp_path, capsys):
    from harness.record import save_record

    base, tuned = drop(160, lost=10, gained=6, rate=0.3)
    record = record_with(EXACT, base, tuned, [GateSpec(metric="exact_match", max_drop=0.1),
                                              GateSpec(metric="exact_match", equivalent_within=0.1)])
    save_record(tmp_path / "run", record)
    assert main(["plan", "--from", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "s · exact_match:max_drop=0.1 · lora:" in out and "the run had 160 (enough)" in out
    assert "s · exact_match:equivalent_within=0.1 · lora:" in out
    assert main(["plan"]) == 2 and "--rate P" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad:
        main(["plan", "--rate", "1.5"])
    assert bad.value.code == 2 and "between 0 and 1" in capsys.readouterr().err


def test_the_standard_error_floor_keeps_agreement_from_claiming_certainty():
    info = MetricInfo(name="exact_match", kind="passfail")
    base, tuned = drop(40, 0, 0)
    c = comparison(info, base, tuned)
    assert c.se == 0 and power.se_floor(40, 1.0) == pytest.approx(np.sqrt(3) / 40)
