"""CPU time of the commands that only inspect, against `python -c pass`.

Goal: each costs at most 0.5 CPU seconds more than starting Python (`--help`, `suites list` of the shipped
suites, `suites validate` of one (its metrics are sacrebleu's), `metrics`, `backends`, `models list`, an
argument error). CPU time, not wall time, so
that other load on the machine changes the figures little. `tests/test_cli.py` checks the same commands import
no model or metric library. Exits 1 when a goal is missed.

    .venv/bin/python bench/cli_speed.py [--reps N]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import ROOT, Row, print_rows  # noqa: E402

GOAL_SECONDS = 0.5
COMMANDS = {"--help": (["--help"], 0), "suites list": (["suites", "list"], 0),
            "suites validate": (["suites", "validate", "suites/translate_en_zh"], 0), "metrics": (["metrics"], 0),
            "backends": (["backends"], 0), "models list": (["models", "list"], 0),
            "argument error": (["run", "--limit", "0"], 2)}
"""Each inspecting command's arguments and exit status."""


def cpu_seconds(argv: list[str], status: int, env: dict[str, str]) -> float:
    """User + system CPU seconds of one run of `python ARGV` (and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != status:
        raise SystemExit(f"{' '.join(argv)}: exit status {done.returncode}, not {status}: {done.stderr[-500:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(reps: int, cache: Path) -> list[Row]:
    """The summary rows: each command's CPU time over `reps` runs (least and median), and what it costs over
    starting Python."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HARNESS_CACHE": str(cache)}
    runs = {"python -c pass": (["-c", "pass"], 0)} | {
        name: (["-m", "harness", *argv], status) for name, (argv, status) in COMMANDS.items()}
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for rep in range(reps):  # interleaved, so that a change in load hits every command alike
        for name in runs if rep % 2 == 0 else reversed(list(runs)):
            seconds[name].append(cpu_seconds(*runs[name], env))
    start = min(seconds["python -c pass"])
    rows = [Row("CPU: python -c pass", f"{start:.2f} / {statistics.median(seconds['python -c pass']):.2f} s",
                "-", None)]
    for name in COMMANDS:
        least, typical = min(seconds[name]), statistics.median(seconds[name])
        rows.append(Row(f"CPU: harness {name}", f"{least:.2f} / {typical:.2f} s (+{least - start:.2f} s)",
                        f"+<= {GOAL_SECONDS:.1f} s", least - start <= GOAL_SECONDS))
    return rows


def main() -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="runs of each command; the least is kept (default: 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(args.reps, Path(tmp))
    print_rows(rows, "Inspecting commands: CPU seconds (least of the runs; over starting Python)")
    return 0 if all(r.met is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
