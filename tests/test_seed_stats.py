"""The seed-aware comparison on synthetic experiments whose truth is known.

Each simulated experiment trains two strategies with S seeds and evaluates them on n pass/fail
examples: example i passes for strategy k trained with seed s with probability
sigmoid(difficulty_i + effect_k + shared_s + own_ks). `shared_s` is what two trainings with the
same seed (data order) have in common; `own_ks` is the rest of the seed-to-seed variation.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from harness.stats import methods as stats

ALPHA = 0.05


def experiment(rng, effect: float, seed_sd: float, seeds: int = 3, n: int = 300, shared_sd: float = 0.3,
               item_sd: float = 1.0):
    """(a, b): seeds × n pass/fail matrices of strategies A and B (B's true advantage: `effect` in logits).
    Each strategy also finds some examples easier than the other does (`item_sd`)."""
    difficulty = rng.normal(0, 1.5, n)
    shared = rng.normal(0, shared_sd, (seeds, 1))

    def strategy(shift):
        logits = difficulty + rng.normal(0, item_sd, n) + shift + shared + rng.normal(0, seed_sd, (seeds, 1))
        return (rng.random((seeds, n)) < 1 / (1 + np.exp(-logits))).astype(float)

    return strategy(0.0), strategy(effect)


def rejection_rates(effect: float, seed_sd: float, runs: int, seed: int = 0) -> tuple[float, float]:
    """(seed-aware rejection rate, single-seed McNemar rejection rate on seed 0) over `runs` experiments."""
    rng = np.random.default_rng(seed)
    aware = single = 0
    for _ in range(runs):
        a, b = experiment(rng, effect, seed_sd)
        aware += stats.seed_paired_scores(a, b).p_value < ALPHA
        only_a, only_b = int(((a[0] == 1) & (b[0] == 0)).sum()), int(((a[0] == 0) & (b[0] == 1)).sum())
        single += stats.mcnemar_exact(only_a, only_b) < ALPHA
    return aware / runs, single / runs


@pytest.mark.parametrize("seed_sd", [0.0, 0.4, 0.8])
def test_calibrated_under_no_true_difference(seed_sd):
    runs = 1500
    aware, single = rejection_rates(0.0, seed_sd, runs)
    mc_error = 3 * np.sqrt(ALPHA * (1 - ALPHA) / runs)
    assert aware <= ALPHA + mc_error  # false positives at most alpha, within Monte-Carlo error
    if seed_sd > 0:
        # A single training per side mistakes seed noise for a difference between strategies.
        assert single > 4 * ALPHA


def test_power_for_a_large_true_difference():
    aware, _ = rejection_rates(1.5, 0.1, runs=300, seed=1)  # about +0.25 in pass rate
    assert aware >= 0.9


def test_the_guard_keeps_the_size_where_plain_welch_satterthwaite_does_not():
    """Three seeds, seed noise dominating: plain Welch–Satterthwaite df (the seed variance taken as exact)
    rejects a true null more often than alpha; the guarded df do not."""
    from scipy.stats import t as t_dist

    rng = np.random.default_rng(2)
    runs, plain, guarded = 1500, 0, 0
    for _ in range(runs):
        a, b = experiment(rng, 0.0, 0.8)
        r = stats.seed_paired_scores(a, b)
        var_seeds, var_examples = r.se_seeds ** 2, r.se_examples ** 2
        df = (var_seeds + var_examples) ** 2 / (var_seeds ** 2 / 2 + var_examples ** 2 / (a.shape[1] - 1))
        plain += 2 * t_dist.sf(abs(r.t), df) < ALPHA
        guarded += r.p_value < ALPHA
    assert plain / runs > ALPHA + 0.01 and guarded / runs <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / runs)


def test_a_difference_smaller_than_seed_noise_is_not_a_win():
    """Seed 0 alone shows B clearly ahead (McNemar and permutation tests agree); across seeds the
    difference is within what retraining changes, and the seed-aware test says so."""
    rng = np.random.default_rng(7)
    n = 1500
    difficulty = rng.normal(0, 1.5, n)

    def trained(shift):
        return (rng.random(n) < 1 / (1 + np.exp(-(difficulty + shift)))).astype(float)

    # The same true strategy effect (0.05 in logits); seed-to-seed shifts of ±0.3 dominate it.
    a = np.stack([trained(s) for s in (-0.30, 0.25, 0.10)])
    b = np.stack([trained(0.05 + s) for s in (0.30, -0.25, 0.05)])
    only_a, only_b = int(((a[0] == 1) & (b[0] == 0)).sum()), int(((a[0] == 0) & (b[0] == 1)).sum())
    assert b[0].mean() - a[0].mean() > 0.05
    assert stats.mcnemar_exact(only_a, only_b) < 0.001
    assert stats.paired_permutation(a[0], b[0], seed=0) < 0.001
    result = stats.seed_paired_scores(a, b)
    assert result.p_value > 0.2 and result.ci_low < 0 < result.ci_high
    assert result.seed_sd > abs(result.delta)  # the advantage does not exceed the seed-to-seed variation
    assert result.se_seeds > result.se_examples and result.df < 4  # seed noise dominates: df near S − 1


def test_without_example_variation_it_is_a_one_sample_t_test_on_seed_differences():
    rng = np.random.default_rng(3)
    a = rng.random((4, 50))
    shifts = np.array([0.10, 0.02, 0.07, 0.12])
    result = stats.seed_paired_scores(a, a + shifts[:, None])
    expected = scipy_stats.ttest_1samp(shifts, 0.0)
    assert result.se_examples == pytest.approx(0.0, abs=1e-12)
    assert result.df == pytest.approx(3) and result.t == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)
    low, high = expected.confidence_interval(0.95)
    assert (result.ci_low, result.ci_high) == (pytest.approx(low), pytest.approx(high))


def test_without_seed_variation_it_is_the_paired_t_test_on_examples():
    rng = np.random.default_rng(4)
    a_row, b_row = rng.random(40), rng.random(40)
    result = stats.seed_paired_scores(np.tile(a_row, (3, 1)), np.tile(b_row, (3, 1)))
    expected = scipy_stats.ttest_rel(b_row, a_row)
    assert result.seed_sd == 0 and result.df == pytest.approx(39)
    assert result.t == pytest.approx(expected.statistic) and result.p_value == pytest.approx(expected.pvalue)


def test_standard_error_and_degrees_of_freedom_by_hand():
    rng = np.random.default_rng(5)
    a, b = rng.random((3, 20)), rng.random((3, 20)) + 0.1
    S, n = a.shape
    d_seed = [sum(b[s, i] - a[s, i] for i in range(n)) / n for s in range(S)]
    mean_seed = sum(d_seed) / S
    var_seed = sum((x - mean_seed) ** 2 for x in d_seed) / (S - 1) / S
    d_example = [sum(b[s, i] - a[s, i] for s in range(S)) / S for i in range(n)]
    mean_example = sum(d_example) / n
    var_example = sum((x - mean_example) ** 2 for x in d_example) / (n - 1) / n
    guard = var_seed * (S - 1) / scipy_stats.chi2.ppf(0.10, S - 1)  # the seed variance's 90% upper bound
    df = (guard + var_example) ** 2 / (guard ** 2 / (S - 1) + var_example ** 2 / (n - 1))
    t = mean_seed / (var_seed + var_example) ** 0.5
    result = stats.seed_paired_scores(a, b)
    assert result.delta == pytest.approx(mean_seed) and result.deltas == pytest.approx(d_seed)
    assert result.se == pytest.approx((var_seed + var_example) ** 0.5) and result.df == pytest.approx(df)
    assert result.p_value == pytest.approx(2 * scipy_stats.t.sf(abs(t), df))


def test_base_is_one_row_for_every_seed_and_one_seed_is_refused():
    rng = np.random.default_rng(6)
    base, tuned = rng.random(30), rng.random((3, 30))
    one_row = stats.seed_paired_scores(base, tuned)
    assert one_row.delta == pytest.approx(stats.seed_paired_scores(np.tile(base, (3, 1)), tuned).delta)
    with pytest.raises(ValueError, match="two training seeds"):
        stats.seed_paired_scores(base, tuned[:1])
    same = stats.seed_paired_scores(tuned, tuned)
    assert same.p_value == 1.0 and same.delta == 0
