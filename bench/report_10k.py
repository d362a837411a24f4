"""Report rendering at scale: one suite of 10,000 examples, base and two tuned states.

Target: the whole site renders in at most 30 s on 2 CPU cores and no file exceeds 5 MB.
Prints the measured numbers; exits 1 when a target is missed.

    .venv/bin/python bench/report_10k.py [--examples N] [--keep DIR]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synthetic import make_run  # noqa: E402
from bench.timing import Row  # noqa: E402
from reports import render_report  # noqa: E402

SECONDS = 30.0
MAX_BYTES = 5_000_000


def render(root: Path, examples: int) -> tuple[float, Path, list[Path]]:
    """Make a synthetic run of `examples` examples under `root` and render it: (seconds, site root, files)."""
    run = make_run(root, suites={"agent_tools": examples}, run_id="bench-10k")
    start = time.perf_counter()
    index = render_report(run)
    seconds = time.perf_counter() - start
    return seconds, index.parent, [p for p in index.parent.rglob("*") if p.is_file()]


def row(root: Path, examples: int = 10_000) -> Row:
    """The summary line of this benchmark."""
    seconds, _, files = render(root, examples)
    largest = max(p.stat().st_size for p in files)
    return Row(f"report rendering, {examples:,} examples", f"{seconds:.1f}s", f"<= {SECONDS:.0f} s, files <= 5 MB",
               seconds <= SECONDS and largest <= MAX_BYTES, f"largest file {largest / 1e6:.2f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--keep", metavar="DIR", help="write the run here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        seconds, site, files = render(Path(args.keep or tmp), args.examples)
        largest = max(files, key=lambda p: p.stat().st_size)
        total = sum(p.stat().st_size for p in files)
        print(f"examples: {args.examples:,} (3 states)")
        print(f"render: {seconds:.2f} s (target <= {SECONDS:.0f} s)")
        print(f"files: {len(files)}, total {total / 1e6:.1f} MB")
        print(f"largest file: {largest.relative_to(site)} {largest.stat().st_size / 1e6:.2f} MB "
              f"(target <= {MAX_BYTES / 1e6:.1f} MB)")
        ok = seconds <= SECONDS and largest.stat().st_size <= MAX_BYTES
        print("OK" if ok else "TARGET MISSED")
        return 0 if ok else 1

if __name__ == "__main__":
    sys.exit(main())
