"""The report in real headless Chromium (Debian's, driven by playwright; never a downloaded browser):
pages load from file:// without console errors, the filters select exactly the right rows across
pages, and hostile data never runs as script."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.synthetic import make_run
from harness.record import load_predictions
from reports import render_report

from .test_report import index_rows, regressed_ids


class Page:
    """A browser page that records console errors, uncaught exceptions and dialogs."""

    def __init__(self, browser):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def open(self, path: Path):
        self.page.goto(path.as_uri())
        self.page.wait_for_load_state("load")
        return self.page

    def visible_ids(self) -> list[str]:
        return self.page.eval_on_selector_all("#rows > tr:not([hidden])", "rows => rows.map(r => r.dataset.id)")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, Path]:
    run = make_run(tmp_path_factory.mktemp("browser"), stats=True)
    with pytest.MonkeyPatch.context() as mp:  # several index files, as a large suite has
        mp.setattr("reports.examples.INDEX_CHUNK_BYTES", 20_000)
        return run, render_report(run, page_size=100).parent


def test_pages_load_cleanly_and_screenshots_are_taken(browser, site, tmp_path):
    _, out = site
    tab = Page(browser)
    for rel in ("index.html", "strategy.html", "training.html", "suites/agent_tools/index.html",
                "suites/translate_en_zh/examples-002.html"):
        tab.open(out / rel)
    tab.open(out / "index.html").screenshot(path=tmp_path / "overview.png", full_page=True)
    tab.open(out / "suites" / "agent_tools" / "examples-001.html").screenshot(path=tmp_path / "suite.png")
    assert (tmp_path / "overview.png").stat().st_size > 10_000 and (tmp_path / "suite.png").stat().st_size > 10_000
    assert tab.errors == [] and tab.dialogs == []
    # the filter form is shown only where the script runs; charts are inline SVG
    page = tab.open(out / "suites" / "agent_tools" / "index.html")
    assert page.locator("svg").count() == 1 and page.locator("ol.pages li").count() == 3


def _improved_ids(run_dir: Path, suite: str, metric: str, states=("full", "lora")) -> set[str]:
    base = {r.id: r.scores[metric] for r in load_predictions(run_dir, "base", suite)}
    tuned = [{r.id: r.scores[metric] for r in load_predictions(run_dir, s, suite)} for s in states]
    return {i for i in base if not base[i] and any(t[i] for t in tuned)}


def test_regressed_filter_shows_exactly_the_regressed_rows_on_every_page(browser, site):
    run, out = site
    folder = out / "suites" / "agent_tools"
    order = [row[0] for row in index_rows(folder)]  # the pages' order

    def by_page(ids: set[str]) -> dict[int, list[str]]:
        return {p: [i for n, i in enumerate(order) if i in ids and n // 100 + 1 == p] for p in (1, 2, 3)}

    expected = regressed_ids(run, "agent_tools", "exact_match")
    assert order[:len(expected)] == expected  # the list opens on the regressions
    tab = Page(browser)
    page = tab.open(folder / "examples-001.html")
    assert len(tab.visible_ids()) == 100  # unfiltered
    page.check("input[name=f][value=regressed]")
    page.wait_for_function(f"document.getElementById('filter-status').textContent.includes('{len(expected)} of 240')")
    assert tab.visible_ids() == by_page(set(expected))[1]
    # the filter travels with the links to other pages (improved examples are on every page)
    improved = _improved_ids(run, "agent_tools", "exact_match")
    pages = by_page(improved)
    page.check("input[name=f][value=improved]")
    page.wait_for_function(f"document.getElementById('filter-status').textContent.includes('{len(improved)} of 240')")
    assert tab.visible_ids() == pages[1]
    target = next(p for p in (2, 3) if pages[p])
    page.click(f"#filter-status a:text-is('{target} ({len(pages[target])})')")
    page.wait_for_function("document.getElementById('filter-status').textContent.includes('match')")
    assert page.url.endswith(f"examples-00{target}.html#f=improved")
    assert tab.visible_ids() == pages[target]
    # one tuned state only, then back to everything
    lora_only = _improved_ids(run, "agent_tools", "exact_match", states=("lora",))
    page.select_option("select[name=s]", "lora")
    page.wait_for_function("location.hash.includes('s=lora')")
    assert tab.visible_ids() == by_page(lora_only)[target]
    page.check("input[name=f][value=all]")
    page.select_option("select[name=s]", "")
    assert len(tab.visible_ids()) == 100
    assert tab.errors == []


def test_search_spans_every_page(browser, site):
    _, out = site
    folder = out / "suites" / "agent_tools"
    last = index_rows(folder)[-1][0]  # an example on the last page, found from the first
    tab = Page(browser)
    page = tab.open(folder / "examples-001.html")
    page.fill("input[name=q]", f"Request {int(last.split('-')[1])}:")
    page.wait_for_function("document.getElementById('filter-status').textContent.includes('match')")
    assert "1 of 240 examples match" in page.inner_text("#filter-status") and tab.visible_ids() == []
    page.click("#filter-status a")
    page.wait_for_function("document.querySelectorAll('#rows > tr:not([hidden])').length === 1")
    assert tab.visible_ids() == [last] and tab.errors == []


def test_hostile_data_never_runs(browser, tmp_path):
    run = make_run(tmp_path, hostile=True, run_id="hostile")
    out = render_report(run, page_size=100).parent
    tab = Page(browser)
    files = sorted(out.rglob("*.html"))
    for path in files:
        page = tab.open(path)
        assert page.evaluate("window.__xss") is None, path
        assert page.locator("img").count() == 0, path
    page = tab.open(out / "suites" / "agent_tools" / "examples-001.html")
    text = page.inner_text("#rows")
    assert "<script>window.__xss = 1</script>" in text and "{{ 7*7 }}" in text
    assert '"><img src=x onerror="window.__xss = 2">' in text
    page.fill("input[name=q]", "<script>")  # the search and its status build DOM from data too
    page.wait_for_function("document.getElementById('filter-status').textContent.includes('match')")
    assert page.evaluate("window.__xss") is None and len(tab.visible_ids()) > 0
    assert tab.dialogs == [] and tab.errors == []


def test_without_javascript_every_example_shows(browser, site):
    _, out = site
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto((out / "suites" / "agent_tools" / "examples-002.html").as_uri())
    assert page.locator("#rows > tr:visible").count() == 100 and not page.locator("#filters").is_visible()
    page.goto((out / "suites" / "agent_tools" / "index.html").as_uri())
    assert [a.get_attribute("href") for a in page.locator("ol.pages a").all()] == \
        ["examples-001.html", "examples-002.html", "examples-003.html"]
    context.close()


def test_data_page_and_token_view_render(browser, site, tmp_path):
    from harness.record import load_record

    run, out = site
    tab = Page(browser)
    page = tab.open(out / "data.html")
    assert page.locator("svg").count() == 3 and page.locator("ul.findings li").count() == 2
    assert page.locator("svg").first.bounding_box()["width"] > 200
    chosen = load_record(run).explanations.attention["agent_tools"]  # a flipped example with an attention map
    order = [r.id for r in load_predictions(run, "base", "agent_tools")]
    page = tab.open(out / "suites" / "agent_tools" / f"examples-{order.index(chosen) // 100 + 1:03d}.html")
    view = page.locator(f'tr[data-id="{chosen}"] details.why')
    assert not view.locator(".strip").first.is_visible()  # closed until asked for
    view.locator("summary").click()
    strips = view.locator(".strip")
    assert strips.count() == 5 and all(strips.nth(i).is_visible() for i in range(5))
    assert strips.first.locator("i").count() > 3 and view.locator("table.next").count() >= 1
    assert view.locator("svg.attention").count() == 3
    assert view.locator("svg.attention").first.bounding_box()["width"] > 100
    view.screenshot(path=tmp_path / "why.png")
    assert (tmp_path / "why.png").stat().st_size > 5_000 and tab.errors == [] and tab.dialogs == []


OVERFLOW = (Path(__file__).parent / "overflow.js").read_text(encoding="utf-8")
"""Lists what sticks out of the page's content column (unless a scrolling box holds it) and every `.scroll`
box whose table does not fit without scrolling."""


@pytest.mark.parametrize("width", [1280, 1400])
def test_every_page_fits_a_laptop_screen(browser, site, width):
    """At 1,280 and 1,400 px no table, chart or legend is cut off and no table needs a sideways scroll."""
    _, out = site
    page = browser.new_page(viewport={"width": width, "height": 900})
    found = {}
    for path in sorted(out.rglob("*.html")):
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        if bad := page.evaluate(OVERFLOW):
            found[str(path.relative_to(out))] = bad
    assert found == {}
