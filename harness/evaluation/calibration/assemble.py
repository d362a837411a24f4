"""A judge metric's calibration against the run's imported human ratings, assembled per criterion.

Matches each judge verdict to the human ratings of the same suite, example, state and criterion (pointwise:
1–5 scores; pairwise: the raters' A/B preferences of the same tuned state against base, as loss 0, tie or
both bad 0.5, win 1), and records what `harness.stats.calibration` computes of them, with the bias probes
and the items where judge and humans disagree most.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Callable

import numpy as np

from harness.record import (
    BASE,
    BiasProbes,
    CalibrationRule,
    CriterionCalibration,
    Disagreement,
    JudgeCalibration,
    JudgeResult,
    JudgeVerdict,
    RunRecord,
    StateScores,
    load_predictions,
)
from harness.stats.calibration import SEED, flip_share, human_means, judge_agreement, length_bias, to_scale, verdict
from harness.stats.methods import bootstrap_ci

POINTWISE_SCALE = (1.0, 2.0, 3.0, 4.0, 5.0)
PAIRWISE_SCALE = (0.0, 0.5, 1.0)
"""Pairwise verdicts and A/B preferences from the tuned state's side: loss, tie, win."""
PREFERENCE_VALUE = {"loss": 0.0, "tie": 0.5, "both bad": 0.5, "win": 1.0}
"""A rater's A/B outcome on the pairwise scale: "both bad" prefers neither side, like a tie."""
DISAGREEMENTS = 5
"""Items listed where judge and humans disagree most."""
COMMENT_CHARS = 300
"""A rater's comment is recorded up to this many characters."""
NO_RATINGS = "no imported ratings"

Lengths = Callable[[str, str], "float | None"]
"""(example id, state) → the length the length probe correlates with, None when unknown."""


def calibrate(result: JudgeResult, ratings: list[dict], suite: str, rule: CalibrationRule, lengths: Lengths,
              self_judged: str | None = None) -> JudgeCalibration:
    """`result` measured against `ratings` (rows of sheets/ratings.jsonl, any suite). `self_judged`: how the
    judge was found to be the run's own model (None: it is not)."""
    kind = "preference" if result.mode == "pairwise" else "score"
    mine = [r for r in ratings if r["suite"] == suite and r["kind"] == kind
            and (kind == "score" or r["versus"] == BASE)]
    if not mine:
        what = "A/B preferences" if kind == "preference" else "scores"
        reason = NO_RATINGS if not ratings else f"no imported {what} of {suite}"
        return JudgeCalibration(min_items=rule.min_items, calibrated=False, reason=reason)
    by_criterion: defaultdict[str, list[JudgeVerdict]] = defaultdict(list)
    for v in result.verdicts:
        by_criterion[v.criterion].append(v)
    criteria = [_criterion(name, verdicts, mine, result.mode, rule, lengths, self_judged)
                for name, verdicts in sorted(by_criterion.items())]
    refused = next((c for c in criteria if not c.calibrated), None)
    if not criteria:
        reason = "the judge gave no verdicts"
    elif refused is not None:
        reason = refused.reason
    else:
        reason = "; ".join(c.reason for c in criteria)
    return JudgeCalibration(min_items=rule.min_items, calibrated=bool(criteria) and refused is None, reason=reason,
                            criteria=criteria, ratings=len(mine))


def _criterion(name: str, verdicts: list[JudgeVerdict], ratings: list[dict], mode: str, rule: CalibrationRule,
               lengths: Lengths, self_judged: str | None) -> CriterionCalibration:
    pairwise = mode == "pairwise"
    scale = PAIRWISE_SCALE if pairwise else POINTWISE_SCALE
    items = sorted({(v.example_id, v.state) for v in verdicts})
    column = {item: i for i, item in enumerate(items)}
    rows = [r for r in ratings if (r["example"], r["state"]) in column and (pairwise or r["criterion"] == name)]
    raters = {rater: i for i, rater in enumerate(sorted({r["rater"] for r in rows}))}
    humans = np.full((len(raters), len(items)), np.nan)
    comments: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
    for r in rows:  # a rater's later rating of the same item (from a later export) wins, as in the rating summary
        humans[raters[r["rater"]], column[(r["example"], r["state"])]] = (
            PREFERENCE_VALUE[r["outcome"]] if pairwise else r["score"])
        comment = r.get("comment")
        if isinstance(comment, str) and comment.strip():
            comments[(r["example"], r["state"])].append(comment.strip()[:COMMENT_CHARS])
    judged = {(v.example_id, v.state): v for v in verdicts}
    judge = np.array([np.nan if judged[i].score is None else judged[i].score for i in items], dtype=float)
    rated = (~np.isnan(humans)).any(axis=0)
    agreement = judge_agreement(humans, judge, scale, SEED)
    calibrated, reason = verdict(name, agreement, rule.min_items)
    both = rated & ~np.isnan(judge)
    keys = [items[i] for i in np.flatnonzero(both)]
    judge_on, human_on = to_scale(judge[both], scale), human_means(humans[:, both])
    return CriterionCalibration(
        criterion=name, scale=list(scale), n_items=agreement.n_items,
        n_unparsed=int((rated & np.isnan(judge)).sum()),
        judge_alpha=agreement.judge_alpha.value, judge_alpha_ci_low=agreement.judge_alpha.low,
        judge_alpha_ci_high=agreement.judge_alpha.high,
        kappa=agreement.kappa.value, kappa_ci_low=agreement.kappa.low, kappa_ci_high=agreement.kappa.high,
        human_alpha=agreement.human_alpha.value, human_alpha_ci_low=agreement.human_alpha.low,
        human_alpha_ci_high=agreement.human_alpha.high, human_items=agreement.human_items,
        confusion=agreement.confusion,
        by_state=_by_state(keys, judge_on, human_on),
        disagreements=_disagreements(keys, judge_on, human_on, judged, comments),
        probes=_probes(keys, judge_on, human_on, verdicts, lengths, self_judged),
        calibrated=calibrated, reason=reason)


def _by_state(keys: list[tuple[str, str]], judge: np.ndarray, human: np.ndarray) -> list[StateScores]:
    rng = np.random.default_rng(SEED)
    out = []
    for state in dict.fromkeys(k[1] for k in sorted(keys, key=lambda k: (k[1] != BASE, k[1]))):
        mask = np.array([k[1] == state for k in keys])
        jl, jh = bootstrap_ci(judge[mask], rng) or (None, None)
        hl, hh = bootstrap_ci(human[mask], rng) or (None, None)
        out.append(StateScores(state=state, n=int(mask.sum()), judge_mean=float(judge[mask].mean()), judge_ci_low=jl,
                               judge_ci_high=jh, human_mean=float(human[mask].mean()), human_ci_low=hl,
                               human_ci_high=hh))
    return out


def _disagreements(keys, judge: np.ndarray, human: np.ndarray, judged: dict, comments) -> list[Disagreement]:
    gaps = np.abs(judge - human)
    order = sorted((i for i in range(len(keys)) if gaps[i] > 0), key=lambda i: (-gaps[i], keys[i]))
    return [Disagreement(example_id=keys[i][0], state=keys[i][1], judge_score=float(judge[i]),
                         human_mean=float(human[i]), judge_reason=judged[keys[i]].reason[:COMMENT_CHARS],
                         human_comments=comments.get(keys[i], [])) for i in order[:DISAGREEMENTS]]


def _probes(keys, judge: np.ndarray, human: np.ndarray, verdicts: list[JudgeVerdict], lengths: Lengths,
            self_judged: str | None) -> BiasProbes:
    share, pairs = flip_share([v.swapped for v in verdicts])
    measured = [(i, n) for i, k in enumerate(keys) if (n := lengths(*k)) is not None]
    idx = [i for i, _ in measured]
    rho_judge, rho_human, excess = length_bias(judge[idx], human[idx], [n for _, n in measured])
    notes = []
    if len(measured) < len(keys):
        notes.append(f"output lengths known for {len(measured)} of {len(keys)} items")
    if self_judged:
        notes.append(self_judged)
    return BiasProbes(position_pairs=pairs, position_flip_share=share, length_judge_rho=rho_judge,
                      length_human_rho=rho_human, length_excess=excess, self_preference=self_judged is not None,
                      self_preference_excess=float(judge.mean() - human.mean()) if self_judged and keys else None,
                      note="; ".join(notes) or None)


def output_lengths(run_dir: str | Path, suite: str, pairwise: bool) -> Lengths:
    """The length probe's lengths from the run's predictions: an output's characters (pairwise: the tuned
    output's minus base's, what a judge preferring longer answers rewards)."""
    cache: dict[str, dict[str, int]] = {}

    def chars(state: str) -> dict[str, int]:
        if state not in cache:
            cache[state] = {p.id: len(p.output) for p in load_predictions(run_dir, state, suite)}
        return cache[state]

    def length(example: str, state: str) -> float | None:
        own = chars(state).get(example)
        if own is None or not pairwise:
            return own
        base = chars(BASE).get(example)
        return None if base is None else own - base

    return length


def self_judged(record: RunRecord, result: JudgeResult, model_fingerprint: str | None = None) -> str | None:
    """How the judge was found to be the run's own model (the tuned states' base), or None."""
    if model_fingerprint is not None and result.judge_fingerprint == model_fingerprint:
        return f"the judge's fingerprint is the run's model's ({record.model}): it judges its own family's outputs"
    if result.judge_model in (record.model, record.model_path):
        return f"the judge is the run's model ({record.model}): it judges its own family's outputs"
    return None


def attach_calibration(record: RunRecord, ratings: list[dict], run_dir: str | Path,
                       model_fingerprint: str | None = None) -> None:
    """Recompute the calibration of every judge result in `record` against `ratings` (in place; the caller
    saves the record). `model_fingerprint`: the run's model's, when known, for the self-preference probe."""
    for suite, results in record.judging.items():
        rule = next((s.judge_calibration for s in record.suites if s.name == suite), CalibrationRule())
        record.judging[suite] = [
            r.model_copy(update={"calibration": calibrate(
                r, ratings, suite, rule, output_lengths(run_dir, suite, r.mode == "pairwise"),
                self_judged(record, r, model_fingerprint))})
            for r in results]
