"""The Data page: the run's data-quality report as tables and charts, read from `RunRecord.data`."""
from __future__ import annotations

from harness.record import DATA_GATES, RunRecord, SuiteData

from . import charts


def data_view(record: RunRecord) -> list[dict]:
    """Per suite: its report, a length chart, a label chart and its data gates (empty for runs without one)."""
    if record.data is None:
        return []
    return [_suite(record, data) for data in record.data.suites]


def _suite(record: RunRecord, data: SuiteData) -> dict:
    limits: dict[int, list[str]] = {}
    for t in data.truncation:
        limits.setdefault(t.max_length, []).append(t.backend)
    measured = [s for s in data.splits if s.lengths]
    lengths = charts.length_histograms([(s.split, s.lengths.total.edges, s.lengths.total.counts)
                                        for s in measured if s.lengths],
                                       [(n, ", ".join(who)) for n, who in sorted(limits.items())]) if measured else None
    labels = list(dict.fromkeys(label for s in data.splits for label in s.labels))
    label_chart = charts.label_bars(labels, {s.split: s.labels for s in data.splits}) if labels else None
    gates = [g for g in record.gates if g.suite == data.suite and g.gate.kind in DATA_GATES]
    return {"data": data, "lengths": lengths, "labels": labels, "label_chart": label_chart, "gates": gates,
            "limits": [(n, ", ".join(who)) for n, who in sorted(limits.items())]}
