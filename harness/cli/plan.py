"""`harness plan`: examples needed per gate, from a finished run's variance or a stated pass rate."""
from __future__ import annotations

from typing import TYPE_CHECKING

from harness.common.errors import HarnessError
from harness.common.lazy import lazy_module

if TYPE_CHECKING:
    from harness import record
    from harness.evaluation import planning
    from harness.suitedef import suite
else:  # loaded when the command runs, not with the command line
    planning = lazy_module("harness.evaluation.planning")
    record = lazy_module("harness.record")
    suite = lazy_module("harness.suitedef.suite")


def cmd_plan(args) -> int:
    """Print, per gate (and per tuned state, from a run), the test examples that decide it at 80% power."""
    if args.from_run is None and args.rate is None:
        raise HarnessError("give --from RUN (a finished run's variance) or --rate P (a baseline pass rate)", "plan")
    suites = _load(args.suite or ([] if args.from_run else ["suites"]))
    if args.from_run is not None:
        finished = record.load_record(args.from_run)
        gates = {s.name: list(s.spec.gates) for s in suites} or None
        alpha = args.alpha if args.alpha is not None else finished.alpha
        plans = planning.plan_from_run(finished, f"run {finished.run_id}", gates, alpha)
    else:
        alpha = args.alpha if args.alpha is not None else 0.05
        plans = [p for s in suites for p in planning.plan_from_rate(s.name, list(s.spec.gates),
                                                                    {n: info for n, (_, info) in s.metrics.items()},
                                                                    args.rate, alpha)]
    print(planning.render(plans, alpha))
    return 0


def _load(paths: list[str]) -> list:
    return [suite.load_suite(folder) for folder in suite.find_suites(paths)] if paths else []
