"""Rating statistics in the record: the typed results written to run.json at every `harness sheets import`,
equal to what the aggregation computes, and the report showing only those."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.evaluation.ratings import aggregate_ratings
from harness.record import Ratings, load_ratings, load_record
from harness.record.migrate import migrate
from reports import render_report

from .conftest import ROOT
from .test_sheets_support import fill_csv, key_items, prefers_tuned, read_csv, run_dir, varied, write_csv  # noqa: F401


def _noisy(item: dict, row: dict) -> str:
    """A rater who half agrees with `varied`."""
    if item["kind"] == "pairwise":
        return ["A", "B", "tie"][len(row["item_id"]) % 3]
    return str(1 + (int(item["example"][2:]) * 7 + len(row["criterion"]) + len(row["item_id"])) % 5)


def _import(run_dir: Path, *files: Path) -> int:
    return main(["sheets", "import", str(run_dir), *map(str, files)])


def test_import_records_typed_results_the_report_shows_and_reimport_updates(run_dir, tmp_path, capsys):
    assert main(["sheets", "export", str(run_dir), "--per-suite", "5", "--raters", "r1,r2", "--format", "csv"]) == 0
    (folder,) = [p for p in (run_dir / "sheets").iterdir() if p.is_dir()]
    items = key_items(run_dir)
    first = [fill_csv(folder / f"{kind}-r1.csv", tmp_path / f"{kind}-r1.csv", varied, items)
             for kind in ("pointwise", "pairwise-lora")]
    assert load_record(run_dir).ratings is None
    assert _import(run_dir, *first) == 0
    assert "their statistics are in" in capsys.readouterr().out

    record = load_record(run_dir)
    assert isinstance(record.ratings, Ratings) and record.ratings.raters == ["r1"]
    assert json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["ratings"]["n_ratings"] == 60
    assert record.ratings == aggregate_ratings(load_ratings(run_dir), record.states)
    assert record.ratings.agreement.scores.alpha is None  # one rater so far

    second = [fill_csv(folder / f"{kind}-r2.csv", tmp_path / f"{kind}-r2.csv", _noisy, items)
              for kind in ("pointwise", "pairwise-lora")]
    assert _import(run_dir, *second) == 0
    ratings = load_record(run_dir).ratings
    assert ratings == aggregate_ratings(load_ratings(run_dir), record.states)
    assert ratings.n_ratings == 120 and ratings.raters == ["r1", "r2"] and len(ratings.imports) == 4
    scores = ratings.agreement.scores
    assert scores.alpha_ci_low <= scores.alpha <= scores.alpha_ci_high
    assert scores.kappa_ci_low <= scores.kappa <= scores.kappa_ci_high and scores.units_multiply_rated == 50

    # Per suite: the counts add up to the total, and each suite's agreement is the one its ratings alone give.
    (pref,) = ratings.preferences
    by_suite = ratings.preferences_by_suite
    assert {p.suite for p in by_suite} == {"agent_tools", "translate_en_zh"} and pref.suite is None
    assert sum(p.wins for p in by_suite) == pref.wins and sum(p.n for p in by_suite) == pref.n == 20
    for suite, agreement in ratings.agreement_by_suite.items():
        alone = aggregate_ratings([r for r in load_ratings(run_dir) if r["suite"] == suite], record.states)
        differ = {"suite", "warning"}  # the suite's own warning names the suite
        assert agreement.scores.model_dump(exclude=differ) == alone.agreement.scores.model_dump(exclude=differ)
        assert agreement.scores.warning is None or f"in {suite}:" in agreement.scores.warning
        assert agreement.scores.units == {"agent_tools": 30, "translate_en_zh": 20}[suite] and agreement.scores.raters == 2
    assert {(m.suite, m.state) for m in ratings.scores_by_suite} == {
        (s, t) for s in ("agent_tools", "translate_en_zh") for t in ("base", "lora")}

    html = render_report(run_dir).read_text(encoding="utf-8")
    assert "120 ratings by 2 rater(s) (r1, r2)" in html
    assert f"[{scores.alpha_ci_low:.3f}, {scores.alpha_ci_high:.3f}]" in html
    assert f"[{pref.ci_low:.2f}, {pref.ci_high:.2f}]" in html and "A/B preferences per suite" in html
    mean = ratings.scores_by_suite[0]
    assert f"<td>{mean.suite}</td><td>{mean.state}</td><td>{mean.criterion}</td><td class=\"num\">{mean.mean:.2f}" in html

    # The report displays the record only: a statistic changed in run.json is what the page shows.
    raw = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    raw["ratings"]["preferences"][0]["win_rate"] = 0.123456
    (run_dir / "run.json").write_text(json.dumps(raw), encoding="utf-8")
    assert "0.12</td>" in render_report(run_dir).read_text(encoding="utf-8")

    # Importing the same files again changes no rating and records them afresh.
    assert _import(run_dir, *first) == 0
    assert "already imported" in capsys.readouterr().out
    assert load_record(run_dir).ratings == ratings


def test_a_rejected_import_leaves_run_json_untouched(run_dir, tmp_path):
    assert main(["sheets", "export", str(run_dir), "--per-suite", "2", "--raters", "r1", "--format", "csv"]) == 0
    (folder,) = [p for p in (run_dir / "sheets").iterdir() if p.is_dir()]
    good = fill_csv(folder / "pointwise-r1.csv", tmp_path / "good.csv", prefers_tuned, key_items(run_dir))
    assert _import(run_dir, good) == 0
    before = (run_dir / "run.json").read_bytes()
    rows = read_csv(fill_csv(folder / "pairwise-lora-r1.csv", tmp_path / "ab.csv", prefers_tuned, key_items(run_dir)))
    rows[0]["preference"] = "maybe"
    assert _import(run_dir, write_csv(tmp_path / "bad.csv", rows)) == 2
    assert (run_dir / "run.json").read_bytes() == before


def test_ratings_imported_under_schema_5_are_recorded_by_the_next_import(run_dir, tmp_path):
    assert main(["sheets", "export", str(run_dir), "--per-suite", "2", "--raters", "r1", "--format", "csv"]) == 0
    (folder,) = [p for p in (run_dir / "sheets").iterdir() if p.is_dir()]
    filled = fill_csv(folder / "pointwise-r1.csv", tmp_path / "p.csv", prefers_tuned, key_items(run_dir))
    assert _import(run_dir, filled) == 0
    recorded = load_record(run_dir).ratings
    # As schema 5 wrote it: no `ratings` field, the ratings only in sheets/ratings.jsonl.
    raw = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    del raw["ratings"]
    raw["schema_version"] = 5
    (run_dir / "run.json").write_text(json.dumps(raw), encoding="utf-8")
    assert migrate(raw, 6) == {**raw, "ratings": None, "schema_version": 6}
    assert load_record(run_dir).ratings is None
    html = render_report(run_dir).read_text(encoding="utf-8")
    assert "20 ratings from 1 rater(s) imported, but run.json holds no statistics of them" in html

    assert _import(run_dir, filled) == 0  # nothing new to import, and the record is written in schema 6
    record = load_record(run_dir)
    assert record.schema_version == 6 and record.ratings == recorded
    assert "20 ratings by 1 rater(s)" in render_report(run_dir).read_text(encoding="utf-8")


def test_a_version_2_run_migrates_to_no_ratings(tmp_path):
    run = Path(shutil.copytree(Path(__file__).parent / "data" / "run_v2", tmp_path / "v2"))
    raw = migrate(json.loads((run / "run.json").read_text(encoding="utf-8")), 6)
    assert raw["ratings"] is None and load_record(run).ratings is None


# Each child widens the window between reading ratings.jsonl for the statistics and writing run.json,
# most when it read only its own ratings: without the store's lock around both, the import that read
# first would write last, and its statistics would leave out the other's ratings.
CHILD = """
import sys, time
from pathlib import Path
import harness.evaluation.ratings as ratings
from harness.cli import main
run_dir, sheet, me, *everyone = sys.argv[1:]
read = ratings.load_ratings
def slow_read(run_dir):
    rows = read(run_dir)
    time.sleep(2.0 if len(rows) < 40 else 0.1)
    return rows
ratings.load_ratings = slow_read
Path(me).touch()
deadline = time.time() + 60
while not all(Path(f).exists() for f in everyone) and time.time() < deadline:
    time.sleep(0.01)
sys.exit(main(["sheets", "import", run_dir, sheet]))
"""


def test_concurrent_imports_leave_statistics_of_every_rating(run_dir, tmp_path):
    assert main(["sheets", "export", str(run_dir), "--per-suite", "2", "--raters", "r1,r2", "--format", "csv"]) == 0
    (folder,) = [p for p in (run_dir / "sheets").iterdir() if p.is_dir()]
    sheets = [fill_csv(folder / f"pointwise-{r}.csv", tmp_path / f"{r}.csv", prefers_tuned, key_items(run_dir))
              for r in ("r1", "r2")]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    flags = [str(tmp_path / f"ready-{i}") for i in range(len(sheets))]
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(run_dir), str(sheet), flags[i], *flags], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i, sheet in enumerate(sheets)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    record = load_record(run_dir)
    assert record.ratings.n_ratings == len(load_ratings(run_dir)) == 40 and record.ratings.raters == ["r1", "r2"]


@pytest.mark.parametrize("change, message", [
    (lambda r: r.update(score=9), "rating 2: score 9 is not a whole number from 1 to 5"),
    (lambda r: r.update(score=4.5), "rating 2: score 4.5 is not a whole number from 1 to 5"),
    (lambda r: r.pop("rater"), "rating 2: missing rater"),
    (lambda r: r.update(kind="vote"), "rating 2: kind 'vote' is neither 'score' nor 'preference'"),
    (lambda r: r.update(state=["lora"]), "rating 2: state not text"),
    (lambda r: r.update(source="x.csv"), "rating 2: its source names no 'file' and 'sha256'"),
])
def test_an_edited_ratings_file_is_one_clear_line_and_run_json_stays(run_dir, tmp_path, capsys, change, message):
    assert main(["sheets", "export", str(run_dir), "--per-suite", "2", "--raters", "r1", "--format", "csv"]) == 0
    (folder,) = [p for p in (run_dir / "sheets").iterdir() if p.is_dir()]
    filled = fill_csv(folder / "pointwise-r1.csv", tmp_path / "p.csv", prefers_tuned, key_items(run_dir))
    assert _import(run_dir, filled) == 0
    path = run_dir / "sheets" / "ratings.jsonl"
    rows = load_ratings(run_dir)
    change(rows[1])
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    before = (run_dir / "run.json").read_bytes()
    capsys.readouterr()
    assert _import(run_dir, filled) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"harness: error: {path}: {message}") and err.count("\n") == 1
    assert (run_dir / "run.json").read_bytes() == before
