"""The README's pictures of a report: a run's overview, shot in headless Chromium.

    .venv/bin/python bench/screenshot_overview.py [OUT.png] [--run RUN_DIR] [--suite NAME]

With `--run`, the report of that finished run (rendered afresh into a temporary folder); without,
a synthetic two-suite run's. With `--suite`, that suite's page down to its example list (its results,
results by label and failures by kind) instead of the overview. OUT defaults to docs/overview.png.

Uses Debian's Chromium through playwright; never downloads a browser.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.synthetic import make_run  # noqa: E402
from reports import render_report  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def main() -> int:
    from PIL import Image
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "docs" / "overview.png"))
    parser.add_argument("--run", metavar="RUN_DIR", help="a finished run to show (default: a synthetic one)")
    parser.add_argument("--suite", metavar="NAME", help="show this suite's page instead of the overview")
    args = parser.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        if args.run:
            index = render_report(Path(args.run), Path(tmp) / "report")
        else:
            index = render_report(make_run(Path(tmp), run_id="20260101-120000-demo"))
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        if args.suite:
            index = index.parent / "suites" / args.suite / "index.html"
        page.goto(index.as_uri())
        # verdict and results with intervals (and, for the synthetic run, gates): the part a reviewer reads
        # first. A real run's gate details name its folder on the machine it ran on: they stay out.
        if args.suite:  # down to the list of example pages
            bottom = page.evaluate("[...document.querySelectorAll('h2')].find(h => h.textContent === 'Examples')"
                                   ".getBoundingClientRect().top + window.scrollY")
        else:
            below = "gates" if args.run else "suites"
            bottom = page.evaluate(f"document.getElementById('{below}').getBoundingClientRect().top + window.scrollY")
        page.screenshot(path=str(out), full_page=True, clip={"x": 0, "y": 0, "width": 1200, "height": int(bottom)})
        browser.close()
    # a 256-colour palette keeps text crisp at a fraction of the size
    Image.open(out).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    print(f"{out}: {out.stat().st_size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
