"""Importing filled sheets: the round trip, validation of bad sheets, and idempotent re-imports."""
from __future__ import annotations

import csv
import json

import pytest
from openpyxl import load_workbook

from harness.common.errors import HarnessError
from harness.evaluation.ratings import record_ratings
from reports.sheets import export_sheets, import_ratings

from .test_sheets_support import (  # noqa: F401
    RUN_ID,
    fill_csv,
    fill_xlsx,
    key_items,
    make_run,
    prefers_tuned,
    read_csv,
    run_dir,
    varied,
    write_csv,
)


@pytest.fixture
def exported(run_dir):
    done = export_sheets(run_dir, per_suite=4, raters=["r1", "r2"])
    return run_dir, done.folder, key_items(run_dir)


def ratings_bytes(run_dir) -> bytes:
    path = run_dir / "sheets" / "ratings.jsonl"
    return path.read_bytes() if path.exists() else b""


def test_round_trip_recovers_known_preferences(exported, tmp_path):
    run_dir, folder, items = exported
    files = [fill_csv(folder / "pointwise-r1.csv", tmp_path / "p1.csv", prefers_tuned, items),
             fill_xlsx(folder / "pointwise-r2.xlsx", tmp_path / "p2.xlsx", prefers_tuned, items),
             fill_xlsx(folder / "pairwise-lora-r1.xlsx", tmp_path / "a1.xlsx", prefers_tuned, items),
             fill_csv(folder / "pairwise-lora-r2.csv", tmp_path / "a2.csv", prefers_tuned, items)]
    assert record_ratings(run_dir) is None
    results = import_ratings(run_dir, files)
    assert [len(r.ratings) for r in results] == [40, 40, 8, 8] and not any(r.already for r in results)

    summary = record_ratings(run_dir)
    json.dumps(summary.model_dump(mode="json"))  # plain JSON for run.json
    assert summary.n_ratings == 96 and summary.raters == ["r1", "r2"]
    (pref,) = summary.preferences
    assert (pref.state, pref.wins, pref.losses, pref.win_rate) == ("lora", 16, 0, 1.0)
    assert pref.sign_test_p < 0.001 and 0.7 < pref.ci_low < 1 and pref.ci_high == 1.0
    for diff in summary.differences:
        assert diff.state == "lora" and diff.mean_diff == 4.0 and diff.wilcoxon_p < 0.01
    means = {(m.state, m.criterion): m.mean for m in summary.scores}
    assert means[("base", "helpfulness")] == 1.0 and means[("lora", "adequacy")] == 5.0
    assert summary.agreement.scores.alpha == 1.0 and summary.agreement.scores.kappa == 1.0


def test_ratings_are_stored_unblinded_with_their_source(exported, tmp_path):
    run_dir, folder, items = exported
    (result,) = import_ratings(run_dir, [fill_xlsx(folder / "pairwise-lora-r1.xlsx", tmp_path / "a.xlsx", prefers_tuned, items)])
    rows = [json.loads(line) for line in (run_dir / "sheets" / "ratings.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 8
    for row in rows:
        info = items[row["item"]]
        assert (row["suite"], row["example"], row["state"], row["versus"]) == (info["suite"], info["example"], "lora", "base")
        assert row["preferred"] == "lora" and row["outcome"] == "win" and row["rater"] == "r1"
        assert row["source"]["sha256"] == result.sha256 and row["source"]["file"].endswith("a.xlsx")


def test_two_identical_raters_agree_perfectly(exported, tmp_path):
    run_dir, folder, items = exported
    import_ratings(run_dir, [fill_csv(folder / f"pointwise-{r}.csv", tmp_path / f"{r}.csv", varied, items)
                             for r in ("r1", "r2")])
    scores = record_ratings(run_dir).agreement.scores
    assert scores.alpha == 1.0 and scores.reliability == "reliable" and scores.warning is None
    assert scores.raters_per_item.model_dump() == {"mean": 2.0, "min": 2, "max": 2}


def test_reimporting_the_same_file_changes_nothing(exported, tmp_path):
    run_dir, folder, items = exported
    filled = fill_csv(folder / "pointwise-r1.csv", tmp_path / "p1.csv", prefers_tuned, items)
    import_ratings(run_dir, [filled])
    before = ratings_bytes(run_dir)
    copy = tmp_path / "copy-of-p1.csv"
    copy.write_bytes(filled.read_bytes())
    results = import_ratings(run_dir, [filled, copy])
    assert all(r.already for r in results) and ratings_bytes(run_dir) == before


def test_partly_filled_sheets_import_the_answered_rows(exported, tmp_path):
    run_dir, folder, items = exported
    rows = read_csv(folder / "pointwise-r1.csv")
    rows[0]["score"], rows[5]["score"], rows[6]["score"] = "4", "2", "  "
    (result,) = import_ratings(run_dir, [write_csv(tmp_path / "part.csv", rows)])
    assert [r["score"] for r in result.ratings] == [4, 2] and result.unanswered == len(rows) - 2


def test_semicolon_csv_from_a_spreadsheet_in_another_locale(exported, tmp_path):
    run_dir, folder, items = exported
    rows = read_csv(folder / "pairwise-lora-r1.csv")
    for row in rows:
        row["preference"] = " Both_Bad "
    path = tmp_path / "semi.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    (result,) = import_ratings(run_dir, [path])
    assert {r["preference"] for r in result.ratings} == {"both bad"}
    (pref,) = record_ratings(run_dir).preferences
    assert pref.both_bad == 8 and pref.win_rate == 0.5 and pref.sign_test_p is None


def _set(rows, index, **values):
    rows[index].update(values)
    return rows


# (sheet to start from, how to spoil the filled rows, the message expected: file, row and column are checked too)
BAD = {
    "unknown item": ("pointwise", lambda rows: _set(rows, 0, item_id="agent_tools:i999"),
                     "row 2, column 'item_id' (C): unknown item id 'agent_tools:i999'"),
    "score out of range": ("pointwise", lambda rows: _set(rows, 2, score="7"),
                           "row 4, column 'score' (K): 7 is not a whole number from 1 to 5"),
    "score not a number": ("pointwise", lambda rows: _set(rows, 1, score="good"),
                           "row 3, column 'score' (K): 'good' is not a number"),
    "score not whole": ("pointwise", lambda rows: _set(rows, 1, score="4.5"),
                        "row 3, column 'score' (K): '4.5' is not a whole number"),
    "bad preference": ("pairwise-lora", lambda rows: _set(rows, 3, preference="maybe"),
                       "row 5, column 'preference' (I): 'maybe' is not one of A, B, tie, both bad"),
    "same item twice": ("pointwise", lambda rows: rows[:3] + [dict(rows[1], score="2")] + rows[3:],
                        "row 5, column 'item_id' (C): rater 'r1' already rated item"),
    "missing rater": ("pointwise", lambda rows: _set(rows, 4, rater=""), "row 6, column 'rater' (B): missing rater id"),
    "other run": ("pointwise", lambda rows: _set(rows, 0, sheet_id="20990101-000000-ffffff/d122f835"),
                  "row 2, column 'sheet_id' (A): sheet id '20990101-000000-ffffff/d122f835' is from run 20990101"),
    "other export": ("pointwise", lambda rows: _set(rows, 0, sheet_id=f"{RUN_ID}/00000000"),
                     "row 2, column 'sheet_id' (A): sheet id '20260101-000000-abc123/00000000' is from an export"),
    "unknown criterion": ("pointwise", lambda rows: _set(rows, 0, criterion="charm"),
                          "row 2, column 'criterion' (F): unknown criterion 'charm'"),
    "pairwise item on pointwise sheet": ("pointwise", lambda rows: _set(rows, 0, item_id="agent_tools:p001"),
                                         "row 2, column 'item_id' (C): item 'agent_tools:p001' belongs on a pairwise"),
    "missing column": ("pointwise", lambda rows: [{k: v for k, v in r.items() if k != "item_id"} for r in rows],
                       "missing required column 'item_id'"),
    "nothing answered": ("pointwise", lambda rows: [dict(r, score="") for r in rows], "no ratings: every 'score' cell is empty"),
    "header only": ("pointwise", lambda rows: [], "empty file: a header and no rows"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_sheets_are_rejected_and_earlier_ratings_untouched(exported, tmp_path, case):
    run_dir, folder, items = exported
    import_ratings(run_dir, [fill_csv(folder / "pointwise-r2.csv", tmp_path / "good.csv", prefers_tuned, items)])
    before = ratings_bytes(run_dir)
    sheet, spoil, message = BAD[case]
    rows = read_csv(fill_csv(folder / f"{sheet}-r1.csv", tmp_path / "filled.csv", prefers_tuned, items))
    fields = list(rows[0])
    bad = write_csv(tmp_path / "bad.csv", spoil(rows), fieldnames=[f for f in fields if case != "missing column" or f != "item_id"])
    with pytest.raises(HarnessError) as error:
        import_ratings(run_dir, [bad])
    assert f"{bad}: {message}" in str(error.value)
    assert "nothing was imported" in str(error.value)
    assert ratings_bytes(run_dir) == before


def test_rating_again_in_another_file_is_rejected(exported, tmp_path):
    run_dir, folder, items = exported
    import_ratings(run_dir, [fill_csv(folder / "pointwise-r1.csv", tmp_path / "first.csv", prefers_tuned, items)])
    before = ratings_bytes(run_dir)
    again = fill_xlsx(folder / "pointwise-r1.xlsx", tmp_path / "again.xlsx", varied, items)
    with pytest.raises(HarnessError) as error:
        import_ratings(run_dir, [again])
    assert f"{again}: row 2, column 'item_id' (C): rater 'r1' already rated item" in str(error.value)
    assert f"in earlier import '{tmp_path / 'first.csv'}'" in str(error.value)
    assert ratings_bytes(run_dir) == before


@pytest.mark.parametrize("name, content, message", [
    ("empty.csv", b"", "empty file"),
    ("blank.csv", b"\xef\xbb\xbf\r\n ,, \r\n", "empty file"),
    ("latin1.csv", "sheet_id,rater,item_id,criterion,score\nx,r1,é,c,1\n".encode("latin-1"), "not UTF-8 text"),
    ("broken.xlsx", b"PK\x03\x04 not really a workbook", "not a readable XLSX workbook"),
    ("form.html", b"<html></html>", "import the CSV its 'Download my ratings' button saves"),
    ("notes.txt", b"hello", "unsupported file type .txt"),
    ("other.csv", b"name,value\nx,1\n", "missing required column 'score'"),
])
def test_unreadable_files_are_rejected(exported, tmp_path, name, content, message):
    run_dir, *_ = exported
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(HarnessError, match=message) as error:
        import_ratings(run_dir, [path])
    assert str(error.value).startswith(str(path))
    assert ratings_bytes(run_dir) == b""


def test_one_bad_file_stops_the_whole_import_and_all_problems_are_listed(exported, tmp_path):
    run_dir, folder, items = exported
    good = fill_csv(folder / "pointwise-r1.csv", tmp_path / "good.csv", prefers_tuned, items)
    rows = read_csv(fill_csv(folder / "pairwise-lora-r2.csv", tmp_path / "r2.csv", prefers_tuned, items))
    _set(rows, 0, preference="C")
    _set(rows, 1, rater="", item_id="nope")
    bad = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(HarnessError) as error:
        import_ratings(run_dir, [good, bad])
    text = str(error.value)
    assert text.startswith("3 problems; nothing was imported")
    assert f"{bad}: row 2, column 'preference' (I)" in text
    assert f"{bad}: row 3, column 'rater' (B): missing rater id" in text and f"{bad}: row 3, column 'item_id' (C)" in text
    assert ratings_bytes(run_dir) == b""
    import_ratings(run_dir, [good])  # on its own the good file goes in


def test_duplicates_across_files_of_one_import(exported, tmp_path):
    run_dir, folder, items = exported
    a = fill_csv(folder / "pointwise-r1.csv", tmp_path / "a.csv", prefers_tuned, items)
    b = fill_xlsx(folder / "pointwise-r1.xlsx", tmp_path / "b.xlsx", prefers_tuned, items)
    with pytest.raises(HarnessError, match=f"in '{a}' row 2"):
        import_ratings(run_dir, [a, b])
    assert ratings_bytes(run_dir) == b""


def test_import_needs_an_export(tmp_path):
    run = make_run(tmp_path / "run")
    with pytest.raises(HarnessError, match="no rating sheets were exported"):
        import_ratings(run, [tmp_path / "x.csv"])


def test_missing_file_is_reported(exported, tmp_path):
    run_dir, *_ = exported
    with pytest.raises(HarnessError, match="missing.csv: file not found"):
        import_ratings(run_dir, [tmp_path / "missing.csv"])


def test_xlsx_edited_by_hand_still_reads(exported, tmp_path):
    """Spreadsheet users type numbers, leave blank rows and move columns; none of that matters."""
    run_dir, folder, items = exported
    filled = fill_xlsx(folder / "pointwise-r1.xlsx", tmp_path / "f.xlsx", prefers_tuned, items)
    wb = load_workbook(filled)
    ws = wb["ratings"]
    ws.move_range(f"K1:K{ws.max_row}", cols=5)  # score column moved to the far right
    ws.insert_rows(3)  # a blank row in the middle
    wb.save(filled)
    (result,) = import_ratings(run_dir, [filled])
    assert len(result.ratings) == 40
    assert result.ratings[1]["source"]["row"] == 4
