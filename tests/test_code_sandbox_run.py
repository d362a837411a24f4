"""The code sandbox within a run: a suite's preamble, refusing code metrics where no sandbox exists unless the
user accepts it, and what the record and the report say about that."""
from __future__ import annotations

import json

import pytest

from harness.cli.parser import build_parser
from harness.common.errors import HarnessError
from harness.metrics.sandbox import jail, runner
from harness.record import load_record
from harness.record.migrate import migrate
from harness.run.environment import check_code_sandbox
from harness.suitedef.suite import load_suite
from reports.overview import provenance
from tests.test_sheets_support import make_run

needs_sandbox = pytest.mark.skipif(not runner.available(), reason=f"no sandbox: {jail.INSTALL_HINT}")
TYPED = "```python\ndef total(xs: List[int]) -> int:\n    return sum(xs)\n```"


def code_suite(folder, preamble: str | None):
    folder.mkdir()
    lines = ['name: typed', 'version: "1"', "data:", "  format: prompt-completion", "  test: test.jsonl",
             "metrics: [pass_at_1]"]
    if preamble is not None:
        lines.append(f"preamble: {json.dumps(preamble)}")
    (folder / "suite.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    row = {"prompt": "Write total(xs).", "completion": "def total(xs):\n    return sum(xs)",
           "tests": "assert total([1, 2]) == 3"}
    (folder / "test.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    return load_suite(folder)


@needs_sandbox
def test_the_suites_preamble_reaches_pass_at_1_and_its_record(tmp_path):
    with_preamble = code_suite(tmp_path / "with", "from typing import List\n")
    metric, info = with_preamble.metrics["pass_at_1"]
    assert info.options == {"preamble": "from typing import List\n"}  # recorded: a rescore rebuilds it
    assert metric.score(TYPED, "", {"tests": "assert total([1, 2]) == 3"}).value == 1.0
    metric, info = code_suite(tmp_path / "without", None).metrics["pass_at_1"]
    score = metric.score(TYPED, "", {"tests": "assert total([1, 2]) == 3"})
    assert (score.value, score.reason) == (0.0, "NameError: name 'List' is not defined (solution line 1)")


def test_a_run_with_code_metrics_refuses_without_a_sandbox_unless_accepted(tmp_path, monkeypatch):
    suites = [code_suite(tmp_path / "code", None)]
    monkeypatch.setattr(jail, "_probe", lambda: (None, jail.INSTALL_HINT))
    monkeypatch.delenv(runner.ALLOW_UNSANDBOXED_ENV, raising=False)
    with pytest.raises(HarnessError, match=r"install the `bubblewrap` package"):
        check_code_sandbox(suites, allow_unsandboxed=False)
    check_code_sandbox(suites, allow_unsandboxed=True)
    assert runner.unsandboxed_allowed()
    assert "isolation:UNSANDBOXED" in suites[0].metrics["pass_at_1"][0].signature


def test_a_run_without_code_metrics_needs_no_sandbox(monkeypatch):
    monkeypatch.setattr(jail, "_probe", lambda: (None, jail.INSTALL_HINT))
    monkeypatch.delenv(runner.ALLOW_UNSANDBOXED_ENV, raising=False)
    check_code_sandbox([], allow_unsandboxed=False)


def test_the_flag_is_offered_by_run_and_eval_only():
    parser = build_parser()
    assert parser.parse_args(["run", "--allow-unsandboxed-code"]).allow_unsandboxed_code
    assert parser.parse_args(["eval", "--model", "tiny", "--allow-unsandboxed-code"]).allow_unsandboxed_code
    assert not parser.parse_args(["eval", "--model", "tiny"]).allow_unsandboxed_code


def test_the_record_keeps_the_flag_and_the_report_shows_it(tmp_path):
    run_dir = make_run(tmp_path / "run")
    raw = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert raw["allow_unsandboxed_code"] is False
    assert not [label for label, _ in provenance(load_record(run_dir)) if label == "Code sandbox"]
    raw["allow_unsandboxed_code"] = True
    (run_dir / "run.json").write_text(json.dumps(raw), encoding="utf-8")
    rows = dict(provenance(load_record(run_dir)))
    assert rows["Code sandbox"].startswith("--allow-unsandboxed-code: model output could run unconfined")


def test_a_version_5_record_reads_as_not_allowing_unsandboxed_code():
    old = {"schema_version": 5, "run_id": "x"}
    assert migrate(old, 6) == {"schema_version": 6, "run_id": "x", "allow_unsandboxed_code": False, "ratings": None}
    assert old == {"schema_version": 5, "run_id": "x"}  # the input is not changed


def _scored(suite, store, outputs):
    from harness.evaluation.evaluate import score

    return score(suite, "base", suite.test * len(outputs), ["p"] * len(outputs), outputs, store)


@needs_sandbox
def test_verdicts_come_from_the_cache_the_second_time_without_a_jail(tmp_path, monkeypatch):
    from harness.cache import Store
    from harness.cache.keys import SCORES

    suite = code_suite(tmp_path / "code", None)
    store = Store(tmp_path / "cache")
    outputs = ["def total(xs):\n    return sum(xs)", "def total(xs):\n    return 0", "not python"]
    first = _scored(suite, store, outputs)
    assert [r.scores["pass_at_1"] for r in first] == [1.0, 0.0, 0.0] and first[1].reasons["pass_at_1"]
    assert store.counts()[SCORES] == 3

    def no_jail(*_args, **_kwargs):
        raise AssertionError("a cached verdict started a jail")

    monkeypatch.setattr(runner, "run_tests", no_jail)
    assert _scored(suite, store, outputs) == first
    with pytest.raises(AssertionError, match="started a jail"):  # another output is not a cached one
        _scored(suite, store, ["def total(xs):\n    return 1"])


def test_a_verdict_the_wall_clock_decided_is_not_cached(tmp_path, monkeypatch):
    from harness.cache import Store
    from harness.cache.keys import SCORES

    suite = code_suite(tmp_path / "code", None)
    store = Store(tmp_path / "cache")
    verdicts = iter([runner.Outcome(False, "timed out after 5 s", 5.0, timed_out=True),
                     runner.Outcome(True, "", 0.1)])
    monkeypatch.setattr(runner, "run_tests", lambda *_args: next(verdicts))
    monkeypatch.setattr(runner, "require_sandbox", lambda: None)
    assert [r.scores["pass_at_1"] for r in _scored(suite, store, ["slow"])] == [0.0]
    assert store.counts().get(SCORES, 0) == 0
    assert [r.scores["pass_at_1"] for r in _scored(suite, store, ["slow"])] == [1.0]  # run again, and kept
    assert store.counts()[SCORES] == 1


def test_a_suite_scored_with_a_timed_out_verdict_is_not_kept_whole(tmp_path, monkeypatch):
    from harness.cache import Store
    from harness.cache.keys import EVALUATIONS
    from harness.evaluation.evaluate import evaluate_outputs

    suite = code_suite(tmp_path / "code", None)
    store = Store(tmp_path / "cache")
    verdicts = iter([runner.Outcome(False, "timed out after 5 s", 5.0, timed_out=True), runner.Outcome(True, "", 0.1),
                     runner.Outcome(False, "AssertionError", 0.1)])
    monkeypatch.setattr(runner, "run_tests", lambda *_args: next(verdicts))
    monkeypatch.setattr(runner, "require_sandbox", lambda: None)

    def evaluated():
        rows, results = evaluate_outputs(suite, "base", suite.test, ["p"], ["slow"], 0, store)
        return rows[0].scores["pass_at_1"], results[0].value

    assert evaluated() == (0.0, 0.0) and store.counts().get(EVALUATIONS, 0) == 0
    assert evaluated() == (1.0, 1.0) and store.counts()[EVALUATIONS] == 1  # decided by the inputs: kept
    assert evaluated() == (1.0, 1.0)  # read whole: the third verdict is never asked for
