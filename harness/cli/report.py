"""`harness report`: render a run's report, or compare several runs."""
from __future__ import annotations

from typing import TYPE_CHECKING

from harness.common.errors import HarnessError
from harness.common.lazy import lazy_module

from .summary import keep_charts

if TYPE_CHECKING:
    import reports
    from harness import record as records
    from harness.evaluation import gates
else:  # loaded when the command runs, not with the command line
    gates = lazy_module("harness.evaluation.gates")
    records = lazy_module("harness.record")
    reports = lazy_module("reports")


def cmd_report(args) -> int:
    """`harness report`: render one run's report or a comparison of several."""
    if args.baseline and len(args.run_dirs) != 1:
        raise HarnessError("--baseline gates one run; give one RUN_DIR", "--baseline")
    baseline = (args.baseline, records.load_record(args.baseline)) if args.baseline else None
    for run_dir in args.run_dirs:
        record = records.load_record(run_dir)
        # Gates are decided once and recorded; runs of an older schema never recorded theirs.
        if baseline or (not record.gates and any(s.gates for s in record.suites) and record.status == "complete"):
            who = f"harness report --baseline {args.baseline}" if baseline else "harness report"
            gates.record_gates(run_dir, record, gates.decide_all(record, str(run_dir), baseline), who)
    keep_charts()
    if len(args.run_dirs) == 1:
        print(f"Report: {reports.render_report(args.run_dirs[0], args.out).resolve()}")
    elif not args.out:
        raise HarnessError("comparing several runs needs --out DIR for the comparison site", "--out")
    else:
        print(f"Comparison: {reports.render_comparison(args.run_dirs, args.out).resolve()}")
    return 0
