"""From prediction rows to judge verdicts: the questions a judge metric asks, and what its answers mean.

Pointwise, every output of every state is asked about each criterion; an example's score is the mean of its
criteria's scores, and an example with a criterion the judge's answer did not give is left unscored, with
the reason on its row. Pairwise, every tuned output is set against base's on the same example twice, base
first and then tuned first; a win counts only when both orders agree (MT-Bench's conservative rule), orders
that disagree count as a tie. With `samples: K` each question is asked K times with seeds seed … seed+K−1,
and a verdict is the median of the samples that parsed.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Sequence

from harness.metrics.judge import OVERALL, JudgeMetric
from harness.record import BASE, JudgeRepeatability, JudgeVerdict, MetricInfo, Prediction
from harness.suitedef.suite import Example, applies
from harness.suitedef.templates import compile_template, render

from .endpoint import Answer
from .judges import Asker
from .parse import parse_pairwise, parse_pointwise

_TUNED_SCORE = {("base_first", "B"): 1.0, ("base_first", "A"): 0.0, ("tuned_first", "A"): 1.0,
                ("tuned_first", "B"): 0.0}
"""(order, winner) → the tuned output's score; a tie is 0.5 in either order."""


@dataclass(frozen=True)
class _Question:
    state: str
    example_id: str
    criterion: str
    prompt: str
    order: str = ""
    """Pairwise: `base_first` or `tuned_first`."""


def seeds(metric: JudgeMetric) -> list[int | None]:
    """The seed of each sample: None for one greedy answer."""
    spec = metric.spec
    return [None] if spec.samples == 1 else [spec.seed + k for k in range(spec.samples)]


def judge_rows(metric: JudgeMetric, info: MetricInfo, examples: Sequence[Example], rows: dict[str, list[Prediction]],
               asker: Asker, where: str) -> list[JudgeVerdict]:
    """Every verdict of a judge metric (`info`: its record, whose `when` picks the examples) on these rows
    (state → the suite's prediction rows); `where` names the metric in template errors."""
    template = compile_template(metric.template, where)
    judged = {ex.id for ex in examples if applies(info, ex)}
    questions = (_pointwise_questions if metric.spec.mode == "pointwise" else _pairwise_questions)(
        metric, template, judged, rows, where)
    answers = [asker.ask([q.prompt for q in questions], metric.spec.decoding, s) for s in seeds(metric)]
    by_question = list(zip(questions, zip(*answers))) if questions else []
    if metric.spec.mode == "pointwise":
        return [_pointwise_verdict(q, samples, metric.spec.samples > 1) for q, samples in by_question]
    return _pairwise_verdicts(by_question, metric.spec.samples > 1)


def _shown(metric: JudgeMetric, row: Prediction) -> str | None:
    return row.reference if metric.show_reference else None


def _pointwise_questions(metric, template, judged, rows, where) -> list[_Question]:
    out = []
    for state, state_rows in rows.items():
        for row in state_rows:
            if row.id not in judged:
                continue
            for c in metric.criteria:
                variables = {"criterion": c.model_dump(), "prompt": row.prompt, "reference": _shown(metric, row),
                             "output": row.output}
                out.append(_Question(state, row.id, c.name,
                                     render(template, variables, f"{where}, example {row.id!r}")))
    return out


def _pairwise_questions(metric, template, judged, rows, where) -> list[_Question]:
    out = []
    base = {r.id: r for r in rows.get(BASE, [])}
    criteria = [c.model_dump() for c in metric.criteria]
    for state, state_rows in rows.items():
        if state == BASE:
            continue
        for row in state_rows:
            other = base.get(row.id)
            if other is None or row.id not in judged:
                continue
            common = {"criteria": criteria, "prompt": row.prompt, "reference": _shown(metric, row)}
            orders = (("base_first", (other.output, row.output)), ("tuned_first", (row.output, other.output)))
            for order, (a, b) in orders:
                text = render(template, {**common, "output_a": a, "output_b": b}, f"{where}, example {row.id!r}")
                out.append(_Question(state, row.id, OVERALL, text, order))
    return out


def _parsed_pointwise(answer: Answer) -> tuple[float | None, str]:
    if answer.text is None:
        return None, f"no judge answer: {answer.error}"
    return parse_pointwise(answer.text)


def _median(scores: list[float | None]) -> float | None:
    parsed = [s for s in scores if s is not None]
    return float(statistics.median(parsed)) if parsed else None


def _pointwise_verdict(q: _Question, answers: tuple[Answer, ...], sampled: bool) -> JudgeVerdict:
    parsed = [_parsed_pointwise(a) for a in answers]
    scores = [s for s, _ in parsed]
    reason = next((r for s, r in parsed if s is not None), parsed[0][1])
    return JudgeVerdict(example_id=q.example_id, state=q.state, criterion=q.criterion, score=_median(scores),
                        reason=reason, samples=scores if sampled else [])


def _tuned_view(answer: Answer, order: str) -> tuple[float | None, str]:
    """The tuned output's score from one order's answer, and the reason."""
    if answer.text is None:
        return None, f"no judge answer: {answer.error}"
    winner, reason = parse_pairwise(answer.text)
    if winner is None:
        return None, reason
    return (0.5 if winner == "tie" else _TUNED_SCORE[(order, winner)]), reason


def _pairwise_verdicts(by_question, sampled: bool) -> list[JudgeVerdict]:
    pairs: dict[tuple[str, str], dict[str, tuple[Answer, ...]]] = {}
    for q, answers in by_question:
        pairs.setdefault((q.state, q.example_id), {})[q.order] = answers
    out = []
    for (state, example_id), orders in pairs.items():
        first = [_tuned_view(a, "base_first") for a in orders["base_first"]]
        second = [_tuned_view(a, "tuned_first") for a in orders["tuned_first"]]
        combined: list[float | None] = []
        agreed: list[bool] = []
        for (s1, _), (s2, _) in zip(first, second):
            if s1 is None or s2 is None:
                combined.append(None)
                continue
            agreed.append(s1 == s2)
            combined.append(s1 if s1 == s2 else 0.5)
        k = next((i for i, s in enumerate(combined) if s is not None), None)
        reason = (f"base first: {first[k][1]} / tuned first: {second[k][1]}" if k is not None
                  else next(r for s, r in first + second if s is None))
        out.append(JudgeVerdict(example_id=example_id, state=state, criterion=OVERALL, score=_median(combined),
                                reason=reason, samples=combined if sampled else [],
                                swapped=all(agreed) if agreed else None))
    return out


def example_scores(verdicts: list[JudgeVerdict],
                   criteria: list[str]) -> dict[tuple[str, str], tuple[float | None, str]]:
    """(state, example id) → (the example's score: the mean over `criteria`, None when one is missing; the reason)."""
    by_item: dict[tuple[str, str], dict[str, JudgeVerdict]] = {}
    for v in verdicts:
        by_item.setdefault((v.state, v.example_id), {})[v.criterion] = v
    out: dict[tuple[str, str], tuple[float | None, str]] = {}
    for item, got in by_item.items():
        missing = [c for c in criteria if got.get(c) is None or got[c].score is None]
        if missing:
            out[item] = (None, f"{missing[0]}: {got[missing[0]].reason if missing[0] in got else 'not judged'}")
            continue
        score = sum(got[c].score for c in criteria) / len(criteria)  # type: ignore[misc]
        out[item] = (round(score, 6), "; ".join(f"{c}: {got[c].reason}" for c in criteria))
    return out


def repeatability(metric: JudgeMetric, verdicts: list[JudgeVerdict]) -> JudgeRepeatability | None:
    """How far verdicts moved between samples (None: one greedy answer per question)."""
    spec = metric.spec
    if spec.samples == 1:
        return None
    spreads = [max(p) - min(p) for v in verdicts if len(p := [s for s in v.samples if s is not None]) >= 2]
    return JudgeRepeatability(temperature=spec.temperature, seed=spec.seed,
                              mean_spread=round(sum(spreads) / len(spreads), 6) if spreads else None,
                              changed=round(sum(s > 0 for s in spreads) / len(spreads), 6) if spreads else None,
                              verdicts=len(spreads))
