"""`--report-to tensorboard|mlflow`: what is logged is read back, offline, with each tool's own reader and compared
with the run record."""
from __future__ import annotations

import importlib.util

import pytest
from mlflow import MlflowClient
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from harness.cli import main
from harness.record import load_record
from harness.run.trackers import report_to, tracked

from .conftest import ROOT, read_json

V2_RUN = ROOT / "tests" / "data" / "run_v2"
"""A finished run: base, full and lora on two suites, with training curves, results and comparisons."""


@pytest.fixture
def record():
    return load_record(V2_RUN)


@pytest.fixture
def local_mlflow(monkeypatch):
    """MLflow's own defaults, whatever the machine's environment says."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)


def _expected(record, state: str) -> dict[str, list[tuple[int, float]]]:
    """The scalars a state must carry, built straight from the record."""
    want: dict[str, list[tuple[int, float]]] = {}
    for r in record.results:
        if r.state == state:
            want[f"{r.suite}/{r.metric}"] = [(0, r.value)]
            want[f"{r.suite}/{r.metric}.ci_low"] = [(0, r.ci_low)]
            want[f"{r.suite}/{r.metric}.ci_high"] = [(0, r.ci_high)]
    for c in record.comparisons:
        if c.state == state and c.baseline == "base":
            want[f"{c.suite}/{c.metric}.delta"] = [(0, c.delta)]
            want[f"{c.suite}/{c.metric}.delta_ci_low"] = [(0, c.ci_low)]
            want[f"{c.suite}/{c.metric}.delta_ci_high"] = [(0, c.ci_high)]
    for b in record.backends:
        if b.name == state:
            want["train/loss"] = [(step, loss) for step, loss in b.cost.loss_curve]
    return want


def test_every_state_is_tracked_with_its_curve_results_and_intervals(record):
    runs = {run.name: run for run in tracked(record)}
    assert list(runs) == ["base", "full", "lora"]
    for state, run in runs.items():
        want = _expected(record, state)
        assert {k: run.series[k] for k in want} == want
        assert run.params["model"] == record.model and run.params["config_key"] == record.config_key
    assert len(runs["lora"].series["train/loss"]) == 7 and "train/loss" not in runs["base"].series


def test_tensorboard_event_files_hold_the_record(record, tmp_path):
    (line,) = report_to(["tensorboard"], tmp_path, record.run_id, tracked(record))
    assert line == f"tensorboard: tensorboard --logdir {tmp_path / 'tensorboard'}"
    for state in ("base", "full", "lora"):
        events = EventAccumulator(str(tmp_path / "tensorboard" / state))
        events.Reload()
        got = {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}
        for key, points in _expected(record, state).items():
            assert [s for s, _ in got[key]] == [s for s, _ in points], key
            assert [v for _, v in got[key]] == pytest.approx([v for _, v in points], rel=1e-6), key  # float32


def test_mlflow_file_store_holds_the_record(record, tmp_path, local_mlflow):
    (line,) = report_to(["mlflow"], tmp_path, record.run_id, tracked(record))
    uri = (tmp_path / "mlruns").resolve().as_uri()
    assert line == f"mlflow: MLflow experiment 'harness' at {uri}, run {record.run_id}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("harness")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert sorted(runs) == sorted(["base", "full", "lora", record.run_id])
    parent = runs[record.run_id].info.run_id
    for state in ("base", "full", "lora"):
        run = runs[state]
        assert run.data.tags["mlflow.parentRunId"] == parent and run.info.status == "FINISHED"
        assert run.data.params["model"] == record.model
        for key, points in _expected(record, state).items():
            history = client.get_metric_history(run.info.run_id, key)
            assert sorted((m.step, m.value) for m in history) == sorted(points), key


def test_a_second_run_joins_the_same_experiment(record, tmp_path, local_mlflow):
    report_to(["mlflow"], tmp_path, "first", tracked(record))
    report_to(["mlflow"], tmp_path, "second", tracked(record))
    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").resolve().as_uri())
    (experiment,) = [e for e in client.search_experiments() if e.name == "harness"]
    names = [r.info.run_name for r in client.search_runs([experiment.experiment_id])]
    assert sorted(n for n in names if n in ("first", "second")) == ["first", "second"] and len(names) == 8


def test_an_unknown_tracker_is_one_line_before_any_work(tmp_path, capsys):
    assert main(["tune", "--backend", "lora", "--model", "tiny", "--out", str(tmp_path / "t"),
                 "--report-to", "wandb"]) == 2
    assert capsys.readouterr().err == ("harness: error: --report-to: unknown tracker 'wandb'; known: mlflow, "
                                       "tensorboard\n")
    assert not (tmp_path / "t").exists()


def test_tune_logs_its_training_curve_to_both(small_suites, tmp_path, capsys, local_mlflow):
    out = tmp_path / "tuned"
    assert main(["tune", "--backend", "lora", "--model", "tiny", "--suite", str(small_suites / "agent_tools"),
                 "--out", str(out), "--set", "lora.max_steps=10",
                 "--report-to", "tensorboard", "--report-to", "mlflow"]) == 0
    curve = [tuple(p) for p in read_json(out / "cost.json")["loss_curve"]]
    assert [step for step, _ in curve] == [1, 5, 10]  # the first step, then every 5
    printed = capsys.readouterr().out
    assert f"Logged to tensorboard: tensorboard --logdir {out / 'tensorboard'}" in printed
    events = EventAccumulator(str(out / "tensorboard" / "lora"))
    events.Reload()
    scalars = events.Scalars("train/loss")
    assert [e.step for e in scalars] == [1, 5, 10]
    assert [e.value for e in scalars] == pytest.approx([loss for _, loss in curve], rel=1e-6)  # float32
    client = MlflowClient(tracking_uri=(out / "mlruns").resolve().as_uri())
    (run,) = [r for r in client.search_runs([client.get_experiment_by_name("harness").experiment_id])
              if r.info.run_name == "lora"]
    assert sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "train/loss")) == curve
    assert run.data.params["settings.max_steps"] == "10"


def test_a_missing_tracker_package_is_one_line_before_any_work(tmp_path, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    assert main(["tune", "--backend", "lora", "--model", "tiny", "--out", str(tmp_path / "t"),
                 "--report-to", "mlflow"]) == 2
    assert capsys.readouterr().err == ("harness: error: --report-to mlflow: needs the mlflow package: "
                                       "pip install 'tuning-harness[trackers]'\n")
