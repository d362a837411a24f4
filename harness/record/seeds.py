"""Strategies across training seeds: each one's spread, and seed-aware comparisons between them.

Written when a run trains every strategy with several seeds (`--train-seeds`). A single training
is one draw from what a strategy can give; these records say how much that draw varies and
whether one strategy beats another by more than that.
"""
from __future__ import annotations

from typing import Literal

from .outcome import Verdict
from .spec import Record

SeedTest = Literal["seed-paired t", "identical outputs"]


class SeedSpread(Record):
    """One strategy's value of one metric on one suite, across its training seeds."""

    strategy: str
    """The strategy (a state name without `@seedN`)."""
    suite: str
    """The suite."""
    metric: str
    """The metric."""
    seeds: list[int]
    """The training seeds, in order."""
    values: list[float]
    """The metric's value for each seed's state, in seed order."""
    mean: float
    """Mean over seeds."""
    sd: float
    """Sample standard deviation over seeds (n − 1 in the denominator): the seed-to-seed variation."""
    low: float
    """Lowest value over seeds."""
    high: float
    """Highest value over seeds."""


class SeedComparison(Record):
    """Two strategies (or a strategy and `base`) compared across training seeds, paired by seed and example.

    Per seed s, d_s is the metric's difference on the same test examples between the two strategies
    trained with seed s (same data order). The standard error adds the seed-to-seed variance of d_s
    (s²_d / S) to the example-sampling variance of the seed-averaged difference; the t statistic uses
    Welch–Satterthwaite degrees of freedom, close to S − 1 when seed noise dominates
    (`harness.stats.methods.seed_paired_t`)."""

    suite: str
    """The suite."""
    metric: str
    """The metric."""
    baseline: str
    """The strategy compared against (`base`: the untuned model, the same for every seed)."""
    strategy: str
    """The strategy compared."""
    seeds: list[int]
    """Training seeds paired."""
    n: int
    """Test examples both sides scored."""
    deltas: list[float]
    """d_s = strategy − baseline for each seed, in seed order."""
    delta: float
    """Mean of d_s."""
    seed_sd: float
    """Standard deviation of d_s over seeds."""
    se_seeds: float
    """Seed component of the standard error: s_d / √S."""
    se_examples: float
    """Example component: the standard error of the seed-averaged difference over examples (per-example
    differences for pass/fail and mean metrics; a paired bootstrap over examples for corpus metrics)."""
    se: float
    """√(se_seeds² + se_examples²)."""
    df: float
    """Welch–Satterthwaite degrees of freedom."""
    t: float
    """delta / se."""
    ci_low: float
    """Lower end of the 95% interval of delta (t quantile at df)."""
    ci_high: float
    """Upper end of the 95% interval of delta."""
    test: SeedTest
    """`seed-paired t`, or `identical outputs` when both sides generated the same text everywhere (p = 1)."""
    p_value: float
    """Two-sided p of the t test, before adjustment."""
    p_holm: float
    """Holm-adjusted over the run's seed-aware comparisons."""
    significant: bool
    """p_holm < alpha."""
    verdict: Verdict
    """`gain` or `loss` (in the metric's better direction) when significant, else `no detectable change`."""
