"""`harness sheets export|import`: rating sheets for human raters."""
from __future__ import annotations

from pathlib import Path


def cmd_sheets(args) -> int:
    """`harness sheets export|import`: rating sheets for human raters."""
    from harness.evaluation.ratings import record_ratings
    from reports.sheets import export_sheets, import_ratings, sheets_status
    from reports.sheets.layout import FORMATS, parse_raters
    from reports.sheets.store import store_lock

    if args.sheets_action == "export":
        done = export_sheets(args.run_dir, args.suite, args.per_suite, parse_raters(args.raters), args.seed,
                             args.format or list(FORMATS))
        print(f"Sheet {done.sheet_id}: {done.n_outputs} outputs to score, {done.n_pairs} A/B pairs; "
              f"{len(done.files)} files in {done.folder}")
        print(f"Key (keep it from raters): {Path(args.run_dir) / 'sheets' / 'key.json'}")
        return 0
    for result in import_ratings(args.run_dir, args.files):
        if result.already:
            print(f"{result.path}: already imported (same content); nothing to do")
        else:
            raters = ", ".join(sorted({r["rater"] for r in result.ratings}))
            print(f"{result.path}: imported {len(result.ratings)} ratings by {raters} "
                  f"({result.unanswered} unanswered rows skipped)")
    # Aggregated from the ratings file as it is now, under the lock imports take: concurrent imports
    # each leave run.json matching every rating stored (re-importing a file also records an older run's).
    with store_lock(args.run_dir):
        record_ratings(args.run_dir)
    print(sheets_status(args.run_dir)["message"] + f"; their statistics are in {Path(args.run_dir) / 'run.json'}")
    return 0
