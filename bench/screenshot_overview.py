"""The README's picture of a report: the overview of a synthetic two-suite run, shot in headless Chromium.

    .venv/bin/python bench/screenshot_overview.py [OUT.png]     (default: docs/overview.png)

Uses Debian's Chromium through playwright; never downloads a browser.
"""
from __future__ import annotations

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

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "overview.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        index = render_report(make_run(Path(tmp), run_id="20260101-120000-demo"))
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        page.goto(index.as_uri())
        # verdict, results with intervals and gates: the part a reviewer reads first
        bottom = page.evaluate("document.getElementById('suites').getBoundingClientRect().top + window.scrollY")
        page.screenshot(path=str(out), full_page=True, clip={"x": 0, "y": 0, "width": 1200, "height": int(bottom)})
        browser.close()
    # a 256-colour palette keeps text crisp at a fraction of the size
    Image.open(out).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    print(f"{out}: {out.stat().st_size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
