"""A judge measured against human raters: agreement checked against the `krippendorff` package and hand-worked
tables, synthetic raters and judges of known agreement, the refusals, the bias probes, and the calibration
assembled from imported rating rows."""
from __future__ import annotations

from fractions import Fraction

import krippendorff
import numpy as np
import pytest

from harness.evaluation.calibration import calibrate, self_judged
from harness.record import CalibrationRule, JudgeCost, JudgeResult, JudgeVerdict
from harness.stats.calibration import flip_share, judge_agreement, length_bias, spearman, to_scale, verdict

SCALE = [1.0, 2.0, 3.0, 4.0, 5.0]
RULE = CalibrationRule()


def raters(quality: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """A rater of the true quality: quality plus normal noise, rounded to the 1–5 scale."""
    return np.clip(np.floor(quality + rng.normal(0, noise, quality.size) + 0.5), 1, 5)


def synthetic(n: int = 200, humans: int = 3, noise: float = 0.7, seed: int = 1):
    rng = np.random.default_rng(seed)
    quality = rng.uniform(1, 5, n)
    return quality, np.vstack([raters(quality, noise, rng) for _ in range(humans)]), rng


def test_to_scale_rounds_halves_up_and_keeps_nan():
    assert to_scale([1.2, 3.5, 4.49, 5.7, np.nan], SCALE).tolist()[:4] == [1.0, 4.0, 4.0, 5.0]
    assert np.isnan(to_scale([np.nan], SCALE)[0])
    assert to_scale([0.25, 0.75, 0.2], [0.0, 0.5, 1.0]).tolist() == [0.5, 1.0, 0.0]


def test_alphas_are_the_krippendorff_package_on_the_judge_as_one_more_rater():
    _, humans, rng = synthetic(n=60)
    humans[0, :10] = np.nan  # a rater who skipped some items
    judge = raters(np.nanmean(humans, axis=0), 0.8, rng)
    judge[5] = np.nan  # an unparsable answer: that item is left out
    a = judge_agreement(humans, judge, SCALE)
    keep = np.arange(60) != 5
    both = np.vstack([humans[:, keep], judge[None, keep]])
    expected = krippendorff.alpha(reliability_data=both, level_of_measurement="ordinal", value_domain=SCALE)
    alone = krippendorff.alpha(reliability_data=humans[:, keep], level_of_measurement="ordinal", value_domain=SCALE)
    assert a.n_items == 59 and a.human_items == 59
    assert a.judge_alpha.value == pytest.approx(expected, abs=1e-12)
    assert a.human_alpha.value == pytest.approx(alone, abs=1e-12)
    assert a.judge_alpha.low < a.judge_alpha.value < a.judge_alpha.high
    assert sum(map(sum, a.confusion)) == 59


def test_quadratic_kappa_and_confusion_on_a_hand_worked_table():
    # Pairwise scale loss 0 / tie 0.5 / win 1; one rater, so the rounded mean human is that rater.
    # (judge, human) index pairs: (0,0) (0,1) (1,1) (2,2) (2,1) (2,2); weights ((i − j)/2)²: 1/4 one apart, 1 two apart.
    # Observed weighted disagreement: (1/4 + 1/4) / 6 = 1/12.
    # Marginals: judge 2, 1, 3; human 1, 3, 2. Expected: Σ w r_i c_j / 36 = (2·3/4 + 2·2 + 1·1/4 + 1·2/4 + 3·1
    # + 3·3/4) / 36 = 11.5/36. Kappa = 1 − (3/36)/(11.5/36) = 17/23.
    judge = np.array([0, 0, 0.5, 1, 1, 1])
    human = np.array([[0, 0.5, 0.5, 1, 0.5, 1]])
    a = judge_agreement(human, judge, [0.0, 0.5, 1.0])
    assert a.kappa.value == pytest.approx(float(Fraction(17, 23)), abs=1e-12)
    assert a.confusion == [[1, 1, 0], [0, 1, 0], [0, 1, 2]]
    assert a.human_alpha.value is None and a.human_items == 0  # one rater: no human–human agreement


def test_kappa_compares_the_judge_with_the_rounded_mean_of_the_raters():
    humans = np.array([[1, 2, 4, 5, 3], [2, 2, 5, 5, np.nan]], dtype=float)  # means 1.5 2 4.5 5 3 → 2 2 5 5 3
    judge = np.array([2, 2, 5, 5, 3], dtype=float)
    a = judge_agreement(humans, judge, SCALE)
    assert a.kappa.value == pytest.approx(1.0) and np.trace(np.array(a.confusion)) == 5


def test_a_judge_that_rates_like_one_more_human_recovers_the_raters_alpha_within_its_interval():
    quality, humans, rng = synthetic()
    judge = raters(quality, 0.7, rng)  # exchangeable with the raters: its agreement with them is theirs
    a = judge_agreement(humans, judge, SCALE)
    # The known agreement: the raters' alpha on a large independent sample of the same process.
    big_q = np.random.default_rng(99).uniform(1, 5, 20_000)
    big_rng = np.random.default_rng(100)
    truth = krippendorff.alpha(reliability_data=np.vstack([raters(big_q, 0.7, big_rng) for _ in range(2)]),
                               level_of_measurement="ordinal", value_domain=SCALE)
    assert a.judge_alpha.low <= truth <= a.judge_alpha.high
    ok, reason = verdict("helpfulness", a, 30)
    assert ok and "within or above human–human" in reason


def test_a_noisy_judge_and_a_judge_that_always_says_5_are_refused():
    quality, humans, rng = synthetic()
    noisy = judge_agreement(humans, raters(quality, 2.5, rng), SCALE)
    ok, reason = verdict("helpfulness", noisy, 30)
    assert not ok and reason.startswith(f"helpfulness: judge–human alpha {noisy.judge_alpha.value:.2f} below "
                                        f"human–human {noisy.human_alpha.low:.2f}–{noisy.human_alpha.high:.2f}")
    fives = judge_agreement(humans, np.full(quality.size, 5.0), SCALE)
    assert not verdict("helpfulness", fives, 30)[0]
    assert fives.kappa.value == pytest.approx(0.0) and fives.confusion[-1] == [sum(r) for r in zip(*fives.confusion)]


def test_too_few_items_and_no_human_agreement_are_refused_with_the_reason():
    quality, humans, rng = synthetic(n=12)
    a = judge_agreement(humans, raters(quality, 0.7, rng), SCALE)
    assert verdict("fluency", a, 30) == (False, "fluency: only 12 items rated by both; needs 30")
    one = judge_agreement(humans[:1], raters(quality, 0.7, rng), SCALE)
    ok, reason = verdict("fluency", one, 10)
    assert not ok and "human–human alpha unknown (no item was rated by two raters)" in reason
    none = judge_agreement(humans, np.full(12, np.nan), SCALE)
    assert verdict("fluency", none, 10) == (False, "fluency: no item was both judged and rated")


def test_position_flip_share_on_a_hand_made_case():
    share, pairs = flip_share([True, False, None, True, False, True])
    assert share == pytest.approx(2 / 5) and pairs == 5
    assert flip_share([None, None]) == (None, 0)


def test_length_bias_is_the_judges_rank_correlation_beyond_the_humans():
    lengths = [10, 50, 20, 40, 30]
    judge = [1, 5, 2, 4, 3]  # ranks exactly with length
    human = [2, 3, 1, 5, 4]

    def by_hand(x, y):  # Spearman without ties: 1 − 6 Σ d² / (n (n² − 1))
        rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
        return 1 - 6 * float(((rx - ry) ** 2).sum()) / (len(x) * (len(x) ** 2 - 1))

    rho_j, rho_h, excess = length_bias(judge, human, lengths)
    assert rho_j == pytest.approx(1.0) and rho_h == pytest.approx(by_hand(human, lengths))
    assert excess == pytest.approx(1.0 - by_hand(human, lengths))
    assert spearman([1, 1, 1], [1, 2, 3]) is None and spearman([1, 2], [1, 2]) is None


# Assembled from the rows `harness sheets import` writes.

def _score(rater: str, example: str, state: str, criterion: str, score: int, suite: str = "s", comment: str = ""):
    return {"kind": "score", "suite": suite, "example": example, "state": state, "criterion": criterion,
            "rater": rater, "score": score, "comment": comment}


def _pointwise(scores: dict[tuple[str, str], float | None], criterion: str = "helpfulness") -> JudgeResult:
    return JudgeResult(
        metric="judge", judge_model="judge-model", judge_fingerprint="fp", template_version="v1", mode="pointwise",
        samples=1, cost=JudgeCost(calls=len(scores), prompt_tokens=10, completion_tokens=5, seconds=1.0,
                                  cached_calls=0),
        verdicts=[JudgeVerdict(example_id=e, state=s, criterion=criterion, score=v, reason=f"judge on {e}/{s}")
                  for (e, s), v in scores.items()])


def test_calibrate_matches_items_by_suite_example_state_and_criterion():
    quality, humans, rng = synthetic(n=40, humans=2)
    judge = raters(quality, 0.7, rng)
    items = [(f"ex{i // 2}", ("base", "lora")[i % 2]) for i in range(40)]
    rows = [_score(f"r{r}", e, s, "helpfulness", int(humans[r, i]), comment=f"<i>r0</i> on {e}/{s}" if r == 0 else "")
            for i, (e, s) in enumerate(items) for r in range(2)]
    rows += [_score("r0", e, s, "fluency", 1) for e, s in items]  # another criterion: not this one's
    rows += [_score("r0", e, s, "helpfulness", 5, suite="other") for e, s in items]  # another suite
    scores: dict = dict(zip(items, judge.tolist()))
    scores[items[0]] = None
    c = calibrate(_pointwise(scores), rows, "s", RULE, lambda e, s: float(len(e) + len(s)))
    (k,) = c.criteria
    direct = judge_agreement(humans[:, 1:], judge[1:], SCALE)
    assert k.n_items == 39 and k.n_unparsed == 1 and c.ratings == 120  # this suite's scores, every criterion
    assert k.judge_alpha == direct.judge_alpha.value and k.kappa == direct.kappa.value
    assert k.human_alpha == direct.human_alpha.value and k.confusion == direct.confusion
    assert [s.state for s in k.by_state] == ["base", "lora"] and sum(s.n for s in k.by_state) == 39
    lora = [i for i in range(1, 40) if items[i][1] == "lora"]
    assert k.by_state[1].judge_mean == pytest.approx(judge[lora].mean())
    assert k.by_state[1].human_mean == pytest.approx(humans[:, lora].mean())
    gaps = [abs(d.judge_score - d.human_mean) for d in k.disagreements]
    assert len(gaps) == 5 and gaps == sorted(gaps, reverse=True)
    for d in k.disagreements:
        i = items.index((d.example_id, d.state))
        assert d.human_comments == [f"<i>r0</i> on {d.example_id}/{d.state}"] and d.judge_score == judge[i]
        assert d.human_mean == humans[:, i].mean() and d.judge_reason == f"judge on {d.example_id}/{d.state}"
    assert c.calibrated == k.calibrated and c.reason == k.reason and c.min_items == 30


def test_calibrate_without_ratings_and_with_too_few_says_why():
    result = _pointwise({("ex1", "base"): 4.0, ("ex2", "lora"): 2.0})
    none = calibrate(result, [], "s", RULE, lambda e, s: None)
    assert not none.calibrated and none.reason == "no imported ratings" and none.criteria == []
    elsewhere = calibrate(result, [_score("a", "ex1", "base", "helpfulness", 4, suite="t")], "s", RULE,
                          lambda e, s: None)
    assert elsewhere.reason == "no imported scores of s" and not elsewhere.calibrated
    rows = [_score(r, "ex1", "base", "helpfulness", 4, comment="fine") for r in ("a", "b")]
    rows += [_score(r, "ex2", "lora", "helpfulness", v) for r, v in (("a", 5), ("b", 4))]
    few = calibrate(result, rows, "s", CalibrationRule(min_items=3), lambda e, s: None)
    assert not few.calibrated and few.reason == "helpfulness: only 2 items rated by both; needs 3"
    (d,) = [d for d in few.criteria[0].disagreements if d.example_id == "ex2"]
    assert (d.judge_score, d.human_mean, d.judge_reason) == (2.0, 4.5, "judge on ex2/lora")
    assert few.criteria[0].probes.note == "output lengths known for 0 of 2 items"


def test_pairwise_verdicts_meet_the_raters_preferences_and_the_position_probe():
    outcomes = ["win", "loss", "tie", "both bad", "win", "win"]
    judge = [1.0, 0.0, 0.5, 0.5, 0.0, 1.0]
    swapped = [True, True, False, True, False, None]
    result = JudgeResult(
        metric="pair", judge_model="m", judge_fingerprint="fp", template_version="v1", mode="pairwise", samples=1,
        cost=JudgeCost(calls=12, prompt_tokens=1, completion_tokens=1, seconds=0.1, cached_calls=0),
        verdicts=[JudgeVerdict(example_id=f"ex{i}", state="lora", criterion="overall", score=v, reason="r",
                               swapped=w) for i, (v, w) in enumerate(zip(judge, swapped))])
    rows = [{"kind": "preference", "suite": "s", "example": f"ex{i}", "state": "lora", "versus": "base",
             "criterion": "preference", "rater": "r1", "outcome": o} for i, o in enumerate(outcomes)]
    c = calibrate(result, rows, "s", CalibrationRule(min_items=2), lambda e, s: float(e[-1]))
    (k,) = c.criteria
    assert k.criterion == "overall" and k.scale == [0.0, 0.5, 1.0] and k.n_items == 6
    # Human values 1 0 .5 .5 1 1 against the judge's: the confusion counts each pair.
    assert k.confusion == [[1, 0, 1], [0, 2, 0], [0, 0, 2]]
    assert k.probes.position_pairs == 5 and k.probes.position_flip_share == pytest.approx(2 / 5)
    assert not c.calibrated and "human–human alpha unknown" in c.reason  # one rater


def test_self_preference_is_flagged_when_the_judge_is_the_runs_model():
    class _Record:
        model, model_path = "tiny", "/cache/tiny"

    result = _pointwise({("ex1", "base"): 5.0})
    assert self_judged(_Record(), result) is None  # type: ignore[arg-type]
    assert "the judge's fingerprint is the run's model's" in self_judged(_Record(), result, "fp")  # type: ignore
    same = result.model_copy(update={"judge_model": "tiny"})
    assert "the judge is the run's model (tiny)" in self_judged(_Record(), same)  # type: ignore[arg-type]
    rows = [_score(r, "ex1", "base", "helpfulness", v) for r, v in (("a", 3), ("b", 4))]
    c = calibrate(same, rows, "s", RULE, lambda e, s: None, self_judged(_Record(), same))  # type: ignore[arg-type]
    probes = c.criteria[0].probes
    assert probes.self_preference and probes.self_preference_excess == pytest.approx(5.0 - 3.5)
