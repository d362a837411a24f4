"""The statistics behind the ratings summary: intervals, paired tests and rater agreement."""
from __future__ import annotations

import warnings

import krippendorff
import numpy as np
from scipy.stats import binomtest, wilcoxon

from harness import stats as harness_stats

RESAMPLES = 2000
RELIABLE, TENTATIVE = 0.800, 0.667
"""Krippendorff's conventional thresholds: at or above 0.800 draw conclusions, at or above 0.667 tentative ones."""


def bootstrap_ci(values, rng: np.random.Generator, level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return None
    if x.size == 1:
        return float(x[0]), float(x[0])
    means = x[rng.integers(0, x.size, size=(RESAMPLES, x.size))].mean(axis=1)
    return harness_stats.percentile_interval(means, level)


def wilson_ci(successes: float, n: int) -> tuple[float, float] | None:
    """Wilson score interval; unlike the bootstrap it stays honest at 0% and 100%."""
    if n == 0:
        return None
    low, high = harness_stats.wilson(successes, n)
    return round(low, 12), round(high, 12)  # no 0.9999999999999999


def wilcoxon_p(differences) -> float | None:
    """Two-sided Wilcoxon signed-rank p; 1.0 when every difference is zero (scipy refuses that case)."""
    d = np.asarray(differences, dtype=float)
    if d.size == 0:
        return None
    if not d.any():
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-sample and ties notes; the p-value is still the right one
        p = wilcoxon(d).pvalue
    return None if np.isnan(p) else float(p)


def sign_test_p(wins: int, losses: int) -> float | None:
    """Two-sided exact sign test of wins against losses (ties left out); None without any."""
    return float(binomtest(wins, wins + losses, 0.5).pvalue) if wins + losses else None


def alpha(matrix, level: str, domain) -> float | None:
    """Krippendorff's alpha of a raters × units matrix (NaN: not rated); None when it is undefined,
    i.e. no unit has two ratings or every rating has the same value (no variation to agree on)."""
    data = np.asarray(matrix, dtype=float)
    if data.ndim != 2 or data.shape[0] < 2:
        return None
    data = data[:, (~np.isnan(data)).sum(axis=0) >= 2]
    values = data[~np.isnan(data)]
    if values.size == 0 or np.unique(values).size < 2:
        return None
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level, value_domain=list(domain)))


def cohen_kappa(a, b, categories, quadratic: bool) -> float | None:
    """Cohen's kappa of two raters' labels, quadratically weighted (ordinal) or not (nominal)."""
    index = {c: i for i, c in enumerate(categories)}
    k = len(categories)
    observed = np.zeros((k, k))
    for x, y in zip(a, b):
        observed[index[x], index[y]] += 1
    if observed.sum() == 0:
        return None
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    i, j = np.indices((k, k))
    weights = ((i - j) / (k - 1)) ** 2 if quadratic else (i != j).astype(float)
    disagreement = (weights * expected).sum()
    return None if disagreement == 0 else float(1 - (weights * observed).sum() / disagreement)


def reliability(value: float | None) -> str | None:
    """`reliable`, `tentative` or `unreliable` for a Krippendorff's alpha; None for none."""
    if value is None:
        return None
    return "reliable" if value >= RELIABLE else "tentative" if value >= TENTATIVE else "unreliable"
