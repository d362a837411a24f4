"""Inputs that were once accepted silently, each refused with one line (the simple cases live in tests/bad_inputs)."""
from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from harness.cli import main
from harness.common.errors import HarnessError
from harness.suitedef.suite import load_suite
from reports.sheets import export_sheets, import_ratings

from .conftest import cut_suite
from .test_sheets_support import fill_csv, fill_xlsx, key_items, make_run, prefers_tuned


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and len(err) < 500, err
    return err


# --- suites -------------------------------------------------------------------------------------

def test_an_id_of_half_a_million_characters_is_refused(tmp_path):
    suite = cut_suite("agent_tools", tmp_path / "suite", 2, 2)
    test_file = next(suite.glob("test*.jsonl"))
    first, second = test_file.read_text(encoding="utf-8").splitlines()
    test_file.write_text(first + "\n" + json.dumps(dict(json.loads(second), id="x" * 500_000)) + "\n",
                         encoding="utf-8")
    with pytest.raises(HarnessError) as error:
        load_suite(suite)
    assert str(error.value).endswith(f"{test_file.name}:2: field 'id' is 500,000 characters, over the limit of 200 "
                                     "(EXAMPLE_ID_MAX_CHARS)")


def test_an_id_with_a_control_character_is_refused(tmp_path):
    suite = cut_suite("agent_tools", tmp_path / "suite", 2, 2)
    test_file = next(suite.glob("test*.jsonl"))
    first, second = test_file.read_text(encoding="utf-8").splitlines()
    test_file.write_text(first + "\n" + json.dumps(dict(json.loads(second), id="a\x1bb")) + "\n", encoding="utf-8")
    with pytest.raises(HarnessError, match=r":2: field 'id' holds a control character: 'a\\x1bb'$"):
        load_suite(suite)
    # a NUL is refused earlier, by the reader of every data file, in every field
    test_file.write_text(first + "\n" + json.dumps(dict(json.loads(second), id="a\0b")) + "\n", encoding="utf-8")
    with pytest.raises(HarnessError, match=r":2: field 'id' holds a NUL character"):
        load_suite(suite)


def test_a_gate_threshold_inside_the_metric_scale_is_kept(tmp_path):
    """The scale check refuses only what could never pass: BLEU (0–100) takes `min: 7`, a delta may be negative."""
    suite = cut_suite("translate_en_zh", tmp_path / "suite", 2, 2, gates=[
        {"metric": "bleu", "min": 7}, {"metric": "chrf", "min_delta": -100}])
    assert [g.threshold for g in load_suite(suite).spec.gates] == [7, -100]
    cut_suite("translate_en_zh", tmp_path / "suite", 2, 2, gates=[{"metric": "bleu", "min_delta": 101}])
    with pytest.raises(HarnessError, match=r"field 'gates.0.min_delta': 101 is outside bleu's scale \(-100 to 100\), "
                                           r"so the gate could never pass"):
        load_suite(suite)


@pytest.mark.parametrize("action", ["validate", "list"])
def test_two_suites_of_one_name_in_one_folder_are_refused(tmp_path, capsys, action):
    cut_suite("agent_tools", tmp_path / "suites" / "a", 2, 2)
    cut_suite("agent_tools", tmp_path / "suites" / "b", 2, 2)
    assert main(["suites", action, str(tmp_path / "suites")]) == 1
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    second, first = tmp_path / "suites" / "b" / "suite.yaml", tmp_path / "suites" / "a" / "suite.yaml"
    assert lines[0] == (f"INVALID  {second}: field 'name': 'agent_tools' is also the name of {first}; suites read "
                        "together need distinct names")
    assert str(tmp_path / "suites" / "a") in out  # the first of them is fine on its own


# --- rating sheets ------------------------------------------------------------------------------

@pytest.fixture
def exported(tmp_path):
    run_dir = make_run(tmp_path / "run")
    done = export_sheets(run_dir, per_suite=4, raters=["r1", "r2"])
    return run_dir, done.folder, key_items(run_dir)


def _ratings(run_dir: Path) -> bytes:
    path = run_dir / "sheets" / "ratings.jsonl"
    return path.read_bytes() if path.exists() else b""


def test_a_formula_in_an_xlsx_score_cell_is_refused_whatever_value_it_cached(exported, tmp_path):
    run_dir, folder, items = exported
    filled = fill_xlsx(folder / "pointwise-r1.xlsx", tmp_path / "p1.xlsx", prefers_tuned, items)
    wb = load_workbook(filled)
    ws = wb["ratings"]
    column = [c.value for c in ws[1]].index("score") + 1
    ws.cell(row=2, column=column, value="=1+1")
    wb.save(filled)
    # A spreadsheet program stores the formula's last value beside it: make that 5, as Excel would after a recalc.
    with zipfile.ZipFile(filled) as z:
        members = {i.filename: z.read(i.filename) for i in z.infolist()}
    sheet = next(n for n in members if n.startswith("xl/worksheets/sheet"))
    members[sheet], n = re.subn(rb"<f>1\+1</f><v\s*/?>(</v>)?", b"<f>1+1</f><v>5</v>", members[sheet])
    assert n == 1
    with zipfile.ZipFile(filled, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    assert load_workbook(filled, data_only=True)["ratings"].cell(row=2, column=column).value == 5
    letter = chr(ord("A") + column - 1)
    with pytest.raises(HarnessError) as error:
        import_ratings(run_dir, [filled])
    assert str(error.value) == (f"{filled}: row 2, column 'score' ({letter}): '=1+1' is not a number; scores are "
                                "whole numbers 1–5 (nothing was imported)")
    assert _ratings(run_dir) == b""


def test_a_rater_file_edited_to_another_rater_is_refused_also_as_the_form_saves_it(exported, tmp_path):
    run_dir, folder, items = exported
    for name in ("pointwise-r1.csv", "pointwise-r1-ratings (1).csv", "pairwise-lora-r1.csv"):
        path = fill_csv(folder / name.replace("-ratings (1)", ""), tmp_path / name, prefers_tuned, items, rater="r2")
        with pytest.raises(HarnessError) as error:
            import_ratings(run_dir, [path])
        assert str(error.value) == (f"{path}: row 2, column 'rater' (B): rater 'r2' in the file exported for r1; each "
                                    "rater imports the file made for them (nothing was imported)")
        assert _ratings(run_dir) == b""
    # The rater a file was made for imports it; a renamed file cannot be traced to a rater and is not checked.
    honest = fill_csv(folder / "pointwise-r2.csv", tmp_path / "pointwise-r2.csv", prefers_tuned, items)
    renamed = fill_csv(folder / "pairwise-lora-r1.csv", tmp_path / "mine.csv", prefers_tuned, items, rater="r2")
    results = import_ratings(run_dir, [honest, renamed])
    assert [{r["rater"] for r in result.ratings} for result in results] == [{"r2"}, {"r2"}]


# --- reports ------------------------------------------------------------------------------------

def _break_predictions(run_dir: Path) -> None:
    """The last suite's predictions become unreadable: the report fails after writing its first pages."""
    path = run_dir / "predictions" / "lora" / "translate_en_zh.jsonl"
    assert path.is_file()
    path.write_text(path.read_text(encoding="utf-8") + "{not json\n", encoding="utf-8")


def test_a_failed_report_leaves_nothing_behind(tmp_path, capsys):
    run_dir = make_run(tmp_path / "run")
    _break_predictions(run_dir)
    before = _files(tmp_path)
    out = tmp_path / "new" / "site"
    assert main(["report", str(run_dir), "--out", str(out)]) == 2
    assert "translate_en_zh.jsonl" in _one_line(capsys)
    assert _files(tmp_path) == before and not (tmp_path / "new").exists()
    assert main(["report", str(run_dir)]) == 2
    assert _files(tmp_path) == before and sorted(p.name for p in run_dir.iterdir()) == ["predictions", "run.json"]


def test_a_failed_report_keeps_the_previous_one_and_a_good_one_drops_stale_pages(tmp_path, capsys):
    from reports import render_report

    run_dir = make_run(tmp_path / "run")
    out = tmp_path / "site"
    render_report(run_dir, out, page_size=2)
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    old = _files(out)
    assert "suites/agent_tools/examples-005.html" in old
    good = (run_dir / "predictions" / "lora" / "translate_en_zh.jsonl").read_bytes()
    _break_predictions(run_dir)
    assert main(["report", str(run_dir), "--out", str(out)]) == 2
    assert _files(out) == old and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    (run_dir / "predictions" / "lora" / "translate_en_zh.jsonl").write_bytes(good)
    index = render_report(run_dir, out, page_size=100)
    assert index == out / "index.html" and index.is_file()
    new = _files(out)
    assert "suites/agent_tools/examples-001.html" in new and "suites/agent_tools/examples-002.html" not in new
    assert new["notes.txt"] == b"mine\n"  # what the folder held besides the report stays
