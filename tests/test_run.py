"""End to end on a tiny setting: run → record → predictions → report → gates; other model kinds."""
from __future__ import annotations

import json
import re
import shutil
from html import escape as html_escape

import pytest

from harness.cli import main
from harness.record import load_predictions, load_record
from reports import render_report

from .conftest import copy_run, cut_suite, read_json

pytest_plugins = ["pytester"]


def test_run_writes_record_predictions_and_report(small_run):
    record = load_record(small_run)
    assert record.status == "complete" and record.model == "tiny" and record.model_note
    assert [b.name for b in record.backends] == ["full", "lora"]
    states = {(r.state, r.suite, r.metric): r for r in record.results}
    for state in ("base", "full", "lora"):
        assert states[(state, "agent_tools", "exact_match")].n == 24
        assert states[(state, "translate_en_zh", "bleu")].n == 12
        rows = load_predictions(small_run, state, "agent_tools")
        assert len(rows) == 24 and rows[0].output is not None and rows[0].model_input.endswith("<|assistant|>")
        # the aggregate is the mean of the per-example scores it was computed from
        assert states[(state, "agent_tools", "tool_name")].value == pytest.approx(
            sum(r.scores["tool_name"] for r in rows) / 24)
    for b in record.backends:
        assert b.cost.steps == 30 and b.cost.train_tokens > 0 and b.cost.peak_memory_mb > 0 and b.cost.loss_curve
        assert (small_run / b.artefact).is_dir()
    assert record.backends[1].cost.trainable_params < record.backends[1].cost.total_params
    raw = read_json(small_run / "run.json")
    assert raw["schema_version"] == 6 and raw["environment"]["packages"]["trl"]
    assert [d.suite for d in record.data.suites] == ["agent_tools", "translate_en_zh"] and record.data.model == "tiny"
    assert [(t.backend, t.max_length) for t in record.data.suite("agent_tools").truncation] == [("full", 512),
                                                                                                ("lora", 512)]
    assert (small_run / "explanations" / "base" / "agent_tools.jsonl").is_file()
    assert "tok:zh" in record.suite("translate_en_zh").metric("bleu").signature
    assert [g.decided_by for g in record.gates] == ["harness run"] * len(record.gates) and record.gates
    report = small_run / "report"
    assert "agent_tools" in (report / "index.html").read_text(encoding="utf-8")
    assert "Cost per strategy" in (report / "strategy.html").read_text(encoding="utf-8")
    for page in report.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "http://" not in html and "https://" not in html, page


def test_report_escapes_model_output(small_run, tmp_path):
    run = shutil.copytree(small_run, tmp_path / "run")
    path = run / "predictions" / "full" / "agent_tools.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[0]["output"] = '<script>alert(1)</script>"><img src=x onerror=alert(2)>{{ 7*7 }}'
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    html = (render_report(run).parent / "suites" / "agent_tools" / "examples-001.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    text = re.sub(r"<del>.*?</del>|</?ins>", "", html, flags=re.S)  # the output without its diff markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "{{ 7*7 }}" in text


def test_resume_finishes_a_run_that_stopped(small_run, tmp_path):
    run = shutil.copytree(small_run, tmp_path / "run")
    record = read_json(run / "run.json")
    record["status"] = "running"
    record["results"] = [r for r in record["results"] if r["state"] != "lora"]
    (run / "run.json").write_text(json.dumps(record))
    weights = (run / "models" / "full" / "model.safetensors").stat().st_mtime_ns
    assert main(["run", "--resume", str(run)]) == 0
    resumed, original = load_record(run), load_record(small_run)
    assert resumed.status == "complete"
    assert [r.model_dump() for r in resumed.results if r.state == "lora"] == \
        [r.model_dump() for r in original.results if r.state == "lora"]
    assert (run / "models" / "full" / "model.safetensors").stat().st_mtime_ns == weights  # not retrained


def test_gates_pass_and_fail_with_a_clear_message(small_run, tmp_path, pytester):
    small_run = copy_run(small_run, tmp_path / "run")  # gating records its outcomes in the run
    record = load_record(small_run)
    full_em = record.value("full", "agent_tools", "tool_name")
    assert full_em < 1.0  # so a gate at the top of the scale fails (one above it is refused at load)
    suite = cut_suite("agent_tools", pytester.path / "suites" / "agent_tools", 1, 1, gates=[
        {"metric": "tool_name", "min": 0.0},
        {"metric": "tool_name", "min": 1.0, "states": ["full"]},
        {"metric": "tool_name", "min_delta": -1.0},
    ])
    result = pytester.runpytest(str(suite / "suite.yaml"), "--harness-run", str(small_run), "-v",
                                "-W", "ignore::pytest.PytestAssertRewriteWarning")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines([
        "*suite.yaml::full::tool_name>=1 FAILED*",
        "*suite.yaml::lora::tool_name>=base-1 PASSED*",
    ])
    failure = result.stdout.str()
    assert f"full tool_name = {full_em:.4f}" in failure and "(threshold 1)" in failure and str(small_run) in failure
    assert result.ret == 1


def test_invalid_suite_fails_the_gate_run(pytester):
    bad = pytester.path / "suites" / "broken"
    bad.mkdir(parents=True)
    (bad / "suite.yaml").write_text("name: broken\nversion: '1'\n")
    result = pytester.runpytest(str(bad / "suite.yaml"))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*suite.yaml*field 'data'*Field required*"])


def test_eval_only_with_an_adapter(small_run, small_suites, tmp_path):
    record = load_record(small_run)
    adapter = small_run / "models" / "lora"
    assert main(["eval", "--model", record.model_path, "--adapter", str(adapter), "--suite",
                 str(small_suites / "agent_tools"), "--out", str(tmp_path)]) == 0
    (run,) = tmp_path.iterdir()
    evaluated = load_record(run)
    assert evaluated.backends == [] and evaluated.adapter == str(adapter)
    assert evaluated.value("base", "agent_tools", "exact_match") == record.value("lora", "agent_tools", "exact_match")


def test_tune_only_writes_model_and_cost(small_suites, tmp_path):
    out = tmp_path / "tuned"
    assert main(["tune", "--backend", "lora", "--model", "tiny", "--suite", str(small_suites / "agent_tools"),
                 "--out", str(out), "--set", "lora.max_steps=2"]) == 0
    cost = read_json(out / "cost.json")
    assert cost["steps"] == 2 and cost["settings"]["r"] == 16 and (out / "adapter_config.json").is_file()


def test_cli_errors_are_one_line_and_nonzero(small_suites, capsys):
    assert main(["run", "--suite", str(small_suites), "--backend", "nope"]) == 2
    assert "unknown backend 'nope'" in capsys.readouterr().err
    assert main(["run", "--suite", "/nonexistent/suite"]) == 2
    assert "no such suite folder" in capsys.readouterr().err


def test_regression_gate_against_a_baseline_run(small_run, pytester, tmp_path):
    suite = cut_suite("translate_en_zh", pytester.path / "suites" / "translate_en_zh", 1, 1, gates=[
        {"metric": "bleu", "no_significant_regression": True, "states": ["lora"]}])
    run = copy_run(small_run, tmp_path / "run")
    result = pytester.runpytest(str(suite / "suite.yaml"), "--harness-run", str(run),
                                "--harness-baseline", str(small_run), "-v",
                                "-W", "ignore::pytest.PytestAssertRewriteWarning")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*suite.yaml::lora::bleu:no_significant_regression PASSED*"])

    # A baseline whose lora translated perfectly: against it this run regressed. CI fails the gate, and the
    # run's report shows that recorded decision, not the run's own (against base, which passes).
    baseline = copy_run(small_run, tmp_path / "baseline")
    path = baseline / "predictions" / "lora" / "translate_en_zh.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    path.write_text("".join(json.dumps({**r, "output": r["reference"]}, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    result = pytester.runpytest(str(suite / "suite.yaml"), "--harness-run", str(run),
                                "--harness-baseline", str(baseline), "-W", "ignore::pytest.PytestAssertRewriteWarning")
    result.assert_outcomes(failed=1)
    (outcome,) = [g for g in load_record(run).gates if g.suite == "translate_en_zh"]
    assert not outcome.passed and outcome.baseline_run == str(baseline)
    assert outcome.decided_by == f"pytest --harness-baseline {baseline}" and outcome.message in result.stdout.str()
    html = render_report(run).read_text(encoding="utf-8")
    assert html_escape(outcome.message) in html and "FAIL" in html and html_escape(outcome.decided_by) in html
