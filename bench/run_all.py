"""Every benchmark, one after another, and one summary table: `make bench` (with `--demo`).

Ratios are measured side by side (interleaved repetitions; min and median). About 5 minutes on
two quiet CPU cores, and about 10 more with `--demo` (the demo configuration, cold then warm, in
the processes `make demo` uses). Prints the machine's load before and after: figures taken under
other load say so.

    .venv/bin/python bench/run_all.py [--reps N] [--demo]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import cache_speed, cli_speed, eval_speed, report_10k, train_speed  # noqa: E402
from bench.timing import print_rows  # noqa: E402


def load() -> str:
    """The 1-minute load average and the core count."""
    return f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


def main() -> int:
    """Run every benchmark and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each timed comparison (default: 3)")
    parser.add_argument("--demo", action="store_true",
                        help="also time the demo configuration, cold then warm (adds minutes)")
    args = parser.parse_args()
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"{platform.processor() or platform.machine()}, {load()} before, OMP_NUM_THREADS={threads}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows, tuned = cache_speed.measure(root / "cache", max(2, args.reps - 1), args.demo)
        rows += eval_speed.measure(str(tuned), root / "eval", args.reps)
        rows += train_speed.measure(root / "train", "full", 40, args.reps)
        rows.append(report_10k.row(root / "report"))
        rows += cli_speed.measure(args.reps, root / "cli-cache")
    print_rows(rows, f"Summary ({load()} after)")
    return 0 if all(r.met is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
