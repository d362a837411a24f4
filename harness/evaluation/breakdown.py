"""Where a state's results come from, computed once per run and recorded: each suite's primary metric per
label (with intervals, so a tool or an intent that broke shows beside the ones that improved), and every
metric's failures by kind (from the per-example reasons), before and after tuning."""
from __future__ import annotations

import re
from collections import Counter

from harness.dataquality.report import label_source
from harness.record import FailureKinds, LabelResult, Prediction
from harness.stats.compare import value_interval
from harness.suitedef.suite import Suite

NO_REASON = "(no reason given)"
_WHERE = re.compile(r"\s*\((?:solution|tests) line \d+\)$")


def failure_kind(reason: str) -> str:
    """A reason's kind: its head before a colon (`SyntaxError: invalid syntax` → `SyntaxError`, `missing: 周六`
    → `missing`), or the whole reason when it is one fixed phrase; where in the code it happened is dropped."""
    head, colon, _ = reason.partition(":")
    kind = head if colon and len(head) <= 40 else reason
    return _WHERE.sub("", kind).strip()[:80] or NO_REASON


def by_label(suite: Suite, state: str, rows: list[Prediction], seed: int) -> list[LabelResult]:
    """The suite's primary metric per label of its test examples; none for a suite without labels."""
    _, label_of = label_source(suite)
    if label_of is None or not suite.metrics:
        return []
    name, (metric, _) = next(iter(suite.metrics.items()))
    labels = {ex.id: label_of(ex) for ex in suite.test}
    groups: dict[str, list[Prediction]] = {}
    for r in rows:
        if name in r.scores and r.id in labels:
            groups.setdefault(labels[r.id], []).append(r)
    out = []
    for label, group in sorted(groups.items()):
        value = metric.aggregate([r.output for r in group], [r.reference for r in group],
                                 [r.scores[name] for r in group])
        low, high, method = value_interval(metric, group, name, seed)
        out.append(LabelResult(state=state, suite=suite.name, metric=name, label=label, n=len(group), value=value,
                               ci_low=low, ci_high=high, ci_method=method))
    return out


def failures(suite: Suite, state: str, rows: list[Prediction]) -> list[FailureKinds]:
    """Every pass/fail and mean metric's failing examples counted by kind of failure (a corpus metric has no
    failing example: its sentences only add up to a score)."""
    out = []
    for name, (metric, info) in suite.metrics.items():
        if metric.kind == "corpus":
            continue
        scored = [r for r in rows if name in r.scores]
        best = info.scale if info.higher_is_better else info.lowest
        kinds = Counter(failure_kind(r.reasons.get(name, "")) for r in scored if r.scores[name] != best)
        if scored:
            out.append(FailureKinds(state=state, suite=suite.name, metric=name, scored=len(scored),
                                    kinds=dict(kinds.most_common())))
    return out
