"""Shared by the benchmarks: interleaved timing, a bench workspace, and the summary table.

Every comparison is measured side by side in one process run: the variants alternate within each
repetition, so that a change in machine load hits them alike, and each reports its minimum
(the least disturbed) and median.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@dataclass
class Timing:
    """Seconds of each repetition of one variant."""

    seconds: list[float]

    @property
    def min(self) -> float:
        """The least disturbed repetition."""
        return min(self.seconds)

    @property
    def median(self) -> float:
        """The typical repetition."""
        return statistics.median(self.seconds)


def interleaved(variants: dict[str, Callable[[], object]], reps: int) -> tuple[dict[str, Timing], dict[str, list]]:
    """Run every variant once per repetition, alternating their order; (timings, what each call returned)."""
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    returned: dict[str, list] = {name: [] for name in variants}
    names = list(variants)
    for rep in range(reps):
        for name in names if rep % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            returned[name].append(variants[name]())
            seconds[name].append(time.perf_counter() - start)
    return {n: Timing(s) for n, s in seconds.items()}, returned


def ratio(slow: Timing, fast: Timing) -> tuple[float, float]:
    """How many times faster `fast` is: (by minimum, by median)."""
    return slow.min / fast.min, slow.median / fast.median


@dataclass
class Row:
    """One line of the summary: what was measured, against which goal."""

    name: str
    measured: str
    goal: str
    met: bool | None
    """None when the figure is reported without a goal."""
    note: str = ""


def print_rows(rows: list[Row], title: str = "Benchmarks") -> None:
    """The summary table."""
    widths = [max(len(r.name) for r in rows), max(len(r.measured) for r in rows), max(len(r.goal) for r in rows)]
    print(f"\n{title}")
    print(f"{'measure':<{widths[0]}}  {'measured (min / median)':<{widths[1]}}  {'goal':<{widths[2]}}  met")
    for r in rows:
        met = {True: "yes", False: "NO", None: "-"}[r.met]
        print(f"{r.name:<{widths[0]}}  {r.measured:<{widths[1]}}  {r.goal:<{widths[2]}}  {met}"
              + (f"  ({r.note})" if r.note else ""))


def harness(args: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    """Run `python -m harness ARGS` in a fresh process; its standard output (a failure stops the bench)."""
    done = subprocess.run([sys.executable, "-m", "harness", *args], env=env, cwd=cwd or ROOT, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"harness {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def run_dir_of(stdout: str) -> Path:
    """The run directory a `harness run|eval` printed."""
    line = next(x for x in stdout.splitlines() if x.startswith("Run directory: "))
    return Path(line.removeprefix("Run directory: "))


def workspace(root: Path, sizes: dict[str, tuple[int, int]]) -> dict[str, str]:
    """Suites cut from the shipped ones under `root/suites` and a cache of the bench's own; the environment
    for the harness processes."""
    from tests.conftest import cut_suite

    for name, (n_train, n_test) in sizes.items():
        if not (root / "suites" / name).is_dir():
            cut_suite(name, root / "suites" / name, n_train, n_test)
    return {**os.environ, "HARNESS_CACHE": str(root / "cache")}
