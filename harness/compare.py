"""Paired comparisons of states on the same test examples, and intervals for single values.

Pass/fail metrics: Wilson intervals, exact McNemar tests with the 2×2 table, paired bootstrap
for the delta. Corpus metrics (BLEU, chrF): bootstrap intervals over examples, sacrebleu's
paired approximate-randomization and bootstrap tests with their signatures. All p-values of a
run are Holm-adjusted together.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np

from . import stats
from .metrics import Metric
from .record import Comparison


def value_interval(metric: Metric, rows: list[dict], name: str, seed: int) -> tuple[float, float, str]:
    """95% interval of one state's value on a suite."""
    if metric.passfail:
        k = int(sum(r["scores"][name] for r in rows))
        return (*stats.wilson(k, len(rows)), "wilson")
    sentence = metric.sentence_stats([r["output"] for r in rows], [r["reference"] for r in rows])
    idx = stats.bootstrap_indices(len(rows), seed)
    samples = np.array([metric.score_from_stats(sentence[i].sum(0)) for i in idx])
    return (*stats.percentile_interval(samples), "bootstrap")


def compare(metric: Metric, name: str, suite: str, baseline: str, base_rows: list[dict], state: str,
            state_rows: list[dict], seed: int) -> dict:
    """The comparison of `state` against `baseline`, as Comparison fields (Holm comes later)."""
    by_id = {r["id"]: r for r in state_rows}
    pairs = [(r, by_id[r["id"]]) for r in base_rows if r["id"] in by_id]
    if not pairs:
        raise ValueError(f"{suite}: {state} and {baseline} share no examples")
    n = len(pairs)
    idx = stats.bootstrap_indices(n, seed)
    if metric.passfail:
        a = np.array([b["scores"][name] for b, _ in pairs], dtype=float)
        b = np.array([s["scores"][name] for _, s in pairs], dtype=float)
        table = {"both_pass": int(((a == 1) & (b == 1)).sum()), "only_baseline": int(((a == 1) & (b == 0)).sum()),
                 "only_state": int(((a == 0) & (b == 1)).sum()), "both_fail": int(((a == 0) & (b == 0)).sum())}
        p = stats.mcnemar_exact(table["only_baseline"], table["only_state"])
        deltas = (b - a)[idx].mean(axis=1)
        low, high = stats.percentile_interval(deltas)
        return dict(delta=float(b.mean() - a.mean()), ci_low=low, ci_high=high, test="mcnemar-exact", p_value=p,
                    p_values={"mcnemar": p}, table=table, mde=stats.mde_proportion(n))
    outputs_a, outputs_b = [b["output"] for b, _ in pairs], [s["output"] for _, s in pairs]
    refs = [b["reference"] for b, _ in pairs]
    sa, sb = metric.sentence_stats(outputs_a, refs), metric.sentence_stats(outputs_b, refs)
    delta = metric.score_from_stats(sb.sum(0)) - metric.score_from_stats(sa.sum(0))
    deltas = np.array([metric.score_from_stats(sb[i].sum(0)) - metric.score_from_stats(sa[i].sum(0)) for i in idx])
    low, high = stats.percentile_interval(deltas)
    mde = stats.mde_from_se(float(deltas.std(ddof=1)))
    if outputs_a == outputs_b:
        # sacrebleu's randomization test reports p = 1/(trials+1) for identical systems by design;
        # identical outputs are no evidence of anything, so no test is run.
        return dict(delta=0.0, ci_low=0.0, ci_high=0.0, test="identical outputs", p_value=1.0, p_values={}, mde=mde)
    p_values, signature = _sacrebleu_tests(metric, baseline, outputs_a, state, outputs_b, refs, seed)
    return dict(delta=delta, ci_low=low, ci_high=high, test="approximate-randomization", p_value=p_values["ar"],
                p_values=p_values, signature=signature, mde=mde)


def _sacrebleu_tests(metric, baseline, outputs_a, state, outputs_b, refs, seed):
    from sacrebleu.significance import PairedTest

    p_values, signature = {}, None
    with _sacrebleu_seed(seed):
        for test in ("bs", "ar"):
            sigs, results = PairedTest(named_systems=[(baseline, outputs_a), (state, outputs_b)],
                                       metrics={metric.name: metric.sacrebleu_metric}, references=[refs],
                                       test_type=test)()
            (score_name,) = [k for k in results if k != "System"]
            p_values[test] = float(results[score_name][1].p_value)
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


def finalize(raw: list[dict], alpha: float) -> list[Comparison]:
    """Holm-adjust every p-value of the run together and decide each verdict."""
    adjusted = stats.holm([c["p_value"] for c in raw])
    out = []
    for c, p_holm in zip(raw, adjusted):
        significant = p_holm < alpha
        verdict = "no detectable change" if not significant or c["delta"] == 0 else ("gain" if c["delta"] > 0 else "loss")
        out.append(Comparison(**c, p_holm=p_holm, significant=significant, verdict=verdict))
    return out
