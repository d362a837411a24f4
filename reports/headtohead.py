"""Two strategies head to head: their recorded paired comparisons on every suite and metric, the
examples where they disagree, and their costs side by side.

A strategy is `base` or a tuned state's name without its training seed. With one training per
strategy the comparison is the single-seed paired test; with several seeds it is the seed-aware
comparison, and each seed's paired test is listed under it. Nothing is computed here beyond
counting and ordering: every statistic comes from the record.

Disagreements, per suite: on its pass/fail metric, the examples that pass on one side and fail on
the other (with seeds: that pass in more of one side's seeds than the other's); on each other
metric with per-example scores, the examples whose mean score differs most.
"""
from __future__ import annotations

from itertools import combinations

from harness.record import BASE, load_predictions

from .diff import diff_html
from .site import unique_slugs

MAX_LISTED = 40
"""Disagreeing examples shown per suite and direction; the page says how many more there are."""
MAX_LARGEST = 10
"""Examples with the largest score difference shown per metric."""
MAX_PAIR_PAGES = 120
"""Beyond this many pairs (16 strategies with base), only pairs with base or on a Pareto front get pages."""


def strategy_states(record, strategy: str) -> list[str]:
    """The states of a strategy (`base` is its own)."""
    return [BASE] if strategy == BASE else [b.name for b in record.strategies[strategy]]


def pair_list(record, front: set[str]) -> list[tuple[str, str]]:
    """(baseline, strategy) of each pair that gets a page, in the order comparisons are recorded."""
    names = [BASE] + list(record.strategies)
    pairs = list(combinations(names, 2))
    if len(pairs) <= MAX_PAIR_PAGES:
        return pairs
    return [(a, b) for a, b in pairs if a == BASE or (a in front and b in front)]


def pair_files(record, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Each pair's page, under pairs/, named by file-system-safe slugs of the two names."""
    names = [BASE] + list(record.strategies)
    slug = dict(zip(names, unique_slugs(names)))
    return {(a, b): f"pairs/{slug[a]}--{slug[b]}.html" for a, b in pairs}


def comparison_rows(record, a: str, b: str) -> list[dict]:
    """Every suite × metric: both sides' values and the recorded comparison of b against a."""
    seeded = {(c.suite, c.metric): c for c in record.seed_comparisons if (c.baseline, c.strategy) == (a, b)}
    single = {(c.suite, c.metric, c.baseline, c.state): c for c in record.comparisons}
    spreads = {(s.strategy, s.suite, s.metric): s for s in record.seed_spreads}
    states_a, states_b = strategy_states(record, a), strategy_states(record, b)
    rows = []
    for info in record.suites:
        for m in info.metrics:
            per_seed = [single.get((info.name, m.name, sa, sb)) for sa, sb in _seed_pairs(states_a, states_b)]
            rows.append({
                "suite": info.name, "metric": m.name, "digits": m.digits, "kind": m.kind,
                "a": _value(record, spreads, a, states_a, info.name, m.name),
                "b": _value(record, spreads, b, states_b, info.name, m.name),
                "seeded": seeded.get((info.name, m.name)),
                "single": [c for c in per_seed if c is not None],
            })
    return rows


def _seed_pairs(states_a: list[str], states_b: list[str]) -> list[tuple[str, str]]:
    """The states paired by seed (base pairs with every seed of the other side)."""
    if states_a == [BASE]:
        return [(BASE, s) for s in states_b]
    return list(zip(states_a, states_b))


def _value(record, spreads, strategy: str, states: list[str], suite: str, metric: str):
    spread = spreads.get((strategy, suite, metric))
    if spread is not None:
        return {"value": spread.mean, "sd": spread.sd}
    value = record.value(states[0], suite, metric)
    return None if value is None else {"value": value, "sd": None}


def disagreements(record, run_dir, a: str, b: str) -> list[dict]:
    """Per suite: the pass/fail flips between the two sides and, per other metric, the largest differences."""
    states_a, states_b = strategy_states(record, a), strategy_states(record, b)
    out = []
    for info in record.suites:
        rows_a = [{r.id: r for r in load_predictions(run_dir, s, info.name)} for s in states_a]
        rows_b = [{r.id: r for r in load_predictions(run_dir, s, info.name)} for s in states_b]
        ids = [i for i in rows_b[0] if all(i in r for r in rows_a + rows_b)]
        passfail = info.passfail_metric
        section: dict = {"suite": info.name, "passfail": passfail, "n": len(ids), "metrics": []}
        if passfail:
            better_b: list[dict] = []
            better_a: list[dict] = []
            for i in ids:
                share_a, share_b = _mean_score(rows_a, i, passfail), _mean_score(rows_b, i, passfail)
                if share_a is None or share_b is None or share_a == share_b:
                    continue
                item = _example(rows_a, rows_b, states_a, states_b, i, passfail, share_a, share_b)
                (better_b if share_b > share_a else better_a).append(item)
            for name, items in (("better_b", better_b), ("better_a", better_a)):
                items.sort(key=lambda x: -abs(x["b_score"] - x["a_score"]))
                section[name] = items[:MAX_LISTED]
                section[f"{name}_count"] = len(items)
        for m in info.metrics:
            if m.kind == "passfail":
                continue
            scored = []
            for i in ids:
                sa, sb = _mean_score(rows_a, i, m.name), _mean_score(rows_b, i, m.name)
                if sa is not None and sb is not None and sa != sb:
                    scored.append(_example(rows_a, rows_b, states_a, states_b, i, m.name, sa, sb))
            scored.sort(key=lambda x: (-abs(x["b_score"] - x["a_score"]), x["id"]))
            better = (lambda x: x["b_score"] > x["a_score"]) if m.higher_is_better else \
                (lambda x: x["b_score"] < x["a_score"])
            section["metrics"].append({"metric": m.name, "kind": m.kind, "digits": m.digits,
                                       "differ": len(scored), "b_better": sum(map(better, scored)),
                                       "largest": scored[:MAX_LARGEST]})
        out.append(section)
    return out


def _mean_score(sides: list[dict], example_id: str, metric: str) -> float | None:
    """The example's score averaged over a side's seeds (None when a seed did not score it)."""
    scores = [side[example_id].scores.get(metric) for side in sides]
    if any(s is None for s in scores):
        return None
    return sum(scores) / len(scores)


def _example(rows_a, rows_b, states_a, states_b, example_id: str, metric: str, score_a: float,
             score_b: float) -> dict:
    first = rows_b[0][example_id]

    def side(rows, states):
        return [{"state": s, "html": diff_html(r[example_id].output, first.reference),
                 "score": r[example_id].scores.get(metric)} for s, r in zip(states, rows)]

    return {"id": example_id, "prompt": first.prompt, "reference": first.reference, "a_score": score_a,
            "b_score": score_b, "a": side(rows_a, states_a), "b": side(rows_b, states_b)}


def costs(record, strategy: str) -> list:
    """The BackendRuns of a strategy's states (none for base, which is not tuned)."""
    return [] if strategy == BASE else list(record.strategies[strategy])


def settings_differences(record, a: str, b: str) -> list[tuple[str, object, object]]:
    """(setting, a's value, b's value) for each setting both strategies have and set differently (and the
    backend, when they differ in it)."""
    if BASE in (a, b):
        return []
    sa, sb = record.strategies[a][0], record.strategies[b][0]
    keys = [k for k in sa.settings if k in sb.settings]
    diffs = [("backend", sa.backend, sb.backend)] if sa.backend != sb.backend else []
    return diffs + [(k, sa.settings.get(k), sb.settings.get(k)) for k in keys
                    if sa.settings.get(k) != sb.settings.get(k)]
