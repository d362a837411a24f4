"""Intervals for one state's values, and paired comparisons of two states on the same examples.

What applies is decided by the metric's declared kind:

| kind       | value interval          | paired test                                       | delta interval   |
|------------|-------------------------|---------------------------------------------------|------------------|
| `passfail` | Wilson                  | exact McNemar (with the 2×2 table)                | paired bootstrap |
| `mean`     | bootstrap of the mean   | paired permutation (sign flips of differences)    | paired bootstrap |
| `corpus`   | bootstrap over examples | approximate randomization (sacrebleu's for BLEU)  | paired bootstrap |

All p-values of a run are Holm-adjusted together (`finalize`). Strategies trained with several
seeds are also compared across seeds (`compare_across_seeds`): the seed-paired t test of
`harness.stats.methods.seed_paired_t`, its p-values Holm-adjusted as a family of their own.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.common.lazy import lazy_module
from harness.metrics import Metric
from harness.record import Comparison, Prediction, SeedComparison
from harness.record.outcome import IntervalMethod, Verdict
from harness.stats import methods as stats

if TYPE_CHECKING:
    from sacrebleu import significance
else:  # heavy: imported on first use
    significance = lazy_module("sacrebleu.significance")


def value_interval(metric: Metric, rows: list[Prediction], name: str, seed: int) -> tuple[float, float, IntervalMethod]:
    """95% interval of one state's value on a suite, and its method."""
    if metric.kind == "passfail":
        k = int(sum(r.scores[name] for r in rows))
        return (*stats.wilson(k, len(rows)), "wilson")
    idx = stats.bootstrap_indices(len(rows), seed)
    if metric.kind == "mean":
        scores = np.array([r.scores[name] for r in rows], dtype=float)
        return (*stats.percentile_interval(scores[idx].mean(axis=1)), "bootstrap")
    corpus = _Corpus(metric, [r.output for r in rows], [r.reference for r in rows])
    return (*stats.percentile_interval(np.array([corpus.score(i) for i in idx])), "bootstrap")


def compare(metric: Metric, name: str, suite: str, baseline: str, base_rows: list[Prediction], state: str,
            state_rows: list[Prediction], seed: int, alpha: float = 0.05) -> dict[str, Any]:
    """The comparison of `state` against `baseline` on the examples both scored, as Comparison fields
    (Holm's adjustment and the verdict come later, in `finalize`); `alpha` sets the one-sided bounds."""
    by_id = {r.id: r for r in state_rows if name in r.scores}
    pairs = [(r, by_id[r.id]) for r in base_rows if r.id in by_id and name in r.scores]
    if not pairs:
        raise ValueError(f"{suite}: {state} and {baseline} share no examples scored by {name}")
    idx = stats.bootstrap_indices(len(pairs), seed)
    outputs_a, outputs_b = [a.output for a, _ in pairs], [b.output for _, b in pairs]
    if metric.kind == "corpus":
        return {**_compare_corpus(metric, baseline, state, pairs, idx, seed, alpha),
                "higher_is_better": metric.higher_is_better}
    a = np.array([x.scores[name] for x, _ in pairs], dtype=float)
    b = np.array([y.scores[name] for _, y in pairs], dtype=float)
    resampled = (b - a)[idx].mean(axis=1)
    low, high = stats.percentile_interval(resampled)
    common = dict(delta=float(b.mean() - a.mean()), ci_low=low, ci_high=high, higher_is_better=metric.higher_is_better,
                  **_spread(resampled, len(pairs), alpha))
    if metric.kind == "passfail":
        table = {"both_pass": int(((a == 1) & (b == 1)).sum()), "only_baseline": int(((a == 1) & (b == 0)).sum()),
                 "only_state": int(((a == 0) & (b == 1)).sum()), "both_fail": int(((a == 0) & (b == 0)).sum())}
        p = stats.mcnemar_exact(table["only_baseline"], table["only_state"])
        return dict(**common, test="mcnemar-exact", p_value=p, p_values={"mcnemar": p}, table=table,
                    mde=stats.mde_proportion(len(pairs)))
    mde = stats.mde_from_se(float(resampled.std(ddof=1)))
    if outputs_a == outputs_b:
        return dict(**common, test="identical outputs", p_value=1.0, p_values={}, mde=mde)
    p = stats.paired_permutation(a, b, seed)
    floor = stats.permutation_floor(a, b)
    how = f"resamples:{stats.PERMUTATIONS}|seed:{seed}" if floor is not None else "exact"
    return dict(**common, test="paired-permutation", p_value=p, p_values={"permutation": p}, mde=mde,
                p_floor=floor, signature=f"paired-permutation|{how}")


def _spread(resampled: np.ndarray, n: int, alpha: float) -> dict[str, Any]:
    """Δ's standard error and one-sided (1 − alpha) bounds from its paired bootstrap resamples."""
    low, high = np.percentile(resampled, [100 * alpha, 100 * (1 - alpha)])
    return dict(n=n, se=float(resampled.std(ddof=1)), bound_low=float(low), bound_high=float(high))


class _Corpus:
    """A corpus metric re-scored on resamples: by summing sentence statistics where the metric offers
    them (sacrebleu's trick: no re-tokenising), else by scoring the resampled corpus afresh."""

    def __init__(self, metric: Metric, outputs: list[str], references: list[str]):
        self.metric, self.outputs, self.references = metric, outputs, references
        fast = hasattr(metric, "sentence_stats")
        self.stats = metric.sentence_stats(outputs, references) if fast else None  # type: ignore[attr-defined]

    def score(self, idx=None) -> float:
        """The corpus score of the examples at `idx` (all of them when None)."""
        if self.stats is not None:
            rows = self.stats if idx is None else self.stats[idx]
            return self.metric.score_from_stats(rows.sum(0))  # type: ignore[attr-defined]
        if idx is None:
            return self.metric.corpus_score(self.outputs, self.references)
        return self.metric.corpus_score([self.outputs[i] for i in idx], [self.references[i] for i in idx])


def _compare_corpus(metric: Metric, baseline: str, state: str, pairs, idx, seed: int, alpha: float) -> dict[str, Any]:
    outputs_a, outputs_b = [a.output for a, _ in pairs], [b.output for _, b in pairs]
    refs = [a.reference for a, _ in pairs]
    ca, cb = _Corpus(metric, outputs_a, refs), _Corpus(metric, outputs_b, refs)
    delta = cb.score() - ca.score()
    deltas = np.array([cb.score(i) - ca.score(i) for i in idx])
    low, high = stats.percentile_interval(deltas)
    mde = stats.mde_from_se(float(deltas.std(ddof=1)))
    if outputs_a == outputs_b:
        # sacrebleu's randomization test reports p = 1/(trials+1) for identical systems by design;
        # identical outputs are no evidence of anything, so no test is run.
        return dict(delta=0.0, ci_low=0.0, ci_high=0.0, test="identical outputs", p_value=1.0, p_values={}, mde=mde,
                    n=len(pairs), se=0.0, bound_low=0.0, bound_high=0.0)
    if hasattr(metric, "sacrebleu_metric"):
        p_values, signature = _sacrebleu_tests(metric, baseline, outputs_a, state, outputs_b, refs, seed)
        floor = 1 / (SACREBLEU_AR_TRIALS + 1)
    else:
        p = stats.approximate_randomization(lambda o: _Corpus(metric, o, refs).score(), outputs_a, outputs_b, seed)
        p_values, signature = {"ar": p}, f"approximate-randomization|trials:{stats.AR_TRIALS}|seed:{seed}"
        floor = 1 / (stats.AR_TRIALS + 1)
    return dict(delta=delta, ci_low=low, ci_high=high, test="approximate-randomization", p_value=p_values["ar"],
                p_values=p_values, signature=signature, mde=mde, p_floor=floor, **_spread(deltas, len(pairs), alpha))


SACREBLEU_AR_TRIALS = 10_000
"""sacrebleu's default randomization trials: its p-value is at least 1/10,001."""


def _sacrebleu_tests(metric, baseline, outputs_a, state, outputs_b, refs, seed):
    p_values, signature = {}, None
    with _sacrebleu_seed(seed):
        for test in ("bs", "ar"):
            sigs, results = significance.PairedTest(named_systems=[(baseline, outputs_a), (state, outputs_b)],
                                                    metrics={metric.name: metric.sacrebleu_metric},
                                                    references=[refs], test_type=test)()
            (score_name,) = [k for k in results if k != "System"]
            p_values[test] = float(results[score_name][1].p_value)  # type: ignore[union-attr,arg-type]
            if test == "ar":
                signature = str(sigs[score_name])
    return p_values, signature


SACREBLEU_SEED_OFFSET = 12345
"""sacrebleu's own default seed. Its paired tests treat a seed of 0 as "no seed" (entropy from
the OS), so run seed s becomes sacrebleu seed 12345 + s: never 0, and seed 0 keeps its default."""


@contextmanager
def _sacrebleu_seed(seed: int):
    """sacrebleu reads its seed from the environment; set it for the test, then restore it."""
    old = os.environ.get("SACREBLEU_SEED")
    os.environ["SACREBLEU_SEED"] = str(SACREBLEU_SEED_OFFSET + seed)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SACREBLEU_SEED", None)
        else:
            os.environ["SACREBLEU_SEED"] = old


def finalize(raw: list[dict], alpha: float,
             record_type: type[Comparison] | type[SeedComparison] = Comparison) -> list:
    """Holm-adjust every p-value of the family together and decide each verdict (a gain is a change in the
    metric's better direction); each becomes a `record_type` (Comparison, or SeedComparison)."""
    adjusted = stats.holm([c["p_value"] for c in raw])
    out = []
    for c, p_holm in zip(raw, adjusted):
        c = dict(c)
        better = c["delta"] > 0 if c.pop("higher_is_better", True) else c["delta"] < 0
        significant = p_holm < alpha
        verdict: Verdict = ("no detectable change" if not significant or c["delta"] == 0
                            else "gain" if better else "loss")
        out.append(record_type(**c, p_holm=p_holm, significant=significant, verdict=verdict))
    return out


def compare_across_seeds(metric: Metric, name: str, baseline_rows: list[list[Prediction]],
                         rows: list[list[Prediction]], seed: int) -> dict[str, Any]:
    """A strategy against a baseline across training seeds, as SeedComparison fields (Holm's adjustment and
    the verdict come later, in `finalize`).

    `rows[s]` are the strategy's predictions when trained with the s-th seed, `baseline_rows[s]` the
    baseline's with the same seed (one list for `base`, which no seed changes). Examples are those every
    list scored. Per-example metrics use their scores; corpus metrics take the example component of the
    standard error from a paired bootstrap over examples (the same resamples for every seed and side).
    """
    ids = set.intersection(*({r.id for r in side if name in r.scores} for side in baseline_rows + rows))
    order = [r.id for r in rows[0] if r.id in ids]
    if not order:
        raise ValueError(f"the strategies share no examples scored by {name}")

    def table(side: list[Prediction]) -> list[Prediction]:
        by_id = {r.id: r for r in side}
        return [by_id[i] for i in order]

    a, b = [table(side) for side in baseline_rows], [table(side) for side in rows]
    a_full = a if len(a) == len(b) else a * len(b)
    common = dict(n=len(order), higher_is_better=metric.higher_is_better)
    if all([r.output for r in x] == [r.output for r in y] for x, y in zip(a_full, b)):
        zero = [0.0] * len(b)
        return dict(**common, deltas=zero, delta=0.0, seed_sd=0.0, se_seeds=0.0, se_examples=0.0, se=0.0,
                    df=float(len(b) - 1), t=0.0, ci_low=0.0, ci_high=0.0, test="identical outputs", p_value=1.0)
    if metric.kind == "corpus":
        refs = [r.reference for r in b[0]]
        corpora = [(_Corpus(metric, [r.output for r in x], refs), _Corpus(metric, [r.output for r in y], refs))
                   for x, y in zip(a_full, b)]
        idx = stats.bootstrap_indices(len(order), seed)
        resampled = np.array([np.mean([cy.score(i) - cx.score(i) for cx, cy in corpora]) for i in idx])
        result = stats.seed_paired_t([cy.score() - cx.score() for cx, cy in corpora],
                                     float(resampled.std(ddof=1)), len(order))
    else:
        scores_a, scores_b = (np.array([[r.scores[name] for r in side] for side in x]) for x in (a, b))
        result = stats.seed_paired_scores(scores_a, scores_b)
    fields = {k: getattr(result, k) for k in ("deltas", "delta", "seed_sd", "se_seeds", "se_examples", "se", "df",
                                              "t", "ci_low", "ci_high", "p_value")}
    return dict(**common, **fields, test="seed-paired t")
