"""A judge against human raters: agreement with bootstrap intervals, the confusion table, bias probes and
the verdict.

Pure functions of numbers. Scores are compared on an ordered `scale` (1–5, or 0/0.5/1 for pairwise
loss/tie/win). Human ratings come as a raters × items matrix (NaN: not rated), the judge's as one value per
item. Agreement reuses `methods` (Krippendorff's alpha via the `krippendorff` package, Cohen's kappa) and
`agreement` (their bootstrap intervals over items).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from harness.common.lazy import lazy_module

from .agreement import alpha_interval, kappa_interval
from .methods import cohen_kappa, krippendorff_alpha

if TYPE_CHECKING:
    from scipy import stats as scipy_stats
else:  # heavy: imported on first use
    scipy_stats = lazy_module("scipy.stats")

SEED = 0
"""Seed of every calibration bootstrap: the same ratings and verdicts always give the same numbers."""


@dataclass(frozen=True)
class Coefficient:
    """An agreement coefficient with its 95% bootstrap interval (None where undefined)."""

    value: float | None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class JudgeAgreement:
    """The judge's agreement with the raters on one criterion, and the raters' with each other."""

    n_items: int
    judge_alpha: Coefficient
    kappa: Coefficient
    human_alpha: Coefficient
    human_items: int
    confusion: list[list[int]]


def to_scale(values, scale: Sequence[float]) -> np.ndarray:
    """Each value replaced by the nearest point of `scale`; a value halfway between two goes up (a mean human
    score of 3.5 becomes 4, as a rater would round it). NaN stays NaN."""
    points = np.asarray(scale, dtype=float)
    x = np.asarray(values, dtype=float)
    out = np.full(x.shape, np.nan)
    rated = ~np.isnan(x)
    distance = np.abs(x[rated][:, None] - points[None, :])
    # Nearest point; among equally near ones the highest (argmin of the reversed row picks the last).
    out[rated] = points[len(points) - 1 - np.argmin(distance[:, ::-1], axis=1)]
    return out


def human_means(humans: np.ndarray) -> np.ndarray:
    """Each item's mean human score (NaN where nobody rated it)."""
    data = np.asarray(humans, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an unrated item's mean is NaN, which is what we want
        return np.nanmean(data, axis=0) if data.size else np.full(data.shape[1:], np.nan)


def judge_agreement(humans, judge, scale: Sequence[float], seed: int = SEED) -> JudgeAgreement:
    """Agreement of `judge` (one score per item; NaN: unparsable) with `humans` (raters × items) on the items
    the judge scored and at least one human rated:

    - judge–human alpha: Krippendorff's ordinal alpha of the raters with the judge as one more rater;
    - kappa: Cohen's quadratic-weighted kappa of the judge against the rounded mean human score;
    - human–human alpha: the raters alone, on the same items (those rated at least twice carry it);
    - confusion: judge score (rows) × rounded mean human score (columns), item counts.

    The judge's score is put on the scale first (the median of several samples can fall between points)."""
    h, j = np.asarray(humans, dtype=float), to_scale(judge, scale)
    if h.ndim != 2 or h.shape[1] != j.shape[0]:
        raise ValueError("humans must be raters × items and judge one score per item")
    keep = ~np.isnan(j) & (~np.isnan(h)).any(axis=0)
    h, j = h[:, keep], j[keep]
    points = [float(v) for v in scale]
    both = np.vstack([h, j[None, :]])
    judge_alpha = _alpha(both, points, seed)
    human_alpha = _alpha(h, points, seed)
    human = to_scale(human_means(h), points)
    kappa = cohen_kappa(j, human, points, quadratic=True) if j.size else None
    kappa_ci = kappa_interval(j, human, points, True, np.random.default_rng(seed)) if kappa is not None else None
    index = {v: i for i, v in enumerate(points)}
    confusion = np.zeros((len(points), len(points)), dtype=int)
    for a, b in zip(j, human):
        confusion[index[float(a)], index[float(b)]] += 1
    return JudgeAgreement(
        n_items=int(keep.sum()), judge_alpha=judge_alpha, human_alpha=human_alpha,
        kappa=Coefficient(kappa, *(kappa_ci or (None, None))),
        human_items=int(((~np.isnan(h)).sum(axis=0) >= 2).sum()), confusion=confusion.tolist())


def _alpha(matrix: np.ndarray, scale: list[float], seed: int) -> Coefficient:
    value = krippendorff_alpha(matrix, "ordinal", scale)
    if value is None:
        return Coefficient(None)
    interval = alpha_interval(matrix, "ordinal", scale, np.random.default_rng(seed))
    return Coefficient(value, *(interval or (None, None)))


def spearman(x, y) -> float | None:
    """Spearman's rank correlation; None with fewer than three pairs or a constant side."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.size < 3 or np.unique(a).size < 2 or np.unique(b).size < 2:
        return None
    return float(scipy_stats.spearmanr(a, b).statistic)


def length_bias(judge, human_mean, lengths) -> tuple[float | None, float | None, float | None]:
    """(judge's Spearman rho with length, the humans' on the same items, judge − humans): a judge that rewards
    length beyond what the raters do shows a positive excess."""
    rho_judge, rho_human = spearman(judge, lengths), spearman(human_mean, lengths)
    excess = rho_judge - rho_human if rho_judge is not None and rho_human is not None else None
    return rho_judge, rho_human, excess


def flip_share(agreed: Sequence[bool | None]) -> tuple[float | None, int]:
    """(share of pairwise verdicts that changed when the two outputs swapped places, verdicts asked both ways);
    `agreed[i]` is whether the swapped verdict agreed (None: not asked swapped)."""
    asked = [a for a in agreed if a is not None]
    return (sum(not a for a in asked) / len(asked) if asked else None), len(asked)


def verdict(criterion: str, agreement: JudgeAgreement, min_items: int) -> tuple[bool, str]:
    """Calibrated when at least `min_items` items were rated by both and the judge–human alpha reaches at
    least the low end of the human–human alpha's interval (within or above it); else why not."""
    n, judge, human = agreement.n_items, agreement.judge_alpha, agreement.human_alpha
    if n == 0:
        return False, f"{criterion}: no item was both judged and rated"
    if n < min_items:
        return False, f"{criterion}: only {n} item{'s' if n != 1 else ''} rated by both; needs {min_items}"
    if human.value is None or human.low is None or human.high is None:
        why = "no item was rated by two raters" if agreement.human_items == 0 else "it is undefined"
        return False, f"{criterion}: human–human alpha unknown ({why}), so there is no bar to meet"
    bar = f"human–human {human.low:.2f}–{human.high:.2f}"
    if judge.value is None:
        return False, f"{criterion}: judge–human alpha undefined (no variation in the scores); {bar}"
    if judge.value < human.low:
        return False, f"{criterion}: judge–human alpha {judge.value:.2f} below {bar}"
    return True, f"{criterion}: judge–human alpha {judge.value:.2f} within or above {bar} on {n} items"
