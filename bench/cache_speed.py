"""Repeat costs: a warm `harness run` and `harness eval` against cold ones (goal: at least 20x, with
identical results), and `pytest suites/` gating a finished run (goal: at most 2 s, imports included).

Each command runs in a fresh process, as a user runs it. Cold runs compute everything (the first
fills the cache, later ones pass --no-cache); warm runs find everything in the cache. A warm run
still imports torch and transformers (to read the tokenizer), analyses and renders the report:
a few seconds whatever the model, so the ratio grows with what the cold run costs. `--demo` also
times the demo configuration (minutes).

    .venv/bin/python bench/cache_speed.py [--reps N] [--demo]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import Row, Timing, harness, print_rows, ratio, run_dir_of, workspace  # noqa: E402

SIZES = {"agent_tools": (240, 48), "translate_en_zh": (120, 24)}
STEPS = ["--set", "full.max_steps=40", "--set", "lora.max_steps=40"]
GATE_SIZES = {"agent_tools": (64, 16), "translate_en_zh": (32, 8)}
"""The gated project trains with the default settings (8 epochs on tiny): kept small."""


def _same_results(a: Path, b: Path) -> bool:
    from harness.record import load_record

    ra, rb = load_record(a), load_record(b)
    return ra.results == rb.results and ra.comparisons == rb.comparisons and ra.checks == rb.checks


def _timed(args: list[str], env: dict) -> tuple[float, Path]:
    start = time.perf_counter()
    out = harness(args, env)
    return time.perf_counter() - start, run_dir_of(out)


def warm_cold(root: Path, reps: int) -> tuple[list[Row], Path]:
    """Warm against cold `harness run`, then `harness eval` of the tuned `full` model; (rows, that model)."""
    env = workspace(root, SIZES)
    run = ["run", "--suite", str(root / "suites"), *STEPS]
    cold: list[float] = []
    warm: list[float] = []
    dirs: list[Path] = []
    for rep in range(reps):  # alternating: cold, warm, cold, warm ...
        seconds, first = _timed([*run, "--out", str(root / "runs" / f"cold{rep}")] + (["--no-cache"] if rep else []),
                                env)
        cold.append(seconds)
        seconds, second = _timed([*run, "--out", str(root / "runs" / f"warm{rep}")], env)
        warm.append(seconds)
        dirs += [first, second]
    identical = all(_same_results(dirs[0], d) for d in dirs[1:])
    by_min, by_median = ratio(Timing(cold), Timing(warm))
    rows = [Row("warm vs cold `harness run`", f"{by_min:.1f}x / {by_median:.1f}x", ">= 20x, identical results",
                by_min >= 20 and identical,
                f"cold {min(cold):.1f}s, warm {min(warm):.1f}s; results {'identical' if identical else 'DIFFER'}")]

    model = dirs[0] / "models" / "full"
    evaluate = ["eval", "--model", str(model), "--suite", str(root / "suites")]
    cold, warm, dirs = [], [], []
    for rep in range(reps):
        seconds, first = _timed([*evaluate, "--out", str(root / "evals" / f"cold{rep}"), "--no-cache"], env)
        cold.append(seconds)
        seconds, second = _timed([*evaluate, "--out", str(root / "evals" / f"warm{rep}")], env)
        warm.append(seconds)
        dirs += [first, second]
    identical = all(_same_results(dirs[0], d) for d in dirs[1:])
    by_min, by_median = ratio(Timing(cold), Timing(warm))
    rows.append(Row("warm vs cold `harness eval`", f"{by_min:.1f}x / {by_median:.1f}x", ">= 20x, identical results",
                    by_min >= 20 and identical,
                    f"cold {min(cold):.1f}s, warm {min(warm):.1f}s; results {'identical' if identical else 'DIFFER'}"))
    return rows, model


def gating(root: Path, reps: int) -> Row:
    """`pytest suites/` in a project whose configuration already has a finished run."""
    env = workspace(root, GATE_SIZES)
    (root / "pytest.ini").write_text("[pytest]\n")
    pytest = [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider"]
    subprocess.run(pytest, cwd=root, env=env, capture_output=True)  # makes the run (its gates may fail)
    seconds = []
    for _ in range(reps):
        start = time.perf_counter()
        done = subprocess.run(pytest, cwd=root, env=env, capture_output=True, text=True)
        seconds.append(time.perf_counter() - start)
    runs = list((root / "runs").iterdir())
    imports = []
    for _ in range(reps):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import pytest, harness.pytest_plugin, harness.run"], env=env,
                       check=True)
        imports.append(time.perf_counter() - start)
    t = Timing(seconds)
    gated = "passed" in done.stdout or "failed" in done.stdout
    return Row("`pytest suites/` on a finished run", f"{t.min:.2f}s / {t.median:.2f}s", "<= 2 s",
               t.min <= 2 and gated and len(runs) == 1,
               f"of which start-up and imports {min(imports):.2f}s; {len(runs)} run(s) made")


def demo_processes() -> int:
    """The processes `make demo` runs in: 2 where two cores are free and no GPU is, else 1 (as the Makefile)."""
    return 1 if shutil.which("nvidia-smi") or (os.cpu_count() or 1) < 2 else 2


def demo(root: Path) -> Row:
    """The demo configuration (`make demo`: every shipped suite, both backends, default settings, in
    `demo_processes()` processes): its first run, then the same command again. Minutes on two cores, so one
    repetition, and only with `--demo`."""
    env = workspace(root, {})  # the shipped suites, a cache of its own
    run = ["run", "--processes", str(demo_processes())]
    cold, first = _timed([*run, "--out", str(root / "cold")], env)
    warm, second = _timed([*run, "--out", str(root / "warm")], env)
    identical = _same_results(first, second)
    return Row(f"warm vs cold `{' '.join(['harness', *run])}`, demo", f"{cold / warm:.1f}x",
               ">= 20x, identical results", cold / warm >= 20 and identical,
               f"cold {cold:.1f}s, warm {warm:.1f}s; results {'identical' if identical else 'DIFFER'}")


def measure(root: Path, reps: int, with_demo: bool = False) -> tuple[list[Row], Path]:
    """Every measurement of this file; (rows, the tuned model the run made)."""
    rows, model = warm_cold(root / "warm-cold", reps)
    rows.append(gating(root / "gating", max(reps, 3)))
    return rows + ([demo(root / "demo")] if with_demo else []), model


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--demo", action="store_true", help="also time the demo configuration, cold then warm")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows, _ = measure(Path(tmp), args.reps, args.demo)
        print_rows(rows, "Repeat costs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
