"""`harness plan`: examples needed per gate, from a finished run's variance or a stated pass rate."""
from __future__ import annotations

from harness.common.errors import HarnessError


def cmd_plan(args) -> int:
    """Print, per gate (and per tuned state, from a run), the test examples that decide it at 80% power."""
    from harness.evaluation.planning import plan_from_rate, plan_from_run, render

    if args.from_run is None and args.rate is None:
        raise HarnessError("give --from RUN (a finished run's variance) or --rate P (a baseline pass rate)", "plan")
    suites = _load(args.suite or ([] if args.from_run else ["suites"]))
    if args.from_run is not None:
        from harness.record import load_record

        record = load_record(args.from_run)
        gates = {s.name: list(s.spec.gates) for s in suites} or None
        alpha = args.alpha if args.alpha is not None else record.alpha
        plans = plan_from_run(record, f"run {record.run_id}", gates, alpha)
    else:
        alpha = args.alpha if args.alpha is not None else 0.05
        plans = [p for s in suites for p in plan_from_rate(s.name, list(s.spec.gates),
                                                           {n: info for n, (_, info) in s.metrics.items()},
                                                           args.rate, alpha)]
    print(render(plans, alpha))
    return 0


def _load(paths: list[str]) -> list:
    from harness.suitedef.suite import find_suites, load_suite

    return [load_suite(folder) for folder in find_suites(paths)] if paths else []
