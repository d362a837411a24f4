"""Group-sequential evaluation: boundaries against published values and simulation, and the overall
type I error of `--sequential`'s stopping rule over 2,000 simulated null runs."""
from __future__ import annotations

import numpy as np
import pytest

from harness.evaluation.margins import decide_margin
from harness.record import Comparison, GateSpec, MetricInfo
from harness.stats.sequential import STAGES, boundaries, nominal_alpha, spent

EXACT = MetricInfo(name="exact_match", kind="passfail")


def test_boundaries_match_published_obrien_fleming_lan_demets_values():
    """gsDesign's sfLDOF with four equally spaced looks at one-sided alpha 0.025: 4.3326, 2.9631, 2.3590,
    2.0141 (Jennison and Turnbull, table 7.6, give the same)."""
    assert boundaries(STAGES, 0.025) == pytest.approx([4.3326, 2.9631, 2.3590, 2.0141], abs=1e-3)
    assert boundaries((1.0,), 0.05) == pytest.approx([1.6449], abs=1e-3)  # one look: the fixed-sample z
    assert spent(1.0, 0.05) == pytest.approx(0.05) and spent(0.25, 0.05) < 0.001


def test_boundaries_spend_alpha_by_simulation():
    rng = np.random.default_rng(0)
    c = np.array(boundaries(STAGES, 0.05))
    steps = rng.normal(0, np.sqrt(0.25), size=(400_000, 4)).cumsum(axis=1)  # Brownian motion at the looks
    z = steps / np.sqrt(np.array(STAGES))
    crossed = z >= c
    first = np.where(crossed.any(axis=1), crossed.argmax(axis=1), -1)
    for k, t in enumerate(STAGES):  # the alpha spent by each look
        assert np.mean((first >= 0) & (first <= k)) == pytest.approx(spent(t, 0.05), abs=0.0015)


def simulate(n_final: int, lost: float, gained: float, margin: float, alpha: float, runs: int, seed: int):
    """`runs` sequential evaluations of a pass/fail metric: each example independently loses its pass with
    probability `lost` and gains one with `gained` (true Δ = gained − lost). At each stage the gate is decided
    by the harness's own `decide_margin` on the stage's bounds Δ̂ ∓ c_k·se; a run stops when it is conclusive.
    Returns (share of runs that passed, mean share of the examples evaluated)."""
    rng = np.random.default_rng(seed)
    critical = boundaries(STAGES, alpha)
    gate = GateSpec(metric="exact_match", max_drop=margin)
    # per example: −1 lost a pass, +1 gained one, 0 unchanged
    d = rng.choice([-1.0, 1.0, 0.0], p=[lost, gained, 1 - lost - gained], size=(runs, n_final))
    passed, used = 0, 0.0
    for r in range(runs):
        for k, share in enumerate(STAGES):
            n = round(share * n_final)
            x = d[r, :n]
            delta = float(x.mean())
            se = float(x.std(ddof=1) / np.sqrt(n))
            c = Comparison(suite="s", metric="exact_match", baseline="base", state="lora", delta=delta,
                           ci_low=delta - 1.96 * se, ci_high=delta + 1.96 * se, test="mcnemar-exact", p_value=1.0,
                           p_holm=1.0, significant=False, verdict="no detectable change", n=n, se=se,
                           bound_low=delta - critical[k] * se, bound_high=delta + critical[k] * se)
            m = decide_margin(gate, c, EXACT, n, nominal_alpha(critical[k]))
            if m.conclusive or k == len(STAGES) - 1:
                passed += m.decision == "pass"
                used += share
                break
    return passed / runs, used / runs


def test_sequential_type_one_error_holds_over_2000_null_runs():
    """The null of non-inferiority at its boundary: the tuned state truly loses exactly the margin (0.1 of the
    pass rate: 20% of examples lose a pass, 10% gain one). A pass is a type I error."""
    alpha, runs = 0.05, 2000
    error, used = simulate(400, lost=0.2, gained=0.1, margin=0.1, alpha=alpha, runs=runs, seed=1)
    power, used_alt = simulate(400, lost=0.1, gained=0.1, margin=0.1, alpha=alpha, runs=runs, seed=2)
    print(f"\nsequential max_drop 0.1, n = 400 in 4 stages, alpha {alpha}, {runs} runs each:"
          f"\n  under the null (true Δ = −0.1): type I error {error:.4f}, examples evaluated {used:.1%} "
          f"(saving {1 - used:.1%})"
          f"\n  with no true change (Δ = 0): pass rate {power:.3f}, examples evaluated {used_alt:.1%} "
          f"(saving {1 - used_alt:.1%})")
    assert error <= alpha + 0.01
    assert used < 1 and used_alt < 0.9  # stopping early saves examples


@pytest.mark.parametrize("gate, stage", [({"metric": "tool_name", "max_drop": 1.0}, 1),
                                         ({"metric": "tool_name", "equivalent_within": 0.001}, 4)])
def test_run_sequential_stops_at_the_first_stage_that_decides_every_margin_gate(tmp_path, capsys, gate, stage):
    """A margin of 1 (the whole pass rate) is decided by the first quarter; a margin of 0.001 never is, and the
    run evaluates the whole test split. Only the stage reached keeps its run directory."""
    from harness.cli import main
    from harness.record import load_record

    from .conftest import cut_suite

    suite = cut_suite("agent_tools", tmp_path / "suites" / "agent_tools", 40, 40, gates=[gate])
    out = tmp_path / "runs"
    assert main(["run", "--sequential", "--suite", str(suite), "--backend", "lora", "--out", str(out),
                 "--set", "lora.max_steps=10"]) == 0
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    record = load_record(run_dir)
    seq = record.sequential
    assert seq is not None and seq.stage == stage and seq.stopped_early == (stage < 4)
    assert record.suites[0].limit == (None if stage == 4 else round(STAGES[stage - 1] * 40))
    assert seq.bound_alpha == pytest.approx(nominal_alpha(seq.critical[stage - 1]))
    assert {c.n for c in record.comparisons} == {round(STAGES[stage - 1] * 40)}
    printed = capsys.readouterr().out
    assert f"sequential: stage {stage} of 4" in printed and f"Stage {stage} of 4" in printed
    if stage == 4:
        assert "undecided" in printed and record.gates[0].status in ("fail", "underpowered")
    else:
        assert record.gates[0].decision == "pass"


def test_sequential_refuses_what_it_cannot_honour(tmp_path, capsys):
    from harness.cli import main

    assert main(["run", "--sequential", "--limit", "5", "--out", str(tmp_path)]) == 2
    assert "drop --limit" in capsys.readouterr().err
    assert main(["run", "--sequential", "--no-cache", "--out", str(tmp_path)]) == 2
    assert "drop --no-cache" in capsys.readouterr().err
