"""After every state is evaluated, for runs that trained each strategy with several seeds: each
strategy's spread across seeds, and seed-aware comparisons (each strategy against base, each pair
of strategies). Reads only the record and the predictions, like `analysis`."""
from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np

from harness.record import BASE, BackendRun, Prediction, RunRecord, SeedComparison, SeedSpread, load_predictions
from harness.stats.compare import compare_across_seeds, finalize
from harness.suitedef.suite import Suite


def by_seed(runs: list[BackendRun]) -> dict[int | None, str]:
    """Training seed → the strategy's state trained with it."""
    return {b.train_seed: b.name for b in runs}


def spreads(record: RunRecord) -> list[SeedSpread]:
    """Each strategy's value of each metric across its seeds (strategies with fewer than two: none)."""
    out = []
    for strategy, runs in record.strategies.items():
        if len(runs) < 2:
            continue
        for info in record.suites:
            for m in info.metrics:
                values = [record.value(b.name, info.name, m.name) for b in runs]
                if any(v is None for v in values):
                    continue
                x = np.array(values, dtype=float)
                out.append(SeedSpread(strategy=strategy, suite=info.name, metric=m.name,
                                      seeds=[b.train_seed for b in runs], values=[float(v) for v in x],
                                      mean=float(x.mean()), sd=float(x.std(ddof=1)), low=float(x.min()),
                                      high=float(x.max())))
    return out


def analyse_seeds(record: RunRecord, run_dir: Path, suites: list[Suite], seed: int) -> None:
    """Fill in `seed_spreads` and `seed_comparisons` (both empty unless the run trained several seeds)."""
    record.seed_spreads, record.seed_comparisons = [], []
    if not record.train_seeds or len(record.train_seeds) < 2:
        return
    record.seed_spreads = spreads(record)
    seeds = record.train_seeds
    strategies = {name: by_seed(runs) for name, runs in record.strategies.items()
                  if set(by_seed(runs)) == set(seeds)}
    pairs = [(BASE, s) for s in strategies] + list(combinations(strategies, 2))
    raw = []
    for suite in suites:
        cache: dict[str, list[Prediction]] = {}

        def rows(state: str) -> list[Prediction]:
            if state not in cache:
                cache[state] = load_predictions(run_dir, state, suite.name)
            return cache[state]

        for name, (metric, _) in suite.metrics.items():
            if not any(name in r.scores for r in rows(BASE)):
                continue  # the metric's `when` matched no test example
            for baseline, strategy in pairs:
                before = [rows(BASE)] if baseline == BASE else [rows(strategies[baseline][s]) for s in seeds]
                after = [rows(strategies[strategy][s]) for s in seeds]
                c = compare_across_seeds(metric, name, before, after, seed)
                raw.append({"suite": suite.name, "metric": name, "baseline": baseline, "strategy": strategy,
                            "seeds": list(seeds), **c})
    record.seed_comparisons = finalize(raw, record.alpha, SeedComparison)
