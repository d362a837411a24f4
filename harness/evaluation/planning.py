"""`harness plan`: the test examples each gate needs to be decided at 80% power.

A gate with a margin (`max_drop`, `equivalent_within`, `min_delta`) needs n = ⌈((z₁₋α + z_power)·σ/δ)²⌉
examples (see `harness.stats.power`), σ being the standard deviation of one example's paired difference:
measured by a finished run (its comparison of the state with base, with the same standard-error floor the
gates use), or, for a pass/fail metric without a run, from a stated baseline pass rate (σ² = 2p(1 − p)).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import sqrt

from harness.record import BASE, GateSpec, MetricInfo, RunRecord
from harness.record.spec import MARGIN_GATES
from harness.stats import power

from .gates import gate_states
from .margins import spread


@dataclass(frozen=True)
class GatePlan:
    """One gate's sample size for one state (or for any state, planned from a rate)."""

    suite: str
    gate: str
    state: str
    needed: int | None
    """Examples that decide the gate at 80% power (None: see `note`)."""
    sd: float | None
    """One example's paired-difference sd the plan assumed."""
    source: str
    """Where `sd` came from."""
    have: int | None = None
    """Examples the run had, when planned from a run."""
    note: str = ""


def _design(gate: GateSpec) -> power.Design:
    return "tost" if gate.kind == "equivalent_within" else "one-sided"


def _margin(gate: GateSpec) -> float:
    return abs(gate.threshold or 0.0)


def _unplannable(gate: GateSpec) -> str:
    if gate.kind in ("significant_gain", "no_significant_regression"):
        return "names no effect size: state a margin (`max_drop`, `equivalent_within`) to plan it"
    if gate.kind == "min_delta" and not gate.threshold:
        return "a threshold of 0 names no effect size"
    return "not a paired comparison with base"


def plan_from_rate(suite: str, gates: list[GateSpec], metrics: dict[str, MetricInfo], rate: float,
                   alpha: float) -> list[GatePlan]:
    """Each gate's sample size from a stated baseline pass rate (pass/fail metrics only)."""
    out = []
    sd = power.sd_from_rate(rate)
    for gate in gates:
        if gate.kind not in MARGIN_GATES or not gate.threshold:
            out.append(GatePlan(suite, gate.label, "any", None, None, "", note=_unplannable(gate)))
            continue
        info = metrics.get(gate.metric or "")
        if info is None or info.kind != "passfail":
            out.append(GatePlan(suite, gate.label, "any", None, None, "",
                                note="a pass rate plans pass/fail metrics only; give a finished run (--from RUN)"))
            continue
        out.append(GatePlan(suite, gate.label, "any", power.examples_needed(sd, _margin(gate), alpha, _design(gate)),
                            sd, f"pass rate {rate:g}, both sides independent"))
    return out


def plan_from_run(record: RunRecord, run_name: str, gates: dict[str, list[GateSpec]] | None = None,
                  alpha: float | None = None) -> list[GatePlan]:
    """Each gate's sample size for each tuned state, from the variance the run observed."""
    alpha = record.alpha if alpha is None else alpha
    gates = gates if gates is not None else {s.name: list(s.gates) for s in record.suites}
    out = []
    for suite, suite_gates in gates.items():
        info = next((s for s in record.suites if s.name == suite), None)
        for gate in suite_gates:
            if info is None or gate.kind not in MARGIN_GATES or not gate.threshold:
                note = f"{run_name} has no suite {suite}" if info is None else _unplannable(gate)
                out.append(GatePlan(suite, gate.label, "any", None, None, "", note=note))
                continue
            for state in gate_states(gate, [b.name for b in record.backends]):
                c = next((c for c in record.comparisons if (c.suite, c.metric, c.baseline, c.state)
                          == (suite, gate.metric, BASE, state)), None)
                n = (c.n or sum((c.table or {}).values())) if c else 0
                if c is None or not n:
                    out.append(GatePlan(suite, gate.label, state, None, None, "",
                                        note=f"{run_name} did not compare {state} with base on {gate.metric}"))
                    continue
                m = info.metric(gate.metric or "")
                sd = spread(c, n, m.scale - m.lowest, alpha).se * sqrt(n)
                out.append(GatePlan(suite, gate.label, state,
                                    power.examples_needed(sd, _margin(gate), alpha, _design(gate)), sd,
                                    f"observed in {run_name}", have=n))
    return out


def render(plans: list[GatePlan], alpha: float) -> str:
    """The plan as lines of text."""
    lines = [f"Examples needed to decide each gate at 80% power (one-sided alpha {alpha:g}; equivalence: TOST):"]
    for p in plans:
        head = f"  {p.suite} · {p.gate} · {p.state}: "
        if p.needed is None:
            lines.append(head + p.note)
            continue
        have = ""
        if p.have is not None:
            have = f"; the run had {p.have}" + (" (enough)" if p.have >= p.needed else "")
        lines.append(head + f"{p.needed:,} examples (sd of one example's Δ {p.sd:.3g}, {p.source}{have})")
    return "\n".join(lines)
