"""Judging a run: after every state is generated, each suite's judge metrics ask their judges and the answers
become the metric's per-example scores, its results with intervals, and the record's `judging` section.

Runs on the main process only, and again on a resumed run (the cache answers what was asked before).
"""
from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from harness.cache import Cache
from harness.common.errors import HarnessError
from harness.metrics.judge import OVERALL, JudgeMetric
from harness.models.loading import TINY, check_loadable, resolve_model_path
from harness.record import (
    CriterionScores,
    JudgeResult,
    JudgeVerdict,
    Prediction,
    Result,
    RunRecord,
    load_predictions,
    save_predictions,
)
from harness.stats.compare import value_interval
from harness.stats.methods import bootstrap_ci
from harness.suitedef.suite import Suite

from .judges import Asker, make_judge
from .verdicts import example_scores, judge_rows, repeatability


def judge_metrics(suite: Suite) -> dict[str, JudgeMetric]:
    """The suite's judge metrics by name."""
    return {name: m for name, (m, _) in suite.metrics.items() if isinstance(m, JudgeMetric)}


def check_judges(suites: Sequence[Suite]) -> None:
    """Before anything runs: every judge can be reached as declared (its key's variable set, its model loadable),
    so that a run does not fail after hours of tuning; one HarnessError line naming the suite and metric."""
    for suite in suites:
        for name, metric in judge_metrics(suite).items():
            spec, where = metric.spec, f"{suite.path / 'suite.yaml'}: metric {name!r}"
            key = spec.endpoint.api_key_env if spec.endpoint is not None else None
            if key and not os.environ.get(key):
                raise HarnessError(f"the judge's API key variable {key} is not set", where)
            if spec.model is not None and spec.model != TINY:
                try:
                    check_loadable(resolve_model_path(spec.model), spec.model)
                except HarnessError as e:
                    raise HarnessError(f"judge model: {e}", where) from None


def judge_run(record: RunRecord, run_dir: Path, suites: Sequence[Suite], cache: Cache | None, seed: int,
              log: Callable[[str], None] = print) -> bool:
    """Judge every state's outputs on every suite with judge metrics; rewrite their predictions and results.
    Whether any suite had a judge metric."""
    judged = False
    for suite in suites:
        metrics = judge_metrics(suite)
        if not metrics:
            continue
        rows = {state: load_predictions(run_dir, state, suite.name) for state in record.states}
        results = []
        for name, metric in metrics.items():
            log(f"Judging {suite.name} with {name} ({metric.spec.judge_name}, {metric.spec.mode})")
            results.append(_judge_metric(suite, name, metric, rows, record, suites, cache, seed))
            missing = sum(v.score is None for v in results[-1].verdicts)
            if missing:
                log(f"WARNING: {suite.name} {name}: {missing} of {len(results[-1].verdicts)} judge answers gave no "
                    "score (unparsable or unanswered; each row of the predictions says why)")
            gc.collect()  # a local judge model is freed before the next one loads
        record.judging[suite.name] = results
        for state, state_rows in rows.items():
            save_predictions(run_dir, state, suite.name, state_rows)
        judged = True
    return judged


def _judge_metric(suite: Suite, name: str, metric: JudgeMetric, rows: dict[str, list[Prediction]],
                  record: RunRecord, suites: Sequence[Suite], cache: Cache | None, seed: int) -> JudgeResult:
    judge = make_judge(metric.spec, suites, record.seed, cache)  # `tiny` as judge is the run's own tiny
    asker = Asker(judge, cache.store if cache is not None else None)
    info = suite.metrics[name][1]
    where = f"{suite.path / 'suite.yaml'}: metric {name!r}"
    verdicts = judge_rows(metric, info, suite.test, rows, asker, where)
    criteria = [OVERALL] if metric.spec.mode == "pairwise" else [c.name for c in metric.criteria]
    scores = example_scores(verdicts, criteria)
    for state, state_rows in rows.items():
        rows[state] = [_scored(r, name, scores.get((state, r.id))) for r in state_rows]
        scored = [r for r in rows[state] if name in r.scores]
        record.results = [r for r in record.results if (r.state, r.suite, r.metric) != (state, suite.name, name)]
        if scored:
            value = metric.aggregate([], [], [r.scores[name] for r in scored])
            low, high, method = value_interval(metric, scored, name, seed)
            record.results.append(Result(state=state, suite=suite.name, metric=name, n=len(scored), value=value,
                                         ci_low=low, ci_high=high, ci_method=method))
    return JudgeResult(metric=name, judge_model=judge.name, judge_fingerprint=judge.fingerprint,
                       template_version=metric.template_version, mode=metric.spec.mode, samples=metric.spec.samples,
                       verdicts=verdicts, cost=asker.cost(), by_criterion=criterion_scores(verdicts, seed),
                       repeatability=repeatability(metric, verdicts))


def criterion_scores(verdicts: Sequence[JudgeVerdict], seed: int) -> list[CriterionScores]:
    """Per criterion and state (in the verdicts' order), the mean parsed score with its seeded bootstrap interval."""
    groups: dict[tuple[str, str], list[float]] = {}
    for v in verdicts:
        if v.score is not None:
            groups.setdefault((v.criterion, v.state), []).append(v.score)
    out = []
    for (criterion, state), values in groups.items():
        ci = bootstrap_ci(values, np.random.default_rng(seed)) if len(values) > 1 else None
        out.append(CriterionScores(criterion=criterion, state=state, n=len(values), mean=float(np.mean(values)),
                                   ci_low=ci[0] if ci else None, ci_high=ci[1] if ci else None))
    return out


def _scored(row: Prediction, name: str, verdict: tuple[float | None, str] | None) -> Prediction:
    """The row with the judge metric's score (or only its reason, when the judge gave none) in place of any
    earlier one; untouched when the metric did not judge it (pairwise: base's rows)."""
    scores = {k: v for k, v in row.scores.items() if k != name}
    reasons = {k: v for k, v in row.reasons.items() if k != name}
    if verdict is not None:
        score, reason = verdict
        if score is not None:
            scores[name] = score
        reasons[name] = reason if score is not None else f"not scored: {reason}"
    return row.model_copy(update={"scores": scores, "reasons": reasons})
