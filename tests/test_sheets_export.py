"""Exporting rating sheets: sampling, blinding, the key, and the three file formats."""
from __future__ import annotations

import json
import random

import pytest
from openpyxl import load_workbook

from harness.common.errors import HarnessError
from reports.sheets import export_sheets
from reports.sheets.layout import COLUMNS, parse_raters
from reports.sheets.sample import sample_examples

from .test_sheets_support import RUN_ID, TRICKY, key_items, make_run, read_csv, run_dir  # noqa: F401


def test_files_per_rater_and_format_with_key_kept_apart(run_dir):
    done = export_sheets(run_dir, per_suite=4, raters=["r1", "r2"])
    names = sorted(p.name for p in done.files)
    assert names == sorted(f"{kind}-{r}.{fmt}" for kind in ("pointwise", "pairwise-lora") for r in ("r1", "r2")
                           for fmt in ("csv", "xlsx", "html"))
    assert all(p.is_file() for p in done.files)
    assert (run_dir / "sheets" / "key.json").is_file()
    assert not list(done.folder.glob("key*")), "the key must not sit with the files sent to raters"
    assert done.sheet_id.startswith(RUN_ID + "/")


def test_pointwise_rows_cover_every_state_and_criterion_without_revealing_states(run_dir):
    done = export_sheets(run_dir, per_suite=4, raters=["r1"])
    path = done.folder / "pointwise-r1.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf"), "UTF-8 BOM so Excel reads the file as UTF-8"
    rows = read_csv(path)
    assert list(rows[0]) == COLUMNS["pointwise"]
    # 4 examples × 2 states × (3 default criteria for agent_tools, 2 for translate_en_zh)
    assert len(rows) == 4 * 2 * 3 + 4 * 2 * 2
    assert {r["rater"] for r in rows} == {"r1"} and {r["sheet_id"] for r in rows} == {done.sheet_id}
    assert all(r["score"] == "" and r["comment"] == "" for r in rows)
    text = path.read_text(encoding="utf-8-sig")
    assert "lora" not in text and "base" not in text
    items = key_items(run_dir)
    assert {items[r["item_id"]]["state"] for r in rows} == {"base", "lora"}
    assert all(r["item_id"].startswith(r["suite"] + ":i") for r in rows)
    # translate_en_zh's rubric hides the reference; agent_tools shows it
    assert all((r["reference"] != "") == (r["suite"] == "agent_tools") for r in rows)
    assert "5 = Does exactly what was asked." in rows[0]["levels"] or "level 5" in rows[0]["levels"]


def test_labels_and_ab_sides_are_shuffled_and_the_key_undoes_them(run_dir):
    done = export_sheets(run_dir, per_suite=10, raters=["r1"])
    items = key_items(run_dir)
    point = {r["item_id"]: r for r in read_csv(done.folder / "pointwise-r1.csv")}
    labels = {(items[i]["suite"], items[i]["example"], items[i]["state"]): r["system"] for i, r in point.items()}
    assert {labels[(s, e, "base")] for s, e, _ in labels} == {"S1", "S2"}, "base must not always be S1"
    pairs = read_csv(done.folder / "pairwise-lora-r1.csv")
    assert {items[r["item_id"]]["a"] for r in pairs} == {"base", "lora"}
    for r in pairs:
        info = items[r["item_id"]]
        assert r["output_a"].startswith("draft" if info["a"] == "base" else "answer")
        assert {info["a"], info["b"]} == {"base", "lora"} and info["state"] == "lora"
    assert "state" not in pairs[0] and "system" not in pairs[0]


def test_same_settings_give_the_same_export_and_others_a_new_one(run_dir):
    first = export_sheets(run_dir, per_suite=3, raters=["r1"], formats=["csv"])
    again = export_sheets(run_dir, per_suite=3, raters=["r1", "r2"], formats=["csv"])
    assert again.sheet_id == first.sheet_id
    assert (first.folder / "pointwise-r1.csv").read_bytes() == (again.folder / "pointwise-r1.csv").read_bytes()
    other = export_sheets(run_dir, per_suite=3, raters=["r1"], seed=1, formats=["csv"])
    assert other.sheet_id != first.sheet_id
    key = json.loads((run_dir / "sheets" / "key.json").read_text(encoding="utf-8"))
    assert set(key["exports"]) == {first.sheet_id.split("/")[1], other.sheet_id.split("/")[1]}
    assert key["exports"][first.sheet_id.split("/")[1]]["raters"] == ["r1", "r2"]


def test_one_pairwise_sheet_per_tuned_state(tmp_path):
    run = make_run(tmp_path / "run", states=("base", "full", "lora"))
    done = export_sheets(run, per_suite=2, raters=["r1"], formats=["csv"], suites=["agent_tools"])
    assert sorted(p.name for p in done.files) == ["pairwise-full-r1.csv", "pairwise-lora-r1.csv", "pointwise-r1.csv"]
    assert len(read_csv(done.folder / "pointwise-r1.csv")) == 2 * 3 * 3
    ids = [r["item_id"] for name in ("full", "lora") for r in read_csv(done.folder / f"pairwise-{name}-r1.csv")]
    assert len(ids) == len(set(ids)) == 4


def test_sample_keeps_flips_in_proportion_and_at_least_one():
    ids = [f"ex{i}" for i in range(10)]
    chosen = sample_examples(ids, {"ex3", "ex4", "ex5", "ex6", "ex7"}, 4, random.Random(0))
    assert len(chosen) == 4 and len(set(chosen) & {"ex3", "ex4", "ex5", "ex6", "ex7"}) == 2
    chosen = sample_examples(ids, {"ex9"}, 3, random.Random(0))
    assert "ex9" in chosen and len(chosen) == 3
    assert sample_examples(ids, set(), 3, random.Random(5)) == sample_examples(ids, set(), 3, random.Random(5))
    assert sorted(sample_examples(ids, {"ex1"}, 50, random.Random(0))) == sorted(ids)
    # fewer unflipped examples than asked for: flips fill the rest
    assert len(sample_examples(ids, set(ids[:9]), 5, random.Random(0))) == 5


def test_exported_sample_is_stratified_on_flips(run_dir):
    export_sheets(run_dir, per_suite=4, raters=["r1"], formats=["csv"])
    examples = {(i["suite"], i["example"]) for i in key_items(run_dir).values()}
    flipped = {(s, e) for s, e in examples if 3 <= int(e[2:]) <= 7}
    assert len(examples) == 8 and len(flipped) == 4  # 5 of 10 flip: 2 of 4 per suite


def test_xlsx_has_frozen_header_drop_downs_wrapping_and_literal_text(run_dir):
    done = export_sheets(run_dir, per_suite=10, raters=["r1"], formats=["xlsx"])
    ws = load_workbook(done.folder / "pointwise-r1.xlsx")["ratings"]
    header = [c.value for c in ws[1]]
    assert header == COLUMNS["pointwise"] and ws.freeze_panes == "A2"
    score_col = "ABCDEFGHIJKLMNOP"[header.index("score")]
    (check,) = ws.data_validations.dataValidation
    assert check.type == "list" and check.formula1 == '"1,2,3,4,5"' and str(check.sqref).startswith(f"{score_col}2:")
    assert ws.cell(row=2, column=header.index("output") + 1).alignment.wrap_text
    outputs = [ws.cell(row=r, column=header.index("output") + 1) for r in range(2, ws.max_row + 1)]
    formula_like = [c for c in outputs if c.value.split(" ", 2)[-1].startswith("=HYPERLINK")]
    assert formula_like and all(c.data_type == "s" for c in formula_like)
    assert any("bell\\x07char" in c.value for c in outputs), "control characters are spelled out, not dropped"
    pairs = load_workbook(done.folder / "pairwise-lora-r1.xlsx")["ratings"]
    (check,) = pairs.data_validations.dataValidation
    assert check.formula1 == '"A,B,tie,both bad"'


def test_html_form_is_self_contained_and_escapes_model_output(run_dir):
    done = export_sheets(run_dir, per_suite=10, raters=["r1"], formats=["html"])
    html = (done.folder / "pointwise-r1.html").read_text(encoding="utf-8")
    assert TRICKY[0] not in html and "&lt;script&gt;alert(" in html
    assert "<b>&amp;</b>" not in html, "prompts are escaped too"
    assert html.count("<script") == html.count("</script>") == 2, "only the form's data and code blocks"
    for external in ("<link", " src=", "@import", "url("):
        assert external not in html
    assert "default-src 'none'" in html
    pair = (done.folder / "pairwise-lora-r1.html").read_text(encoding="utf-8")
    assert 'value="both bad"' in pair and "Output A" in pair


@pytest.mark.parametrize("kwargs, message", [
    ({"suites": ["nope"]}, "no suite 'nope' in this run"),
    ({"per_suite": 0}, "at least one example"),
    ({"formats": ["pdf"]}, "unknown format pdf"),
])
def test_export_rejects_bad_options(run_dir, kwargs, message):
    with pytest.raises(HarnessError, match=message):
        export_sheets(run_dir, **kwargs)
    assert not (run_dir / "sheets").exists()


def test_export_needs_a_run_directory(tmp_path):
    with pytest.raises(HarnessError, match="not a run directory"):
        export_sheets(tmp_path)


def test_rater_ids():
    assert parse_raters("3") == ["r1", "r2", "r3"]
    assert parse_raters(" ana, ben ") == ["ana", "ben"]
    for bad in ("0", "a b,c/d", "ana,ana", ","):
        with pytest.raises(HarnessError):
            parse_raters(bad)
