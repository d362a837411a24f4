"""Power: the change a paired comparison can resolve, and the examples a margin needs.

A gate with a margin (`max_drop`, `equivalent_within`, `min_delta`) is decided on the one-sided
(1 − alpha) bounds of the paired difference Δ. With σ the standard deviation of one example's
difference and n examples, Δ's standard error is σ/√n, and at 80% power:

- non-inferiority or a threshold (one one-sided test): the detectable change is (z₁₋α + z₀.₈)·σ/√n;
- equivalence (TOST, two one-sided tests, the true Δ at 0): (z₁₋α + z₀.₉)·σ/√n, since each side
  may miss with half of the 20%;

and the examples needed for a margin δ are ⌈((z₁₋α + z_power)·σ/δ)²⌉. For a pass rate p with no run to
measure σ, σ² = 2p(1 − p): two independent pass/fail outcomes, the unpaired worst case (pairing only
lowers it). Normal approximations throughout; `tests/test_power.py` checks them against the closed
form for proportions and against simulation.
"""
from __future__ import annotations

from math import ceil, sqrt
from statistics import NormalDist
from typing import Literal

POWER = 0.8
Design = Literal["one-sided", "tost", "two-sided"]
"""`one-sided`: non-inferiority and `min_delta` thresholds; `tost`: equivalence; `two-sided`: a significance test."""


def _z(q: float) -> float:
    return NormalDist().inv_cdf(q)


def z_sum(alpha: float, design: Design, power: float = POWER) -> float:
    """z of the test's level plus z of the power, for the design."""
    if design == "one-sided":
        return _z(1 - alpha) + _z(power)
    if design == "tost":
        return _z(1 - alpha) + _z(1 - (1 - power) / 2)
    return _z(1 - alpha / 2) + _z(power)


def detectable(se: float, alpha: float, design: Design, power: float = POWER) -> float:
    """The smallest margin (or change) decided with `power` given Δ's standard error."""
    return z_sum(alpha, design, power) * se


def examples_needed(sd: float, margin: float, alpha: float, design: Design, power: float = POWER) -> int | None:
    """Examples needed to decide a margin with `power`, given one example's difference sd; None for a zero
    margin (no effect size named)."""
    if margin <= 0:
        return None
    return max(2, ceil((z_sum(alpha, design, power) * sd / margin) ** 2))


def sd_from_rate(rate: float) -> float:
    """One example's difference sd for a pass rate, both sides independent (the unpaired worst case)."""
    if not 0 <= rate <= 1:
        raise ValueError(f"a pass rate is between 0 and 1, not {rate}")
    return sqrt(2 * rate * (1 - rate))


def se_floor(n: int, span: float) -> float:
    """The least standard error a paired Δ over n examples is credited with: zero changed examples in n rule
    out no more than a 3/n share of changes (the rule of three), each by up to the metric's span, so the
    standard error is taken as at least span·√3/n. Without it, two states that agree on 40 examples would
    look certain of a zero change."""
    return span * sqrt(3) / n if n > 0 else float("inf")


def power_one_sided(n: int, sd: float, margin: float, alpha: float, true_delta: float = 0.0) -> float:
    """Normal-approximation power of the one-sided test that Δ > −margin when the true Δ is `true_delta`."""
    if sd == 0:
        return 1.0 if true_delta > -margin else 0.0
    return NormalDist().cdf((true_delta + margin) * sqrt(n) / sd - _z(1 - alpha))
