"""`harness sheets export|import`: rating sheets for human raters."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harness.common.lazy import lazy_module

if TYPE_CHECKING:
    from harness import record as records
    from harness.evaluation import ratings
    from reports import sheets
    from reports.sheets import layout, store
else:  # loaded when the command runs, not with the command line
    layout = lazy_module("reports.sheets.layout")
    ratings = lazy_module("harness.evaluation.ratings")
    records = lazy_module("harness.record")
    sheets = lazy_module("reports.sheets")
    store = lazy_module("reports.sheets.store")


def cmd_sheets(args) -> int:
    """`harness sheets export|import`: rating sheets for human raters."""
    if args.sheets_action == "export":
        done = sheets.export_sheets(args.run_dir, args.suite, args.per_suite, layout.parse_raters(args.raters),
                                    args.seed, args.format or list(layout.FORMATS))
        print(f"Sheet {done.sheet_id}: {done.n_outputs} outputs to score, {done.n_pairs} A/B pairs; "
              f"{len(done.files)} files in {done.folder}")
        print(f"Key (keep it from raters): {Path(args.run_dir) / 'sheets' / 'key.json'}")
        return 0
    for result in sheets.import_ratings(args.run_dir, args.files):
        if result.already:
            print(f"{result.path}: already imported (same content); nothing to do")
        else:
            raters = ", ".join(sorted({r["rater"] for r in result.ratings}))
            print(f"{result.path}: imported {len(result.ratings)} ratings by {raters} "
                  f"({result.unanswered} unanswered rows skipped)")
    # Aggregated from the ratings file as it is now, under the lock imports take: concurrent imports
    # each leave run.json matching every rating stored (re-importing a file also records an older run's).
    with store.store_lock(args.run_dir):
        ratings.record_ratings(args.run_dir)
    print(sheets.sheets_status(args.run_dir)["message"]
          + f"; their statistics are in {Path(args.run_dir) / 'run.json'}")
    for suite, results in records.load_record(args.run_dir).judging.items():
        for r in results:
            if r.calibration is not None:
                verdict = "calibrated" if r.calibration.calibrated else "NOT CALIBRATED"
                print(f"judge {r.metric} on {suite} ({r.judge_model}): {verdict}: {r.calibration.reason}")
    return 0
