"""After every state is evaluated: paired comparisons and the checks that need several states.

Reads only the run directory's predictions (and the in-memory samples saved at tuning time), so
a resumed run analyses exactly what a straight one would.
"""
from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

from . import checks
from .compare import compare, finalize
from .evaluate import suite_metrics
from .record import BASE, RunRecord, load_predictions
from .suite import Suite


def in_memory_path(run_dir: Path, state: str) -> Path:
    return Path(run_dir) / "checks" / f"{state}.in_memory.json"


def analyse(record: RunRecord, run_dir: Path, suites: list[Suite], seed: int) -> None:
    rows = {(state, s.name): load_predictions(run_dir, state, s.name) for state in record.states for s in suites}
    tuned = [b.name for b in record.backends]
    # Each tuned state against base, then each pair of backends (the first named is the baseline).
    pairs = [(BASE, t) for t in tuned] + list(combinations(tuned, 2))
    raw = []
    for suite in suites:
        for name, metric in suite_metrics(suite).items():
            for baseline, state in pairs:
                c = compare(metric, name, suite.name, baseline, rows[(baseline, suite.name)], state,
                            rows[(state, suite.name)], seed)
                raw.append({"suite": suite.name, "metric": name, "baseline": baseline, "state": state, **c})
    record.comparisons = finalize(raw, record.alpha)

    changed, reload = {}, {}
    for state in tuned:
        differ, compared = map(sum, zip(*(checks.model_changed(rows[(BASE, s.name)], rows[(state, s.name)])
                                          for s in suites)))
        changed[state] = {"differ": differ, "compared": compared, "ok": differ > 0}
        path = in_memory_path(run_dir, state)
        if path.is_file():
            expected = json.loads(path.read_text(encoding="utf-8"))
            got = {f"{s.name}/{r['id']}": r["output"] for s in suites for r in rows[(state, s.name)]}
            reload[state] = checks.compare_outputs(expected, got)
        else:
            reload[state] = {"checked": 0, "mismatches": [], "ok": None, "note": "the backend offers no in-memory model"}
    record.checks["model_changed"] = changed
    record.checks["reload_equivalence"] = reload


def failed_checks(record: RunRecord, state: str) -> list[str]:
    """Why this state's numbers cannot be trusted (empty when they can)."""
    problems = []
    changed = record.checks.get("model_changed", {}).get(state)
    if changed and not changed["ok"]:
        problems.append(f"tuning changed nothing: all {changed['compared']} outputs equal base's")
    reload = record.checks.get("reload_equivalence", {}).get(state)
    if reload and reload["ok"] is False:
        problems.append(f"the saved model, reloaded, differs from the trained one on "
                        f"{len(reload['mismatches'])} of {reload['checked']} sampled examples")
    batch = record.checks.get("batch_invariance", {}).get(state)
    if batch and not batch["ok"]:
        problems.append(f"outputs depend on the batch size ({len(batch['mismatches'])} of {batch['checked']} differ)")
    return problems
