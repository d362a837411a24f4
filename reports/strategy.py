"""Backends as strategies: what each cost (time, parameters, memory, throughput) against what it bought.

Quality, for the chart, is one number per state: the mean over task suites of each suite's
first (primary) metric on a 0–1 scale (its value mapped from [lowest, scale] to [0, 1], turned
round for metrics where lower is better).
Retention suites are left out: they measure forgetting, not the skill being tuned.
"""
from __future__ import annotations

from harness.record import MetricInfo

from .charts import pareto_front
from .overview import comparisons_by_key, delta_against_base

QUALITY_LABEL = "quality (mean primary metric, 0–1)"


def primary_metrics(suites) -> list[tuple[str, str, MetricInfo]]:
    """(suite, metric, its MetricInfo) for each task suite's first metric."""
    return [(info.name, info.metrics[0].name, info.metrics[0]) for info in suites
            if info.role != "retention" and info.metrics]


def unit_value(value: float, info) -> float:
    """A value on the 0–1 scale where 1 is a perfect score."""
    share = (value - info.lowest) / (info.scale - info.lowest)
    return share if info.higher_is_better else 1 - share


def quality(record, state: str, suites=None) -> float | None:
    """None when a primary metric was not measured for the state: a partial mean would mislead."""
    prim = primary_metrics(suites or record.suites)
    values = [record.value(state, suite, metric) for suite, metric, _ in prim]
    if not prim or any(v is None for v in values):
        return None
    return sum(unit_value(v, info) for v, (_, _, info) in zip(values, prim)) / len(prim)


def cost_points(record, label_prefix: str = "", suites=None) -> list[dict]:
    """One point per backend: costs and quality, for the Pareto chart and the table."""
    points = []
    for b in record.backends:
        c = b.cost
        points.append({"label": label_prefix + b.name, "state": b.name, "kind": b.kind, "cost": c,
                       "wall": c.wall_seconds, "params": c.trainable_params,
                       "trainable_pct": 100 * c.trainable_params / c.total_params if c.total_params else None,
                       "quality": quality(record, b.name, suites)})
    return points


def mark_front(points: list[dict]) -> None:
    """Sets `front_wall` / `front_params`: on the Pareto front for that cost."""
    for key in ("wall", "params"):
        usable = [p for p in points if p["quality"] is not None and p[key]]
        on = {id(usable[i]) for i in pareto_front([(p[key], p["quality"]) for p in usable])}
        for p in points:
            p[f"front_{key}"] = id(p) in on


def strategy_rows(record) -> tuple[list[dict], list[dict]]:
    """(points with per-suite primary results and deltas, the primary metric columns)."""
    points = cost_points(record)
    mark_front(points)
    comps = comparisons_by_key(record)
    prim = primary_metrics(record.suites)
    for p in points:
        p["primary"] = []
        for suite, metric, info in prim:
            delta = delta_against_base(record, comps, suite, metric, p["state"])
            p["primary"].append({"value": record.value(p["state"], suite, metric), "delta": delta.value,
                                 "comparison": delta.comparison,
                                 "digits": info.digits})
    columns = [{"suite": s, "metric": m} for s, m, _ in prim]
    return points, columns
