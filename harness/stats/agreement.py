"""Bootstrap intervals of rater agreement: Krippendorff's alpha and Cohen's kappa over resampled items.

Both resample the rated items (units) with replacement, `RATING_RESAMPLES` times, and take the
central 95% of the coefficients. A resample's coefficient is computed from per-item contributions
(alpha: each item's coincidences; kappa: each item's pair of labels) weighted by how often the item
was drawn, so the whole bootstrap is a few matrix products instead of thousands of calls; the tests
check every resample against the `krippendorff` package and `methods.cohen_kappa`.
"""
from __future__ import annotations

from typing import Callable, Literal

import numpy as np

from .methods import LEVEL, RATING_RESAMPLES, percentile_interval

AlphaLevel = Literal["nominal", "ordinal", "interval"]
_CELLS = 4_000_000
"""Resamples × items drawn at once: bounds the bootstrap's memory (tens of MB) however many items were rated."""


def resample_counts(n_items: int, rng: np.random.Generator, resamples: int = RATING_RESAMPLES) -> np.ndarray:
    """resamples × n_items: how often each item is drawn in each bootstrap resample."""
    draws = rng.integers(0, n_items, size=(resamples, n_items))
    offsets = (np.arange(resamples) * n_items)[:, None]
    return np.bincount((draws + offsets).ravel(), minlength=resamples * n_items).reshape(resamples, n_items)


def pairable(matrix) -> np.ndarray:
    """The raters × items matrix (NaN: not rated) without the items fewer than two raters rated:
    only those carry agreement."""
    data = np.asarray(matrix, dtype=float)
    return data[:, (~np.isnan(data)).sum(axis=0) >= 2]


def alpha_of_resamples(data: np.ndarray, level: AlphaLevel, domain, counts: np.ndarray) -> np.ndarray:
    """Krippendorff's alpha of every resample: `data` holds pairable items (see `pairable`), `counts`
    how often each is drawn per resample (resamples × items); NaN where alpha is undefined."""
    values = np.asarray(list(domain), dtype=float)
    index = {v: i for i, v in enumerate(values)}
    k = len(values)
    per_item = np.zeros((data.shape[1], k, k))
    for u in range(data.shape[1]):
        column = data[:, u]
        n_c = np.bincount([index[v] for v in column[~np.isnan(column)]], minlength=k).astype(float)
        # The item's coincidences: every ordered pair of its values from different raters, weighted 1/(m − 1).
        per_item[u] = (np.outer(n_c, n_c) - np.diag(n_c)) / (n_c.sum() - 1)
    coincidences = (counts @ per_item.reshape(len(per_item), k * k)).reshape(-1, k, k)
    marginals = coincidences.sum(axis=2)
    n = marginals.sum(axis=1)
    delta = _squared_distances(values, marginals, level)
    observed = (coincidences * delta).sum(axis=(1, 2))
    expected = (marginals[:, :, None] * marginals[:, None, :] * delta).sum(axis=(1, 2)) / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected > 0, 1 - observed / expected, np.nan)


def _squared_distances(values: np.ndarray, marginals: np.ndarray, level: AlphaLevel) -> np.ndarray:
    """resamples × k × k metric differences δ² between values (ordinal ones depend on the marginals)."""
    k = len(values)
    if level == "nominal":
        return np.broadcast_to(1.0 - np.eye(k), (len(marginals), k, k))
    if level == "interval":
        return np.broadcast_to(np.subtract.outer(values, values) ** 2, (len(marginals), k, k))
    # Ordinal: the marginal mass between two ranks, each end counted half.
    cum = np.cumsum(marginals, axis=1)
    low, high = np.minimum.outer(np.arange(k), np.arange(k)), np.maximum.outer(np.arange(k), np.arange(k))
    between = cum[:, high] - cum[:, low] + marginals[:, low]
    return (between - (marginals[:, low] + marginals[:, high]) / 2) ** 2


def alpha_interval(matrix, level: AlphaLevel, domain, rng: np.random.Generator,
                   resamples: int = RATING_RESAMPLES, ci: float = LEVEL) -> tuple[float, float] | None:
    """Percentile bootstrap interval of Krippendorff's alpha, resampling the items rated at least twice;
    None when alpha is undefined on every resample (see `methods.krippendorff_alpha`)."""
    data = pairable(matrix)
    if data.shape[0] < 2 or data.shape[1] == 0:
        return None
    return _interval(data.shape[1], rng, resamples, ci, lambda counts: alpha_of_resamples(data, level, domain, counts))


def kappa_of_resamples(a, b, categories, quadratic: bool, counts: np.ndarray) -> np.ndarray:
    """Cohen's kappa of every resample of the paired labels `a`, `b` (see `methods.cohen_kappa`);
    NaN where it is undefined."""
    index = {c: i for i, c in enumerate(categories)}
    k = len(categories)
    cells = np.array([index[x] * k + index[y] for x, y in zip(a, b)], dtype=int)
    one_hot = np.zeros((len(cells), k * k))
    one_hot[np.arange(len(cells)), cells] = 1
    observed = (counts @ one_hot).reshape(-1, k, k)
    observed /= observed.sum(axis=(1, 2), keepdims=True)
    expected = observed.sum(axis=2)[:, :, None] * observed.sum(axis=1)[:, None, :]
    i, j = np.indices((k, k))
    weights = ((i - j) / (k - 1)) ** 2 if quadratic else (i != j).astype(float)
    disagreement = (weights * expected).sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(disagreement > 0, 1 - (weights * observed).sum(axis=(1, 2)) / disagreement, np.nan)


def kappa_interval(a, b, categories, quadratic: bool, rng: np.random.Generator,
                   resamples: int = RATING_RESAMPLES, ci: float = LEVEL) -> tuple[float, float] | None:
    """Percentile bootstrap interval of Cohen's kappa, resampling the items both raters rated."""
    if len(a) == 0:
        return None
    return _interval(len(a), rng, resamples, ci, lambda counts: kappa_of_resamples(a, b, categories, quadratic, counts))


def _interval(n_items: int, rng: np.random.Generator, resamples: int, ci: float,
              statistic: Callable[[np.ndarray], np.ndarray]) -> tuple[float, float] | None:
    """The percentile interval of `statistic` over resamples of the items, drawn a bounded batch at a time."""
    batch = max(1, _CELLS // n_items)
    samples = np.concatenate([statistic(resample_counts(n_items, rng, min(batch, resamples - done)))
                              for done in range(0, resamples, batch)])
    samples = samples[~np.isnan(samples)]
    return percentile_interval(samples, ci) if samples.size else None
