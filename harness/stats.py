"""Statistics for before/after comparisons: intervals, paired tests, multiple-testing control.

Pure functions of numbers; which test applies to which metric is decided in `compare.py`.
"""
from __future__ import annotations

from math import sqrt
from statistics import NormalDist

import numpy as np
from scipy.stats import binomtest

LEVEL = 0.95
BOOTSTRAP_SAMPLES = 1000


def wilson(k: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n (good near 0 and 1, unlike the normal one)."""
    if n == 0:
        return (float("nan"), float("nan"))
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_indices(n: int, seed: int, samples: int = BOOTSTRAP_SAMPLES) -> np.ndarray:
    """`samples` × `n` example indices drawn with replacement; one draw serves both sides of a
    paired comparison, which is what makes it paired."""
    return np.random.default_rng(seed).integers(0, n, size=(samples, n))


def percentile_interval(samples: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return (float(low), float(high))


def mcnemar_exact(only_baseline: int, only_state: int) -> float:
    """Two-sided exact McNemar test: a binomial test on the discordant pairs."""
    discordant = only_baseline + only_state
    if discordant == 0:
        return 1.0
    return float(binomtest(min(only_baseline, only_state), discordant, 0.5).pvalue)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment (controls the family-wise error rate), in input order."""
    m = len(p_values)
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def mde_proportion(n: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest change in a pass rate detectable at this n (two-sided alpha, given power), in
    the worst case of a 50% rate; paired designs with few discordant examples do better."""
    if n == 0:
        return float("nan")
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return z * sqrt(0.5 / n)


def mde_from_se(se: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest detectable change given the standard error of the difference."""
    return (NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)) * se
