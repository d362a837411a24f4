"""Gates with a margin, decided on the paired interval, and the power each gate had.

`max_drop: δ` (non-inferiority), `equivalent_within: δ` (TOST) and `min_delta: t` with
`decide_on: lower_bound` read the one-sided (1 − alpha) bounds [L, U] of the paired Δ that the
comparison recorded (the alpha and 1 − alpha percentiles of its paired bootstrap):

| gate | passes when | fails outright when |
|---|---|---|
| `max_drop: δ` | L ≥ −δ (Δ in the metric's better direction) | U < −δ |
| `equivalent_within: δ` | −δ < L and U < δ (both one-sided tests of TOST) | U < −δ or L > δ |
| `min_delta: t` (`lower_bound`) | L ≥ t | U < t |

In between the data decide neither way. Such a gate fails when the run had the power to decide it
(its margin is at least the change detectable at 80% power with this n and the observed variance:
then an undecided gate is evidence against it), and is `underpowered` otherwise: not a pass.
The standard error is taken as at least `harness.stats.power.se_floor` (the rule of three), so 40
examples on which two states agree do not claim a certain zero change.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import sqrt
from statistics import NormalDist

from harness.record import Comparison, GateSpec, MetricInfo
from harness.record.outcome import GateDecision
from harness.stats import power

Z95 = NormalDist().inv_cdf(0.975)


@dataclass(frozen=True)
class Spread:
    """Δ's one-sided bounds and standard error, widened to the standard-error floor."""

    low: float
    high: float
    se: float
    n: int


@dataclass(frozen=True)
class Decision:
    """A paired gate's outcome with its power."""

    decision: GateDecision
    detectable: float | None
    powered: bool | None
    examples_needed: int | None
    text: str
    warning: str | None = None
    conclusive: bool = True
    """Whether the bounds decided it (pass, or fail outright); False when it fails or is underpowered only
    because the interval straddles the margin (more examples could still decide it)."""


def spread(c: Comparison, n: int, span: float, alpha: float) -> Spread:
    """The bounds a gate decides on. Records without one-sided bounds fall back to the two-sided 95% interval
    (at alpha 0.05, a wider interval than the one-sided 95% bounds: the safe side)."""
    if c.bound_low is None or c.bound_high is None or c.se is None:
        low, high, se = c.ci_low, c.ci_high, (c.ci_high - c.ci_low) / (2 * Z95)
    else:
        low, high, se = c.bound_low, c.bound_high, c.se
    floor = power.se_floor(n, span)
    if se < floor:
        z = NormalDist().inv_cdf(1 - alpha)
        low, high, se = min(low, c.delta - z * floor), max(high, c.delta + z * floor), floor
    return Spread(low=low, high=high, se=se, n=n)


def decide_margin(gate: GateSpec, c: Comparison, info: MetricInfo, n: int, alpha: float) -> Decision:
    """A `max_drop`, `equivalent_within` or `min_delta` gate against its comparison with base."""
    s = spread(c, n, info.scale - info.lowest, alpha)
    d = info.digits + 1
    if gate.kind == "max_drop":
        margin = gate.max_drop or 0.0
        sign = 1 if info.higher_is_better else -1
        low, high = (s.low, s.high) if sign > 0 else (-s.high, -s.low)
        passed, failed, design = low >= -margin, high < -margin, "one-sided"
        what = f"drop margin {margin:g}" + ("" if sign > 0 else " (lower is better: Δ negated)")
    elif gate.kind == "equivalent_within":
        margin = gate.equivalent_within or 0.0
        low, high = s.low, s.high
        passed, failed, design = -margin < low and high < margin, high < -margin or low > margin, "tost"
        what = f"equivalence margin ±{margin:g}"
    else:
        margin = abs(gate.min_delta or 0.0)
        low, high = s.low, s.high
        passed, failed, design = low >= (gate.min_delta or 0.0), high < (gate.min_delta or 0.0), "one-sided"
        what = f"threshold {gate.min_delta:+g}"
    detectable = power.detectable(s.se, alpha, design)  # type: ignore[arg-type]
    powered = None if margin == 0 else margin >= detectable
    needed = power.examples_needed(s.se * sqrt(n), margin, alpha, design)  # type: ignore[arg-type]
    text = (f"Δ = {c.delta:+.{d}f}, one-sided {100 * (1 - alpha):g}% bounds [{s.low:+.{d}f}, {s.high:+.{d}f}], "
            f"{what}; detectable at 80% power {detectable:.{d}f} (n = {n})")
    if gate.kind == "min_delta" and gate.decide_on != "lower_bound":
        passed = c.delta >= (gate.min_delta or 0.0)
        warning = None
        if powered is False:
            warning = (f"underpowered: {n} examples resolve ±{detectable:.{d}f}, not the threshold "
                       f"{gate.min_delta:+g} (~{needed} would); decided on the point Δ (`decide_on: lower_bound` "
                       "decides on the interval)")
        return Decision("pass" if passed else "fail", detectable, powered, needed, text, warning, conclusive=False)
    decision: GateDecision = ("pass" if passed else "fail" if failed or powered is not False else "underpowered")
    return Decision(decision, detectable, powered, needed, text, conclusive=passed or failed)


def detectable_change(c: Comparison, info: MetricInfo, n: int, alpha: float) -> float:
    """The two-sided test's detectable change at 80% power (significance gates, which name no margin)."""
    return power.detectable(spread(c, n, info.scale - info.lowest, alpha).se, alpha, "two-sided")
