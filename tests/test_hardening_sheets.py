"""Rating sheets against hostile input: concurrent imports, formula injection, oversized files, strangers' ratings."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from harness.common import limits
from harness.common.errors import HarnessError
from harness.record import load_predictions, save_predictions
from reports.sheets import export_sheets, import_ratings
from reports.sheets.formulas import FORMULA_START, neutralise, restore
from reports.sheets.readers import read_table

from .conftest import ROOT
from .test_sheets_support import fill_csv, key_items, make_run, prefers_tuned, read_csv, run_dir, write_csv  # noqa: F401

# Outputs a spreadsheet would run as formulas, and text that only looks like an escaped one.
FORMULAS = ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "\tx", "\rcr", "'quoted", "'=already quoted",
            "''+twice", "plain", "", "'"]


def ratings_lines(run_dir: Path) -> list[dict]:
    path = run_dir / "sheets" / "ratings.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


# --- 1. concurrent imports ------------------------------------------------------------------------------

# Each child widens the window between reading ratings.jsonl and rewriting it; without the store's
# lock all would read the same old file and each rewrite would drop the ratings written before it.
CHILD = """
import sys, time
from pathlib import Path
import reports.sheets.importer as importer
run_dir, sheet, me, *everyone = sys.argv[1:]
read = importer.load_ratings
def slow_read(run_dir):
    rows = read(run_dir)
    time.sleep(0.8)
    return rows
importer.load_ratings = slow_read
Path(me).touch()
deadline = time.time() + 60
while not all(Path(f).exists() for f in everyone) and time.time() < deadline:
    time.sleep(0.01)
results = importer.import_ratings(run_dir, [sheet])
print(sum(len(r.ratings) for r in results), all(r.already for r in results))
"""


def import_at_once(run_dir: Path, sheets: list[Path], tmp_path: Path) -> list[str]:
    """Import each sheet in its own process, all starting together; what each printed."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    flags = [str(tmp_path / f"ready-{i}") for i in range(len(sheets))]
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(run_dir), str(sheet), flags[i], *flags],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i, sheet in enumerate(sheets)]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outputs.append(out.strip())
    return outputs


def test_concurrent_imports_keep_every_raters_ratings_and_a_file_goes_in_once(run_dir, tmp_path):
    done = export_sheets(run_dir, per_suite=4, raters=["r1", "r2"], formats=["csv"])
    items = key_items(run_dir)
    r1, r2 = (fill_csv(done.folder / f"pointwise-{r}.csv", tmp_path / f"{r}.csv", prefers_tuned, items)
              for r in ("r1", "r2"))
    r1_again = Path(shutil.copy(r1, tmp_path / "r1-again.csv"))
    printed = import_at_once(run_dir, [r1, r2, r1_again], tmp_path)
    assert printed[1] == "40 False" and sorted([printed[0], printed[2]]) == ["0 True", "40 False"]
    rows = ratings_lines(run_dir)
    assert len(rows) == 80 and sorted(r["rater"] for r in rows) == ["r1"] * 40 + ["r2"] * 40
    import_ratings(run_dir, [r1, r2])  # and importing them again later stays a no-op
    assert len(ratings_lines(run_dir)) == 80


def test_export_and_import_take_the_store_lock(run_dir, tmp_path):
    export_sheets(run_dir, per_suite=2, raters=["r1"], formats=["csv"])
    assert (run_dir / "sheets" / ".lock").is_file()


# --- 2. formula injection ---------------------------------------------------------------------------------

def test_neutralise_and_restore_are_inverse_and_quote_only_risky_cells():
    for text in FORMULAS + ["=", "'", "''", "a=b", " =1", "x\t"]:
        assert restore(neutralise(text)) == text
        body = text.lstrip("'")
        assert (neutralise(text) == "'" + text) == (bool(body) and body[0] in "=+-@\t\r")
    assert neutralise("=1+1") == "'=1+1" and neutralise("'quoted") == "'quoted" and neutralise("'=x") == "''=x"
    assert restore("=typed by a rater") == "=typed by a rater" and restore("'quoted") == "'quoted"


@pytest.fixture
def formula_run(tmp_path) -> Path:
    """A run whose outputs are all FORMULAS (base and tuned alike)."""
    run = make_run(tmp_path / "run")
    for state in ("base", "lora"):
        for suite in ("agent_tools", "translate_en_zh"):
            rows = load_predictions(run, state, suite)
            for i, row in enumerate(rows):
                row.output = FORMULAS[i % len(FORMULAS)]
            save_predictions(run, state, suite, rows)
    return run


def test_csv_sheets_quote_formulas_and_read_back_what_the_model_wrote(formula_run):
    done = export_sheets(formula_run, per_suite=10, raters=["r1"], formats=["csv"])
    path = done.folder / "pointwise-r1.csv"
    raw = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
    output_col = raw[0].index("output")
    written = {row[output_col] for row in raw[1:]}
    assert not any(cell[:1] in FORMULA_START for cell in written if cell), "no cell may start a formula"
    assert {"'=HYPERLINK(\"http://x\",\"y\")", "'+1", "'-2", "'@SUM(A1)", "'\tx", "'\rcr", "'quoted",
            "''=already quoted", "'''+twice"} <= written
    key = key_items(formula_run)
    item_col = raw[0].index("item_id")
    table = dict((cells["item_id"], cells["output"]) for _, cells in read_table(path).rows)
    for row in raw[1:]:
        info = key[row[item_col]]
        (expected,) = [r.output for r in load_predictions(formula_run, info["state"], info["suite"])
                       if r.id == info["example"]]
        assert restore(row[output_col]) == expected
        assert table[row[item_col]] == expected.strip(), "the importer reads cells restored (and trimmed)"


def test_comments_round_trip_through_import(run_dir, tmp_path):
    done = export_sheets(run_dir, per_suite=4, raters=["r1"], formats=["csv"])
    rows = read_csv(fill_csv(done.folder / "pointwise-r1.csv", tmp_path / "f.csv", prefers_tuned, key_items(run_dir)))
    comments = ["=SUM(A1)", "'quoted", "-minus", "plain"]
    for row, comment in zip(rows, comments):
        row["comment"] = neutralise(comment)  # what the CSV writer and the HTML form both write
    (result,) = import_ratings(run_dir, [write_csv(tmp_path / "c.csv", rows)])
    assert [r["comment"] for r in result.ratings[:4]] == comments


def test_xlsx_stores_formula_like_outputs_as_text_never_formulas(formula_run):
    done = export_sheets(formula_run, per_suite=10, raters=["r1"], formats=["xlsx"])
    path = done.folder / "pointwise-r1.xlsx"
    with zipfile.ZipFile(path) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<f>" not in xml and "<f " not in xml, "no formula element anywhere"
    cell_types = set(re.findall(r'<c r="[A-Z]+\d+"[^>]*? t="(\w+)"', xml))
    assert cell_types == {"inlineStr"}
    ws = load_workbook(path)["ratings"]
    header = [c.value for c in ws[1]]
    outputs = {ws.cell(row=r, column=header.index("output") + 1).value for r in range(2, ws.max_row + 1)}
    assert {"=HYPERLINK(\"http://x\",\"y\")", "+1", "@SUM(A1)", "'quoted"} <= outputs, "XLSX cells hold the text as is"


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the form's script")
def test_html_form_download_quotes_cells_like_the_csv_writer(formula_run, tmp_path):
    done = export_sheets(formula_run, per_suite=2, raters=["r1"], formats=["html"])
    html = (done.folder / "pointwise-r1.html").read_text(encoding="utf-8")
    function = re.search(r"  function neutralise\(text\) \{.*?\n  \}", html, re.S).group(0)
    data = json.loads(re.search(r'<script id="sheet-data" type="application/json">(.*?)</script>', html, re.S).group(1))
    cases = FORMULAS + ["=", "''", "a=b", " =1"]
    script = (f"var data = {json.dumps({'formula_start': data['formula_start']})};\n{function}\n"
              f"console.log(JSON.stringify({json.dumps(cases)}.map(neutralise)));")
    (tmp_path / "form.js").write_text(script, encoding="utf-8")
    out = subprocess.run(["node", str(tmp_path / "form.js")], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [neutralise(c) for c in cases]


def test_the_form_in_a_browser_saves_formula_like_text_quoted_and_it_imports_as_typed(browser, formula_run, tmp_path):
    done = export_sheets(formula_run, per_suite=2, raters=["r1"], formats=["html"])
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    try:
        page.goto((done.folder / "pointwise-r1.html").as_uri())
        page.check('input[name="v0"][value="3"]')
        page.fill("#c0", "=1+1")
        with page.expect_download() as info:
            page.click("#download")
        info.value.save_as(tmp_path / "form.csv")
    finally:
        context.close()
    raw = list(csv.DictReader(io.StringIO((tmp_path / "form.csv").read_bytes().decode("utf-8-sig"), newline="")))
    assert raw[0]["comment"] == "'=1+1" and not any(v[:1] in FORMULA_START for row in raw for v in row.values() if v)
    key = key_items(formula_run)
    info = key[raw[0]["item_id"]]
    (model_wrote,) = [r.output for r in load_predictions(formula_run, info["state"], info["suite"])
                      if r.id == info["example"]]
    assert restore(raw[0]["output"]) == model_wrote
    (result,) = import_ratings(formula_run, [tmp_path / "form.csv"])
    assert [(r["score"], r["comment"]) for r in result.ratings] == [(3, "=1+1")]


# --- 3. bounded reading ------------------------------------------------------------------------------------

def sheet_error(path: Path) -> str:
    with pytest.raises(HarnessError) as error:
        read_table(path)
    message = str(error.value)
    assert message.startswith(str(path)) and "\n" not in message
    return message


def write_xlsx(path: Path, cells: dict[str, object]) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "ratings"
    for ref, value in cells.items():
        ws[ref] = value
    wb.save(path)
    return path


def test_zip_bomb_is_refused_before_it_is_decompressed(tmp_path):
    path = tmp_path / "bomb.xlsx"
    write_xlsx(path, {"A1": "score"})
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("xl/media/zeros.bin", "w") as member:  # streamed: the test holds 1 MiB at a time
            for _ in range(limits.XLSX_MAX_UNCOMPRESSED_BYTES // limits.MIB + 1):
                member.write(bytes(limits.MIB))
    assert path.stat().st_size < limits.MIB, "a few hundred KB on disk"
    tracemalloc.start()
    started = time.monotonic()
    message = sheet_error(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "expands to 65 MiB, over the limit of 64 MiB (XLSX_MAX_UNCOMPRESSED_BYTES)" in message
    assert time.monotonic() - started < 2 and peak < 16 * limits.MIB


def test_xlsx_with_too_many_files_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "XLSX_MAX_MEMBERS", 5)
    message = sheet_error(write_xlsx(tmp_path / "m.xlsx", {"A1": "x"}))
    assert "holds 9 files, over the limit of 5 (XLSX_MAX_MEMBERS)" in message


def test_xlsx_rows_far_down_are_refused_without_building_them(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "SHEET_MAX_ROWS", 1000)
    path = write_xlsx(tmp_path / "tall.xlsx", {"A1": "score", "A1048576": "5"})
    started = time.monotonic()
    assert "more than the limit of 1,000 rows (SHEET_MAX_ROWS)" in sheet_error(path)
    assert time.monotonic() - started < 2


def test_xlsx_columns_past_the_limit_are_refused_and_a_false_dimension_is_ignored(tmp_path):
    assert "row 2: more than the limit of 64 columns (SHEET_MAX_COLUMNS)" in sheet_error(
        write_xlsx(tmp_path / "wide.xlsx", {"A1": "score", "XFD2": "x"}))
    # A workbook that claims to span A1:XFD1048576 but holds two cells reads as two cells.
    path = write_xlsx(tmp_path / "claims.xlsx", {"A1": "score", "A2": "4"})
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp_path / "forged.xlsx", "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', data)
                assert b"XFD1048576" in data
            dst.writestr(info, data)
    table = read_table(tmp_path / "forged.xlsx")
    assert [cells for _, cells in table.rows] == [{"score": "4"}]


def test_xlsx_cell_longer_than_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "SHEET_MAX_CELL_CHARS", 1000)
    path = write_xlsx(tmp_path / "long.xlsx", {"A1": "score", "B3": "x" * 1001})
    message = sheet_error(path)
    assert "row 3, column B: a cell is longer than the limit of 1,000 characters (SHEET_MAX_CELL_CHARS)" in message


def test_xml_entity_bomb_in_an_xlsx_is_one_line(tmp_path):
    path = write_xlsx(tmp_path / "laughs.xlsx", {"A1": "score"})
    lol = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
           + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
           + ']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">'
           '<c r="A1" t="inlineStr"><is><t>&j;</t></is></c></row></sheetData></worksheet>')
    rewritten = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(rewritten, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, lol if info.filename == "xl/worksheets/sheet1.xml" else src.read(info))
    started = time.monotonic()
    assert "not a readable XLSX workbook" in sheet_error(rewritten)
    assert time.monotonic() - started < 5


def test_csv_limits(tmp_path, monkeypatch):
    header = "sheet_id,rater,item_id,criterion,score\n"
    big = tmp_path / "cell.csv"
    big.write_text(header + "x,r1,i,c," + "9" * 200_000 + "\n", encoding="utf-8")
    assert read_table(big).rows[0][1]["score"] == "9" * 200_000, "cells past csv's own 128 KiB default read"
    monkeypatch.setattr(limits, "SHEET_MAX_CELL_CHARS", 100_000)
    assert "row 2: a cell is longer than the limit of 100,000 characters (SHEET_MAX_CELL_CHARS)" in sheet_error(big)

    monkeypatch.setattr(limits, "SHEET_MAX_ROWS", 10)
    tall = tmp_path / "tall.csv"
    tall.write_text(header + "x,r1,i,c,1\n" * 10, encoding="utf-8")
    assert "more than the limit of 10 rows (SHEET_MAX_ROWS)" in sheet_error(tall)

    wide = tmp_path / "wide.csv"
    wide.write_text(header + "x,r1,i,c,1" + ",," * 100 + "\n", encoding="utf-8")
    assert read_table(wide).rows[0][1]["score"] == "1", "empty cells past the last column are dropped"
    wide.write_text(header + "x,r1,i,c,1" + "," * 100 + "surprise\n", encoding="utf-8")
    assert "row 2: more than the limit of 64 columns (SHEET_MAX_COLUMNS)" in sheet_error(wide)

    monkeypatch.setattr(limits, "SHEET_MAX_FILE_BYTES", 100)
    assert "over the limit of 100 bytes for a rater file (SHEET_MAX_FILE_BYTES)" in sheet_error(wide)


def test_oversized_file_is_refused_by_the_importer_before_it_is_read(run_dir, tmp_path, monkeypatch):
    export_sheets(run_dir, per_suite=2, raters=["r1"], formats=["csv"])
    monkeypatch.setattr(limits, "SHEET_MAX_FILE_BYTES", 1000)
    path = tmp_path / "big.csv"
    path.write_bytes(b"x" * 1001)
    with pytest.raises(HarnessError, match=r"big.csv: file is 1001 bytes, over the limit of 1000 bytes"):
        import_ratings(run_dir, [path])


# --- 4. ratings by raters the export was not made for ----------------------------------------------------

def test_ratings_by_a_rater_not_in_the_export_are_refused(run_dir, tmp_path):
    done = export_sheets(run_dir, per_suite=4, raters=["r1", "r2"], formats=["csv"])
    stranger = fill_csv(done.folder / "pointwise-r1.csv", tmp_path / "r9.csv", prefers_tuned, key_items(run_dir),
                        rater="r9")
    with pytest.raises(HarnessError) as error:
        import_ratings(run_dir, [stranger])
    assert (f"{stranger}: row 2, column 'rater' (B): rater 'r9' is not one this export was made for (r1, r2)"
            in str(error.value))
    assert not (run_dir / "sheets" / "ratings.jsonl").exists()
    # Exporting again for the new rater makes them one.
    export_sheets(run_dir, per_suite=4, raters=["r9"], formats=["csv"])
    (result,) = import_ratings(run_dir, [stranger])
    assert len(result.ratings) == 40 and {r["rater"] for r in result.ratings} == {"r9"}
