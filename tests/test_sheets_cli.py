"""`harness sheets export|import`: exit codes and what they print."""
from __future__ import annotations

import pytest

from harness.cli import main

from .test_sheets_support import RUN_ID, fill_csv, key_items, prefers_tuned, read_csv, run_dir, write_csv  # noqa: F401


def test_export_then_import(run_dir, tmp_path, capsys):
    assert main(["sheets", "export", str(run_dir), "--per-suite", "3", "--raters", "ana,ben", "--format", "csv",
                 "--format", "xlsx", "--suite", "agent_tools", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert f"Sheet {RUN_ID}/" in out and "6 outputs to score, 3 A/B pairs; 8 files in" in out and "key.json" in out
    (folder,) = [p for p in (run_dir / "sheets").iterdir() if p.is_dir()]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{kind}-{r}.{fmt}" for kind in ("pointwise", "pairwise-lora") for r in ("ana", "ben") for fmt in ("csv", "xlsx"))

    filled = fill_csv(folder / "pointwise-ana.csv", tmp_path / "ana.csv", prefers_tuned, key_items(run_dir))
    assert main(["sheets", "import", str(run_dir), str(filled)]) == 0
    out = capsys.readouterr().out
    assert f"{filled}: imported 18 ratings by ana (0 unanswered rows skipped)" in out
    assert "18 ratings from 1 rater(s) imported" in out

    assert main(["sheets", "import", str(run_dir), str(filled)]) == 0
    assert f"{filled}: already imported (same content); nothing to do" in capsys.readouterr().out


def test_bad_sheet_exits_2_naming_file_row_and_column(run_dir, tmp_path, capsys):
    assert main(["sheets", "export", str(run_dir), "--per-suite", "2", "--format", "csv"]) == 0
    (folder,) = [p for p in (run_dir / "sheets").iterdir() if p.is_dir()]
    rows = read_csv(fill_csv(folder / "pointwise-r1.csv", tmp_path / "f.csv", prefers_tuned, key_items(run_dir)))
    rows[1]["score"] = "11"
    bad = write_csv(tmp_path / "bad.csv", rows)
    capsys.readouterr()
    assert main(["sheets", "import", str(run_dir), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"harness: error: {bad}: row 3, column 'score' (K): 11 is not a whole number from 1 to 5")
    assert "(nothing was imported)" in err
    assert not (run_dir / "sheets" / "ratings.jsonl").exists()


@pytest.mark.parametrize("args, message", [
    (["export", "{run}", "--raters", "a b"], "--raters: rater ids are letters"),
    (["export", "{run}", "--suite", "nope"], "--suite: no suite 'nope' in this run"),
    (["export", "{tmp}"], "not a run directory"),
    (["import", "{run}", "{tmp}/x.csv"], "no rating sheets were exported for this run"),
])
def test_errors_exit_2_with_one_line(run_dir, tmp_path, capsys, args, message):
    args = [a.format(run=run_dir, tmp=tmp_path) for a in args]
    assert main(["sheets", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("harness: error: ") and message in err and err.count("\n") == 1


def test_usage_errors(run_dir, capsys):
    for args in (["sheets"], ["sheets", "import", str(run_dir)], ["sheets", "export", str(run_dir), "--format", "pdf"]):
        with pytest.raises(SystemExit) as exit_:
            main(args)
        assert exit_.value.code == 2
    assert "invalid choice: 'pdf'" in capsys.readouterr().err
