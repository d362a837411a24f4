"""`harness report`: render a run's report, or compare several runs."""
from __future__ import annotations

from harness.common.errors import HarnessError


def cmd_report(args) -> int:
    """`harness report`: render one run's report or a comparison of several."""
    from harness.evaluation.gates import decide_all, record_gates
    from harness.record import load_record
    from reports import render_comparison, render_report

    if args.baseline and len(args.run_dirs) != 1:
        raise HarnessError("--baseline gates one run; give one RUN_DIR", "--baseline")
    baseline = (args.baseline, load_record(args.baseline)) if args.baseline else None
    for run_dir in args.run_dirs:
        record = load_record(run_dir)
        # Gates are decided once and recorded; runs of an older schema never recorded theirs.
        if baseline or (not record.gates and any(s.gates for s in record.suites) and record.status == "complete"):
            who = f"harness report --baseline {args.baseline}" if baseline else "harness report"
            record_gates(run_dir, record, decide_all(record, str(run_dir), baseline), who)
    if len(args.run_dirs) == 1:
        print(f"Report: {render_report(args.run_dirs[0], args.out).resolve()}")
    elif not args.out:
        raise HarnessError("comparing several runs needs --out DIR for the comparison site", "--out")
    else:
        print(f"Comparison: {render_comparison(args.run_dirs, args.out).resolve()}")
    return 0
