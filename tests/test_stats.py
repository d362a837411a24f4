"""Statistics cross-checked against references computed independently."""
from __future__ import annotations

import itertools
import subprocess
import sys
from math import comb
from pathlib import Path

import numpy as np
import pytest

from harness.metrics import make_metric
from harness.record import Prediction, load_predictions, load_record
from harness.stats import methods as stats
from harness.stats.compare import compare, finalize


@pytest.mark.parametrize("k, n, low, high", [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611)])
def test_wilson_matches_newcombe_1998(k, n, low, high):
    # Newcombe, Statistics in Medicine 17:857-872 (1998), Table I, method 3 (score, no continuity correction)
    assert stats.wilson(k, n) == pytest.approx((low, high), abs=5e-5)


def exact_two_sided(b: int, c: int) -> float:
    """Exact binomial test on discordant pairs, from first principles."""
    n, k = b + c, min(b, c)
    tail = sum(comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


@pytest.mark.parametrize("b, c", [(3, 12), (10, 10), (0, 7), (25, 40), (1, 0)])
def test_mcnemar_equals_an_independent_exact_binomial(b, c):
    assert stats.mcnemar_exact(b, c) == pytest.approx(exact_two_sided(b, c), rel=1e-9)


def test_holm_adjustment():
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([]) == []


def test_bootstrap_is_reproducible_for_a_seed():
    assert np.array_equal(stats.bootstrap_indices(50, seed=7), stats.bootstrap_indices(50, seed=7))
    assert not np.array_equal(stats.bootstrap_indices(50, seed=7), stats.bootstrap_indices(50, seed=8))


def rows(outputs, refs, metric, name):
    return [Prediction(id=str(i), state="s", suite="s", prompt="p", model_input="p", output=o, reference=r,
                       scores={name: metric.score(o, r).value}) for i, (o, r) in enumerate(zip(outputs, refs))]


def test_pass_fail_comparison_table_and_interval():
    m = make_metric("exact_match", "en", {})
    refs = [str(i) for i in range(40)]
    before = rows(["x"] * 30 + refs[30:], refs, m, "exact_match")   # 10 pass
    after = rows(refs[:28] + ["y"] * 12, refs, m, "exact_match")    # 28 pass, 2 of the first 10... see table
    c = compare(m, "exact_match", "s", "base", before, "lora", after, seed=0)
    assert c["table"] == {"both_pass": 0, "only_baseline": 10, "only_state": 28, "both_fail": 2}
    assert c["p_value"] == pytest.approx(exact_two_sided(10, 28))
    assert c["delta"] == pytest.approx(18 / 40) and c["ci_low"] < c["delta"] < c["ci_high"]
    (final,) = finalize([{"suite": "s", "metric": "exact_match", "baseline": "base", "state": "lora", **c}], 0.05)
    assert final.verdict == "gain" and final.significant and 0 < final.mde < 1


def test_corpus_comparison_uses_sacrebleu_paired_tests():
    m = make_metric("bleu", "zh", {})
    refs = ["我喜欢茶。", "你好，世界！", "他们明天想买苹果。", "我不喜欢咖啡。"] * 5
    same = compare(m, "bleu", "s", "base", rows(refs, refs, m, "bleu"), "lora", rows(refs, refs, m, "bleu"), seed=1)
    assert same["delta"] == 0 and same["p_value"] == 1.0 and same["test"] == "identical outputs"
    worse = rows(["我。"] * 20, refs, m, "bleu")
    c = compare(m, "bleu", "s", "base", rows(refs, refs, m, "bleu"), "lora", worse, seed=1)
    assert c["delta"] < 0 and c["ci_high"] < 0 and set(c["p_values"]) == {"ar", "bs"}
    assert "seed:12346" in c["signature"] and "tok:zh" in c["signature"]  # sacrebleu seed = 12345 + run seed


def test_run_record_has_intervals_comparisons_and_holm(small_run):
    record = load_record(small_run)
    for r in record.results:
        assert r.ci_low is not None and r.ci_low <= r.value + 1e-9 and r.value <= r.ci_high + 1e-9
    pairs = {(c.suite, c.metric, c.baseline, c.state) for c in record.comparisons}
    n_metrics = sum(len(s.metrics) for s in record.suites)
    assert len(pairs) == len(record.comparisons) == n_metrics * 3  # base→full, base→lora, full→lora
    for c in record.comparisons:
        assert c.p_holm >= c.p_value and c.verdict in ("gain", "loss", "no detectable change")
        assert (c.table is not None) == (c.test == "mcnemar-exact")
        assert c.test in ("mcnemar-exact", "approximate-randomization", "identical outputs")
    assert {m.kind for s in record.suites for m in s.metrics} == {"passfail", "corpus"}


def test_corpus_metrics_equal_the_sacrebleu_command_line(small_run, tmp_path):
    record = load_record(small_run)
    for state in record.states:
        preds = load_predictions(small_run, state, "translate_en_zh")
        hyp, ref = tmp_path / f"{state}.hyp", tmp_path / f"{state}.ref"
        hyp.write_text("".join(r.output.replace("\n", " ") + "\n" for r in preds), encoding="utf-8")
        ref.write_text("".join(r.reference + "\n" for r in preds), encoding="utf-8")
        cli = Path(sys.executable).with_name("sacrebleu")
        out = subprocess.run([str(cli), str(ref), "-i", str(hyp), "-m", "bleu", "chrf", "-tok", "zh", "-b", "-w", "4", "-f", "text"],
                             capture_output=True, text=True, check=True).stdout.split()
        assert float(out[0]) == pytest.approx(record.value(state, "translate_en_zh", "bleu"), abs=1e-4)
        assert float(out[1]) == pytest.approx(record.value(state, "translate_en_zh", "chrf"), abs=1e-4)


def test_wilson_equals_scipy():
    from scipy.stats import binomtest

    for n in range(1, 61):
        for k in range(n + 1):
            ci = binomtest(k, n).proportion_ci(method="wilson")
            assert stats.wilson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_paired_permutation_equals_exhaustive_sign_flips():
    rng = np.random.default_rng(3)
    a, b = rng.random(12), rng.random(12) + 0.15
    d = b - a
    flips = np.array(list(itertools.product([1, -1], repeat=len(d))))
    exact = np.mean(np.abs((flips * d).mean(axis=1)) >= abs(d.mean()) - 1e-12)
    assert stats.paired_permutation(a, b, seed=0) == pytest.approx(exact, rel=1e-9)
    assert stats.paired_permutation(a, a, seed=0) == 1.0


def test_mean_metric_comparison_uses_the_permutation_test():
    from harness.metrics import metric

    overlap = metric("overlap", kind="mean")(lambda out, ref: len(set(out) & set(ref)) / len(set(ref)))()
    refs = [f"word{i} other{i}" for i in range(30)]
    before = rows([r[:3] for r in refs], refs, overlap, "overlap")
    after = rows(refs[:20] + [r[:3] for r in refs[20:]], refs, overlap, "overlap")
    c = compare(overlap, "overlap", "s", "base", before, "lora", after, seed=0)
    a = np.array([r.scores["overlap"] for r in before])
    b = np.array([r.scores["overlap"] for r in after])
    assert c["test"] == "paired-permutation" and c["delta"] == pytest.approx(b.mean() - a.mean())
    assert c["p_value"] == pytest.approx(stats.paired_permutation(a, b, seed=0))
    assert c["ci_low"] < c["delta"] < c["ci_high"] and c["p_value"] < 0.001


def test_mean_interval_agrees_with_scipy_bootstrap():
    from scipy.stats import bootstrap

    from harness.metrics import metric
    from harness.stats.compare import value_interval

    scorer = metric("length", kind="mean")(lambda out, ref: len(out) / 10)()
    outputs = [str(10 ** (i % 7)) for i in range(80)]
    low, high, method = value_interval(scorer, rows(outputs, outputs, scorer, "length"), "length", seed=0)
    values = np.array([len(o) / 10 for o in outputs])
    ref = bootstrap((values,), np.mean, method="percentile", n_resamples=20_000, rng=np.random.default_rng(1))
    assert method == "bootstrap"
    assert (low, high) == pytest.approx((ref.confidence_interval.low, ref.confidence_interval.high), abs=0.02)


def test_generic_approximate_randomization_agrees_with_sacrebleu():
    """Our randomization test (for corpus metrics outside sacrebleu) against sacrebleu's own, on BLEU."""
    import sacrebleu
    from sacrebleu.significance import PairedTest

    refs = [f"the cat number {i} sat on the mat today" for i in range(60)]
    sys_a = [r if i % 3 else "a dog" for i, r in enumerate(refs)]
    sys_b = [r if i % 4 else "a dog" for i, r in enumerate(refs)]
    bleu = make_metric("bleu", "en", {})  # sentence statistics: the same scores as corpus_bleu, faster
    sentence = {o: bleu.sentence_stats([o], [r])[0] for o, r in zip(sys_a + sys_b, refs + refs)}
    assert bleu.score_from_stats(sum(sentence[o] for o in sys_a)) == pytest.approx(
        sacrebleu.corpus_bleu(sys_a, [refs]).score)
    ours = stats.approximate_randomization(lambda o: bleu.score_from_stats(sum(sentence[x] for x in o)), sys_a, sys_b,
                                           seed=0, trials=2000)
    _, res = PairedTest([("a", sys_a), ("b", sys_b)], {"bleu": sacrebleu.BLEU()}, [refs], test_type="ar",
                        n_samples=2000)()
    theirs = res["BLEU"][1].p_value
    assert 0.01 < theirs < 0.9 and ours == pytest.approx(theirs, abs=0.05)


def test_permutation_is_exact_over_the_nonzero_differences():
    """40 pairs, 4 of them differing by (1, 1, 0.5, −0.5), observed sum 2. A flip reaches |sum| ≥ 2 only when
    the two 1s share a sign (8 of the 16 flips), and then for 3 of the 4 signs of the ±0.5 pair: p = 6/16 =
    0.375 exactly. Resampling all 40 pairs 10,000 times reported about 0.38 instead."""
    a, b = np.zeros(40), np.zeros(40)
    b[:4] = (1, 1, 0.5, -0.5)
    flips = np.array(list(itertools.product([1, -1], repeat=4)))
    by_hand = np.mean(np.abs(flips @ b[:4]) >= 2 - 1e-12)
    assert by_hand == 0.375 and stats.paired_permutation(a, b, seed=0) == 0.375
    assert stats.permutation_floor(a, b) is None
    from scipy.stats import permutation_test

    resampled = permutation_test((b - a,), np.mean, permutation_type="samples", n_resamples=stats.PERMUTATIONS,
                                 vectorized=True, rng=np.random.default_rng(0)).pvalue
    assert resampled != 0.375 and abs(resampled - 0.375) < 0.02  # what the test reported before


def test_permutation_beyond_enumeration_resamples_and_has_a_floor():
    rng = np.random.default_rng(1)
    a, b = rng.random(30), rng.random(30) + 2  # every pair differs, all the same way
    p = stats.paired_permutation(a, b, seed=0)
    floor = stats.permutation_floor(a, b)
    assert floor == pytest.approx(2 / 10_001) and p == pytest.approx(floor)  # twice the one-sided 1/10,001


def test_a_p_value_at_the_resampling_floor_reads_as_below_it():
    from harness.record import Comparison

    common = dict(suite="s", metric="m", baseline="base", state="lora", delta=0.5, ci_low=0.4, ci_high=0.6,
                  test="paired-permutation", significant=True, verdict="gain")
    floored = Comparison(**common, p_value=1 / 10_001, p_holm=9 / 10_001, p_floor=1 / 10_001)
    assert floored.p_text() == "< 0.0009" and floored.p_text(adjusted=False) == "< 0.0001"
    exact = Comparison(**common, p_value=0.0004, p_holm=0.0036)
    assert exact.p_text() == "0.0036"
