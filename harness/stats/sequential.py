"""Group-sequential boundaries: look at the data at a few stages and keep the overall alpha.

`harness run --sequential` evaluates the test split in seeded stages (25%, 50%, 75%, 100%) and
stops at the first stage where every margin gate is decided. Looking four times at a one-sided
bound of nominal level alpha would wrongly pass a gate more often than alpha; instead stage k uses
the critical value c_k of an error-spending rule: O'Brien–Fleming-type spending by Lan and DeMets,

    α(t) = 2 − 2·Φ(z₁₋α/₂ / √t),   t = the share of the examples evaluated,

which spends almost nothing early (c₁ ≈ 4.3 at a quarter, so only a clear result stops a run) and
leaves the last look close to the fixed-sample z (2.01 instead of 1.96 at one-sided 0.025). Each
c_k solves P(Z₁ < c₁, …, Z_{k−1} < c_{k−1}, Z_k ≥ c_k) = α(t_k) − α(t_{k−1}) under the null, the
Z_k being the statistics of nested samples (corr(Z_i, Z_j) = √(t_i/t_j)); the probability is
computed by numerical integration of the Brownian-motion density on a grid (Armitage, McPherson
and Rowe's recursion). The bounds Δ̂ ∓ c_k·se are then repeated confidence bounds (Jennison and
Turnbull): they cover the true Δ at every stage at once with probability ≥ 1 − alpha, so a gate
decided at any stage is wrong at most alpha of the time.
"""
from __future__ import annotations

from math import sqrt
from statistics import NormalDist

import numpy as np

from harness.record import Sequential

STAGES = (0.25, 0.5, 0.75, 1.0)
"""The shares of the test split evaluated at each look."""
RULE = "O'Brien-Fleming-type error spending (Lan-DeMets)"
_STEP, _SPAN = 0.002, 9.0


def spent(t: float, alpha: float) -> float:
    """The one-sided alpha spent by information fraction t (Lan–DeMets, O'Brien–Fleming type)."""
    if t <= 0:
        return 0.0
    return 2 - 2 * NormalDist().cdf(NormalDist().inv_cdf(1 - alpha / 2) / sqrt(t))


def boundaries(fractions: tuple[float, ...] | list[float], alpha: float) -> list[float]:
    """The one-sided critical z of each look at these increasing information fractions (the last ≤ 1)."""
    grid = np.arange(-_SPAN, _SPAN + _STEP / 2, _STEP)
    density = None
    previous_t, previous_spent = 0.0, 0.0
    out = []
    for t in fractions:
        step = t - previous_t
        if step <= 0:
            raise ValueError("information fractions must increase")
        kernel = np.exp(-grid ** 2 / (2 * step)) / sqrt(2 * np.pi * step) * _STEP
        if density is None:  # B_t ~ N(0, t)
            density = kernel / _STEP
        else:
            density = np.convolve(density, kernel, mode="same")
        target = spent(t, alpha) - previous_spent
        tail = np.cumsum(density[::-1])[::-1] * _STEP  # P(B ≥ grid point, not stopped before)
        i = min(max(int(np.searchsorted(-tail, -target)), 1), grid.size - 1)  # first point with tail ≤ target
        share = (tail[i - 1] - target) / (tail[i - 1] - tail[i]) if tail[i - 1] > tail[i] else 1.0
        b = grid[i - 1] + share * _STEP - _STEP / 2  # interpolated; a grid point holds the mass ±step/2 around it
        out.append(float(b / sqrt(t)))
        density = np.where(grid < b, density, 0.0)
        previous_t, previous_spent = t, previous_spent + target
    return out


def stage_record(stage: int, alpha: float = 0.05) -> Sequential:
    """What a run evaluated at `stage` (0-based) records: the rule, its critical values and the stage's level."""
    critical = boundaries(STAGES, alpha)
    return Sequential(rule=RULE, stages=list(STAGES), critical=critical, stage=stage + 1,
                      bound_alpha=nominal_alpha(critical[stage]), stopped_early=stage + 1 < len(STAGES))


def nominal_alpha(critical: float) -> float:
    """The one-sided level of a critical z: the alpha a fixed-sample bound at this z would have."""
    return 1 - NormalDist().cdf(critical)
