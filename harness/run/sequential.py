"""`harness run --sequential`: evaluate the test splits in seeded stages until every margin gate is decided.

Stage k plans the run with each suite's test split cut to its first `STAGES[k]` share in a seeded order
(nested samples), executes it in a run directory of its own, and decides the gates at that stage's
critical value (`harness.stats.sequential`). When every margin gate (`max_drop`, `equivalent_within`,
`min_delta` with `decide_on: lower_bound`) is decided by its bounds, the run stops there; otherwise the
stage's directory is discarded and the next stage runs. Tuning happens once (later stages restore the
tuned models from the tuning cache) and earlier examples' outputs come from the generation cache, so a
stage costs only its new examples. Other gates do not steer the stopping: they are decided on the
examples of the stage reached, and the significance verdicts (Holm p < alpha) are those of that sample,
not adjusted for the looks.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from harness.common.errors import HarnessError
from harness.evaluation.margins import decide_margin
from harness.record import BASE, GateOutcome, RunRecord
from harness.record.spec import MARGIN_GATES
from harness.stats.sequential import STAGES

from .dirs import new_run_dir
from .orchestrate import Plan, RunRequest, execute, plan


def steers(gate) -> bool:
    """Whether a gate decides when a sequential run stops: the gates decided on an interval."""
    return gate.kind in MARGIN_GATES and (gate.kind != "min_delta" or gate.decide_on == "lower_bound")


def undecided(record: RunRecord) -> list[GateOutcome]:
    """The margin gates whose bounds straddle their margin (more examples could decide them)."""
    out = []
    for o in record.gates:
        if not steers(o.gate) or o.value is None:
            continue  # not a steering gate, or nothing more data can fix (not measured, failed validity checks)
        c = next((c for c in record.comparisons if (c.suite, c.metric, c.baseline, c.state)
                  == (o.suite, o.gate.metric, BASE, o.state)), None)
        if c is None:
            continue
        info = record.suite(o.suite).metric(o.gate.metric or "")
        if not decide_margin(o.gate, c, info, c.n or 0, record.bound_alpha).conclusive:
            out.append(o)
    return out


def execute_sequential(request: RunRequest, out: Path, log=print) -> tuple[Path, RunRecord]:
    """Run the stages until every margin gate is decided (or the test splits are used up)."""
    if request.limit is not None:
        raise HarnessError("--sequential chooses how many test examples to evaluate; drop --limit", "--sequential")
    if not request.cache:
        raise HarnessError("--sequential reuses each stage's outputs and tuned models from the caches; "
                           "drop --no-cache", "--sequential")
    request.stage = 0
    first = plan(request)
    stages = range(len(STAGES)) if _has_steering_gates(first) else range(len(STAGES) - 1, len(STAGES))
    if len(stages) == 1:
        log("--sequential: no margin gate applies to a tuned state, so every test example is evaluated")
    for k in stages:
        request.stage = k
        p = first if k == 0 else plan(request)
        run_dir = new_run_dir(out, p.config_key)
        log(f"Stage {k + 1} of {len(STAGES)}: {STAGES[k]:.0%} of each test split ({run_dir})")
        record = execute(p, run_dir, log)
        left = undecided(record)
        if not left or k == len(STAGES) - 1:
            return run_dir, record
        log(f"Stage {k + 1}: {len(left)} margin gate(s) undecided ("
            + ", ".join(f"{o.suite} {o.state} {o.label}" for o in left) + "); evaluating more examples")
        shutil.rmtree(run_dir)
    raise AssertionError("unreachable: the last stage returns")


def _has_steering_gates(p: Plan) -> bool:
    return bool(p.tunings) and any(steers(g) for s in p.suites for g in s.spec.gates)
