"""Statistics: intervals, paired tests, multiple-testing control and rater agreement.

The project's one statistics module: pure functions of numbers, used by the comparisons of a
run (which test applies to which metric kind is decided in `compare.py`) and by the summary of
human ratings. Maintained implementations (scipy, krippendorff) do the work where they exist;
the hand-written ones are tested against them.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from math import sqrt
from statistics import NormalDist
from typing import TYPE_CHECKING, Literal

import numpy as np

from harness.common.lazy import lazy_module

if TYPE_CHECKING:
    import krippendorff
    from scipy import stats as scipy_stats
else:  # heavy: imported on first use
    krippendorff = lazy_module("krippendorff")
    scipy_stats = lazy_module("scipy.stats")

LEVEL = 0.95
BOOTSTRAP_SAMPLES = 1000
PERMUTATIONS = 10_000
"""Resamples of the paired permutation test when its nonzero differences are too many to enumerate."""
EXACT_NONZERO = 20
"""The paired permutation test enumerates every sign flip of the nonzero differences up to this many
(2^20 flips); zero differences change no flip's statistic, so they never count."""
AR_TRIALS = 1000
"""Shuffles of the approximate randomization test for corpus metrics outside sacrebleu."""


def wilson(k: float, n: int, level: float = LEVEL) -> tuple[float, float]:
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
    """The central `level` interval of bootstrap samples."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return (float(low), float(high))


def mcnemar_exact(only_baseline: int, only_state: int) -> float:
    """Two-sided exact McNemar test: a binomial test on the discordant pairs."""
    discordant = only_baseline + only_state
    if discordant == 0:
        return 1.0
    return float(scipy_stats.binomtest(min(only_baseline, only_state), discordant, 0.5).pvalue)


def paired_permutation(a, b, seed: int, resamples: int = PERMUTATIONS) -> float:
    """Two-sided p of the mean paired difference b − a under random sign flips of each pair's difference.

    Only the nonzero differences matter (flipping a zero changes nothing), so the test is exact whenever
    they are at most `EXACT_NONZERO`: every flip is enumerated. Beyond that, `resamples` random flips by
    `scipy.stats.permutation_test`, whose two-sided p (twice the smaller one-sided (count + 1)/(resamples + 1))
    is bounded below by `permutation_floor`."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    d = d[d != 0]
    if d.size == 0:
        return 1.0
    if d.size <= EXACT_NONZERO:
        return _exact_sign_flip(d)
    result = scipy_stats.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=resamples,
                              alternative="two-sided", vectorized=True, rng=np.random.default_rng(seed))
    return float(min(1.0, result.pvalue))


def _exact_sign_flip(d: np.ndarray) -> float:
    """Share of all 2^k sign flips of the k differences whose |sum| reaches the observed one (two-sided,
    with a relative tolerance for float ties, as scipy's)."""
    k = d.size
    observed = abs(d.sum())
    tolerance = observed * 1e-12
    count = 0
    chunk = 1 << min(k, 16)
    bits = np.arange(k, dtype=np.int64)
    for start in range(0, 1 << k, chunk):
        codes = np.arange(start, start + chunk, dtype=np.int64)[:, None]
        signs = 1 - 2 * ((codes >> bits) & 1)
        count += int((np.abs(signs @ d) >= observed - tolerance).sum())
    return count / float(1 << k)


def permutation_floor(a, b, resamples: int = PERMUTATIONS) -> float | None:
    """The smallest p `paired_permutation` can report for these pairs when it resamples, 2/(resamples + 1)
    (two-sided); None when it enumerates (its p is then exact)."""
    nonzero = int(np.count_nonzero(np.asarray(b, dtype=float) - np.asarray(a, dtype=float)))
    return None if nonzero <= EXACT_NONZERO else 2 / (resamples + 1)


def approximate_randomization(score, outputs_a: list, outputs_b: list, seed: int, trials: int = AR_TRIALS) -> float:
    """Two-sided approximate randomization test of a corpus score: swap each example's two outputs
    with probability 1/2 and count shuffles whose absolute score difference exceeds the observed one.

    `score(outputs)` is the corpus score of a list of outputs (references fixed); p = (count+1)/(trials+1).
    Ties do not count, as in sacrebleu's test (and multeval's before it), so both corpus tests of a run
    read alike.
    """
    rng = np.random.default_rng(seed)
    observed = abs(score(outputs_b) - score(outputs_a))
    count = 0
    for _ in range(trials):
        swap = rng.random(len(outputs_a)) < 0.5
        x = [b if s else a for a, b, s in zip(outputs_a, outputs_b, swap)]
        y = [a if s else b for a, b, s in zip(outputs_a, outputs_b, swap)]
        count += abs(score(y) - score(x)) > observed
    return (count + 1) / (trials + 1)


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


# Strategies across training seeds.


@dataclass(frozen=True)
class SeedPaired:
    """A seed-aware comparison of two strategies (see `seed_paired_t`)."""

    deltas: list[float]
    delta: float
    seed_sd: float
    se_seeds: float
    se_examples: float
    se: float
    df: float
    t: float
    p_value: float
    ci_low: float
    ci_high: float


SEED_DF_GUARD = 0.10
"""The degrees of freedom are computed from this lower χ² quantile's upper bound of the seed variance
(see `seed_paired_t`)."""


def seed_paired_t(seed_deltas, se_examples: float, n: int, level: float = LEVEL) -> SeedPaired:
    """Is strategy B better than A beyond what retraining with another seed would change?

    Both strategies are trained with the same S seeds (seed s: the same initialisation seed and data
    order on both sides) and evaluated on the same n examples. `seed_deltas` holds d_s, the metric's
    difference B − A at seed s; `se_examples` the standard error, over examples, of the seed-averaged
    difference (for a per-example metric sqrt(Var_i(d̄_i) / n), d̄_i being example i's difference
    averaged over seeds).

    The standard error of the mean difference D = mean_s d_s adds the two sources of chance:
        se² = s²_d / S + se_examples²,
    retraining (seed-to-seed variance of d_s) and the test examples drawn. Under a model
    d_si = δ + u_s + v_i + w_si the two terms estimate σ²_u/S + σ²_v/n, each plus σ²_w/(nS): the
    interaction is counted twice, which errs on the safe side by a term that shrinks with n·S.
    t = D / se is referred to a t distribution with Welch–Satterthwaite degrees of freedom
        df = se_g⁴ / ((g²_d/S)² / (S − 1) + se_examples⁴ / (n − 1)),   se_g² = g²_d/S + se_examples²,
    which tend to S − 1 when seed noise dominates (three seeds: df ≈ 2 and a wide interval, the
    honest price of three trainings) and to n − 1 when it is negligible (the paired t-test on examples).

    One guard: plain Welch–Satterthwaite puts s²_d itself in the df (g²_d = s²_d) and treats it as
    exact, but with 2–4 degrees of freedom it is not; when it comes out small by chance, the standard
    error and the df it implies both err towards significance. Simulated with three seeds, 300
    pass/fail examples and seed noise dominating, plain Welch–Satterthwaite rejected a true null 6–8%
    of the time at alpha 5%. Here g²_d is the one-sided 90% upper confidence bound of the seed
    variance, s²_d (S − 1) / χ²_{S−1}(0.10), used for the df only: the false-positive rate stayed at or
    below alpha in every simulated regime (2–5 seeds, 60–300 examples, no to overwhelming seed noise),
    while keeping much of the paired t-test's power when seeds hardly matter (0.17 against 0.01 for
    df = S − 1 at a small true effect; tests/test_seed_stats.py).

    Why not a hierarchical bootstrap over seeds and examples: with the 2–5 seeds a run can afford,
    resampling seeds sees only a handful of distinct resamples and underestimates the seed variance
    by the factor (S − 1)/S, so its intervals are too narrow exactly where seeds matter; the t
    reference distribution carries the small-S uncertainty instead. Pairing by seed removes what
    two trainings with the same data order share. A single-seed paired test (McNemar, permutation)
    answers a narrower question: whether these two trained models differ on this population of
    examples, which they often do at large n even when the strategies do not.
    """
    d = np.asarray(seed_deltas, dtype=float)
    seeds = d.size
    if seeds < 2:
        raise ValueError("a seed-aware comparison needs at least two training seeds")
    var_seeds, var_examples = float(d.var(ddof=1)) / seeds, float(se_examples) ** 2
    se = sqrt(var_seeds + var_examples)
    delta = float(d.mean())
    guarded = var_seeds * (seeds - 1) / float(scipy_stats.chi2.ppf(SEED_DF_GUARD, seeds - 1))
    parts = guarded ** 2 / (seeds - 1) + (var_examples ** 2 / (n - 1) if n > 1 else 0.0)
    df = (guarded + var_examples) ** 2 / parts if parts > 0 else float(seeds - 1)
    if se == 0:  # every seed and example differs by exactly the same amount
        t, p, half = (0.0, 1.0, 0.0) if delta == 0 else (float("inf") if delta > 0 else float("-inf"), 0.0, 0.0)
    else:
        t = delta / se
        p = float(min(1.0, 2 * scipy_stats.t.sf(abs(t), df)))
        half = float(scipy_stats.t.ppf(0.5 + level / 2, df)) * se
    return SeedPaired(deltas=[float(x) for x in d], delta=delta, seed_sd=float(d.std(ddof=1)),
                      se_seeds=sqrt(var_seeds), se_examples=float(se_examples), se=se, df=float(df), t=float(t),
                      p_value=p, ci_low=delta - half, ci_high=delta + half)


def seed_paired_scores(a, b, level: float = LEVEL) -> SeedPaired:
    """`seed_paired_t` from per-example scores: `a` and `b` are seeds × examples arrays (row s trained with
    seed s; the same examples in the same column order). A side that was not trained (`base`) may be one
    row, the same for every seed."""
    a, b = np.atleast_2d(np.asarray(a, dtype=float)), np.atleast_2d(np.asarray(b, dtype=float))
    d = b - a
    per_example = d.mean(axis=0)
    n = per_example.size
    se_examples = sqrt(float(per_example.var(ddof=1)) / n) if n > 1 else 0.0
    return seed_paired_t(d.mean(axis=1), se_examples, n, level)


# Human ratings: intervals, paired tests and rater agreement.

RATING_RESAMPLES = 2000
RELIABLE, TENTATIVE = 0.800, 0.667
"""Krippendorff's conventional thresholds: at or above 0.800 draw conclusions, at or above 0.667 tentative ones."""


def bootstrap_ci(values, rng: np.random.Generator, level: float = LEVEL) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return None
    if x.size == 1:
        return float(x[0]), float(x[0])
    means = x[rng.integers(0, x.size, size=(RATING_RESAMPLES, x.size))].mean(axis=1)
    return percentile_interval(means, level)


def wilson_ci(successes: float, n: int) -> tuple[float, float] | None:
    """Wilson score interval; unlike the bootstrap it stays honest at 0% and 100%."""
    if n == 0:
        return None
    low, high = wilson(successes, n)
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
        p = scipy_stats.wilcoxon(d).pvalue
    return None if np.isnan(p) else float(p)


def sign_test_p(wins: int, losses: int) -> float | None:
    """Two-sided exact sign test of wins against losses (ties left out); None without any."""
    return float(scipy_stats.binomtest(wins, wins + losses, 0.5).pvalue) if wins + losses else None


def krippendorff_alpha(matrix, level: Literal["nominal", "ordinal", "interval", "ratio"], domain) -> float | None:
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
    """Krippendorff's reading of an agreement coefficient: reliable, tentative or unreliable."""
    if value is None:
        return None
    return "reliable" if value >= RELIABLE else "tentative" if value >= TENTATIVE else "unreliable"
