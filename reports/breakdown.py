"""A suite page's breakdowns, as the record holds them: the primary metric per label, and failures by kind."""
from __future__ import annotations

from collections import Counter


def by_label(record, info) -> dict:
    """Rows of label → per-state results of the suite's primary metric, and how the labels were found."""
    results = [r for r in record.by_label if r.suite == info.name]
    if not results:
        return {"rows": []}
    rows: dict[str, dict] = {}
    for r in results:
        row = rows.setdefault(r.label, {"label": r.label, "n": r.n, "cells": {}})
        row["cells"][r.state] = r
    data = next((s for s in record.data.suites if s.suite == info.name), None) if record.data else None
    metric = results[0].metric
    return {"rows": list(rows.values()), "metric": metric, "digits": info.metric(metric).digits,
            "source": data.label_source if data and data.label_source else "labels"}


def failures(record, suite: str) -> list[dict]:
    """Per metric with any failure: its kinds (most frequent over all states first) and each state's counts."""
    out: dict[str, dict] = {}
    for f in record.failures:
        if f.suite != suite:
            continue
        entry = out.setdefault(f.metric, {"metric": f.metric, "counts": {}, "scored": {}, "total": Counter()})
        entry["counts"][f.state] = f.kinds
        entry["scored"][f.state] = f.scored
        entry["total"].update(f.kinds)
    return [{**e, "kinds": [k for k, _ in e["total"].most_common()]} for e in out.values() if e["total"]]
