"""After every state is evaluated: paired comparisons and the checks that need several states.

Reads only the run directory's predictions (and the in-memory samples saved at tuning time), so
a resumed run analyses exactly what a straight one would.
"""
from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

from harness.cache import Cache, keys
from harness.evaluation import checks
from harness.record import BASE, ModelChanged, OutputsMatch, RunRecord, load_predictions
from harness.stats.compare import compare, finalize
from harness.suitedef.suite import Suite

from .breakdown import by_label, failures
from .seed_analysis import analyse_seeds


def in_memory_path(run_dir: Path, state: str) -> Path:
    """Where the outputs of a tuned model as trained (before saving) are kept for the reload check."""
    return Path(run_dir) / "checks" / f"{state}.in_memory.json"


def analyse(record: RunRecord, run_dir: Path, suites: list[Suite], seed: int, cache: Cache | None = None) -> None:
    """Fill in the record's comparisons, its model-changed and reload checks, and (with several training
    seeds) the strategies' spreads and seed-aware comparisons. With a `cache`, a comparison of exactly
    these rows is looked up before it is computed."""
    store = cache.store if cache is not None else None
    rows = {(state, s.name): load_predictions(run_dir, state, s.name) for state in record.states for s in suites}
    tuned = [b.name for b in record.backends]
    # Each tuned state against base, then each pair of tuned states trained with the same seed (the first
    # tuned is the baseline): two trainings with different seeds differ by more than their strategies.
    pairs = [(BASE, t) for t in tuned] + [(a.name, b.name) for a, b in combinations(record.backends, 2)
                                          if a.train_seed == b.train_seed]
    raw = []
    for suite in suites:
        for name, (metric, info) in suite.metrics.items():
            if not any(name in r.scores for r in rows[(BASE, suite.name)]):
                continue  # the metric's `when` matched no test example
            for baseline, state in pairs:
                a, b = rows[(baseline, suite.name)], rows[(state, suite.name)]
                if store is None:
                    c = compare(metric, name, suite.name, baseline, a, state, b, seed, record.bound_alpha)
                else:  # looked up and, when missing, computed at once: the loop's variables are current
                    key = keys.comparison_key(metric, info, baseline, state, a, b, seed, record.bound_alpha)
                    c = store.get_or_compute(keys.COMPARISONS, key,
                                             lambda: compare(metric, name, suite.name, baseline, a, state, b, seed,
                                                             record.bound_alpha))
                raw.append({"suite": suite.name, "metric": name, "baseline": baseline, "state": state, **c})
    record.comparisons = finalize(raw, record.alpha)
    every = [(s, state, rows[(state, s.name)]) for s in suites for state in record.states]
    record.by_label = [r for s, state, got in every for r in by_label(s, state, got, seed)]
    record.failures = [f for s, state, got in every for f in failures(s, state, got)]

    for state in tuned:
        differ, compared = map(sum, zip(*(checks.model_changed(rows[(BASE, s.name)], rows[(state, s.name)])
                                          for s in suites)))
        record.checks.model_changed[state] = ModelChanged(differ=differ, compared=compared, ok=differ > 0)
        path = in_memory_path(run_dir, state)
        if path.is_file():
            expected = json.loads(path.read_text(encoding="utf-8"))
            got = {f"{s.name}/{r.id}": (keys.reload_check_key(r.model_input, s.spec.generation.max_new_tokens,
                                                               s.spec.generation.stop), checks.first_turn(r))
                   for s in suites for r in rows[(state, s.name)]}
            restored = next(b for b in record.backends if b.name == state).from_cache is not None
            record.checks.reload_equivalence[state] = checks.compare_reloaded(expected, got, restored)
        else:
            record.checks.reload_equivalence[state] = OutputsMatch(checked=0, ok=None,
                                                                   note="the backend offers no in-memory model")
    analyse_seeds(record, run_dir, suites, seed)
