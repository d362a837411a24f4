"""Strategies: what each cost (time, parameters, memory, throughput) against what it bought.

A strategy is a tuned state's name without its training seed (`lora`, `lora[r=8]`); with one
training per strategy it is that state, with several (`--train-seeds`) its point is the mean over
seeds, with the lowest and highest seed shown as a whisker.

Quality, for the chart, is one number per state: the mean over task suites of each suite's
first (primary) metric on a 0–1 scale (its value mapped from [lowest, scale] to [0, 1], turned
round for metrics where lower is better).
Retention suites are left out: they measure forgetting, not the skill being tuned.
`base`, which costs nothing to tune, is a point at zero cost: the front starts there.
"""
from __future__ import annotations

from harness.record import BASE, MetricInfo

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
    """One point per strategy: costs and quality (means over its seeds), for the Pareto chart and the table."""
    points = []
    for strategy, runs in record.strategies.items():
        qualities = [quality(record, b.name, suites) for b in runs]
        known = [q for q in qualities if q is not None]
        c = runs[0].cost
        points.append({
            "label": label_prefix + strategy, "mark": None, "state": strategy, "states": [b.name for b in runs],
            "runs": runs,
            "kind": runs[0].kind, "cost": c, "seeds": [b.train_seed for b in runs],
            "wall": sum(b.cost.wall_seconds for b in runs) / len(runs), "params": c.trainable_params,
            "trainable_pct": 100 * c.trainable_params / c.total_params if c.total_params else None,
            "quality": sum(known) / len(known) if known and len(known) == len(qualities) else None,
            "quality_low": min(known) if len(known) > 1 else None,
            "quality_high": max(known) if len(known) > 1 else None,
        })
    return points


def mark_front(points: list[dict], base_quality: float | None = None) -> dict[str, list[str]]:
    """Sets `front_wall` / `front_params` on each point: on the Pareto front for that cost, where `base`
    (when its quality is known) is a point of zero cost. Returns each front's labels, cheapest first."""
    fronts = {}
    for key in ("wall", "params"):
        usable = [p for p in points if p["quality"] is not None and p[key] is not None]
        candidates = [(p[key], p["quality"]) for p in usable] + ([(0.0, base_quality)] if base_quality is not None
                                                                  else [])
        on = set(pareto_front(candidates))
        for i, p in enumerate(usable):
            p[f"front_{key}"] = i in on
        for p in points:
            p.setdefault(f"front_{key}", False)
        members = sorted(((c, q, usable[i]["label"] if i < len(usable) else BASE)
                          for i, (c, q) in enumerate(candidates) if i in on), key=lambda m: (m[0], m[1]))
        fronts[key] = [label for _, _, label in members]
    return fronts


LONG_LABELS = 5
"""With more strategies than this, or longer names, chart points carry numbers keyed in the table."""


def strategy_rows(record) -> tuple[list[dict], list[dict], dict[str, list[str]]]:
    """(points with per-suite primary results and deltas, the primary metric columns, the Pareto fronts).

    A strategy trained with several seeds shows its mean over seeds and the seed-aware comparison
    against base; with one training, its value and the paired comparison."""
    points = cost_points(record)
    if len(points) > LONG_LABELS or any(len(p["label"]) > 14 for p in points):
        for i, p in enumerate(points, 1):
            p["mark"] = str(i)
    fronts = mark_front(points, quality(record, BASE))
    comps = comparisons_by_key(record)
    seed_comps = {(c.suite, c.metric, c.baseline, c.strategy): c for c in record.seed_comparisons}
    spreads = {(s.strategy, s.suite, s.metric): s for s in record.seed_spreads}
    prim = primary_metrics(record.suites)
    for p in points:
        p["primary"] = []
        for suite, metric, info in prim:
            spread = spreads.get((p["state"], suite, metric))
            if spread is not None:
                seed_comp = seed_comps.get((suite, metric, BASE, p["state"]))
                p["primary"].append({"value": spread.mean, "spread": spread, "delta": seed_comp.delta if seed_comp
                                     else None, "comparison": seed_comp, "digits": info.digits})
                continue
            delta = delta_against_base(record, comps, suite, metric, p["states"][0])
            p["primary"].append({"value": record.value(p["states"][0], suite, metric), "spread": None,
                                 "delta": delta.value, "comparison": delta.comparison, "digits": info.digits})
    columns = [{"suite": s, "metric": m} for s, m, _ in prim]
    return points, columns, fronts


def seed_rows(record, pair_pages: dict) -> list[dict]:
    """Each seed-aware comparison pair (base first) with its comparison on each primary metric."""
    prim = primary_metrics(record.suites)
    found = {(c.baseline, c.strategy, c.suite, c.metric): c for c in record.seed_comparisons}
    pairs = list(dict.fromkeys((c.baseline, c.strategy) for c in record.seed_comparisons))
    return [{"baseline": a, "strategy": b, "href": pair_pages.get((a, b)),
             "cells": [found.get((a, b, suite, metric)) for suite, metric, _ in prim],
             "digits": [info.digits for _, _, info in prim]} for a, b in pairs]
