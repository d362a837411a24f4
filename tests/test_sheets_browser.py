"""The HTML form in a real browser: fill it in, download the CSV, import it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.evaluation.ratings import record_ratings
from reports.sheets import export_sheets, import_ratings

from .test_sheets_support import key_items, prefers_tuned, run_dir  # noqa: F401


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.requests, page.dialogs = [], []
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    yield page
    context.close()


def fill_form(page, items: dict, skip: int | None = None) -> list[dict]:
    rows = json.loads(page.locator("#sheet-data").text_content())["rows"]
    for i, row in enumerate(rows):
        if i != skip:
            page.check(f'input[name="v{i}"][value="{prefers_tuned(items[row["item_id"]], row)}"]')
    return rows


def download(page, dest: Path) -> Path:
    with page.expect_download() as info:
        page.click("#download")
    info.value.save_as(dest)
    return dest


def test_filled_form_downloads_a_csv_the_importer_takes(page, run_dir, tmp_path):
    done = export_sheets(run_dir, per_suite=2, raters=["r1", "ana"], formats=["html"])  # ana types her id into r1's
    items = key_items(run_dir)
    page.goto((done.folder / "pointwise-r1.html").as_uri())

    page.fill("#rater", "")
    page.click("#download")
    assert page.text_content("#status") == "Enter your rater id first."

    page.fill("#rater", "ana")
    rows = fill_form(page, items, skip=3)
    page.fill("#c0", 'He said "hi", then; left\nearly')
    assert page.text_content("#done") == str(len(rows) - 1)
    saved = download(page, tmp_path / "form.csv")
    assert saved.read_bytes().startswith(b"\xef\xbb\xbf")

    (result,) = import_ratings(run_dir, [saved])
    assert len(result.ratings) == len(rows) - 1 and result.unanswered == 1
    assert {r["rater"] for r in result.ratings} == {"ana"}
    assert result.ratings[0]["comment"] == 'He said "hi", then; left\nearly'
    assert all(r["score"] == (1 if r["state"] == "base" else 5) for r in result.ratings)

    page.reload()  # answers survive a closed tab
    assert page.input_value("#rater") == "ana"
    assert page.locator('input[name="v0"]:checked').get_attribute("value") == prefers_tuned(items[rows[0]["item_id"]], rows[0])
    assert page.input_value("#c0") == 'He said "hi", then; left\nearly'
    assert page.text_content("#done") == str(len(rows) - 1)

    assert page.dialogs == [], "model output must not run as script"
    assert all(url.startswith(("file:", "blob:", "data:")) for url in page.requests), page.requests


def test_pairwise_form_round_trip(page, run_dir, tmp_path):
    done = export_sheets(run_dir, per_suite=3, raters=["r1"], formats=["html"])
    page.goto((done.folder / "pairwise-lora-r1.html").as_uri())
    rows = fill_form(page, key_items(run_dir))
    (result,) = import_ratings(run_dir, [download(page, tmp_path / "ab.csv")])
    assert len(result.ratings) == len(rows) == 6
    (pref,) = record_ratings(run_dir).preferences
    assert pref.win_rate == 1.0 and pref.wins == 6
    assert page.dialogs == []
