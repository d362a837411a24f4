"""Experiment trackers: `--report-to tensorboard|mlflow` logs a finished run (or tuning) where a team already
looks, besides the run directory that stays the record.

What is logged is made once, from the record, for every tracker alike (`tracked`): one tracker run per state,
holding its training curve (`train/loss` by optimizer step) and every result with its 95% interval
(`SUITE/METRIC`, `SUITE/METRIC.ci_low`, `SUITE/METRIC.ci_high`), and for tuned states the change against base
with its interval (`SUITE/METRIC.delta`, `.delta_ci_low`, `.delta_ci_high`, `.p_holm`) and each gate
(`gate/SUITE/LABEL`: 1 passed, 0 failed). Built-in trackers write beside the record (`RUN_DIR/tensorboard/`,
an MLflow file store in `RUN_DIR/mlruns/` unless `MLFLOW_TRACKING_URI` names another); more come from the
`harness.trackers` entry-point group (`name = "package.module:TrackerClass"`).
"""
from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from harness.common.errors import HarnessError
from harness.common.lazy import lazy_module
from harness.common.plugins import entry_point_map, load_plugin
from harness.record import BASE, Cost, RunRecord

if TYPE_CHECKING:
    import mlflow
    import mlflow.entities as mlflow_entities
    from torch.utils import tensorboard
else:  # heavy, and only for runs that ask for them
    mlflow = lazy_module("mlflow")
    mlflow_entities = lazy_module("mlflow.entities")
    tensorboard = lazy_module("torch.utils.tensorboard")

ENTRY_POINT_GROUP = "harness.trackers"
BUILTIN = {"tensorboard": "harness.run.trackers:TensorBoard", "mlflow": "harness.run.trackers:MLflow"}
_KEY = re.compile(r"[^\w./\- ]")
"""What MLflow refuses in a metric name (states like `lora[r=8]@seed1` name runs, never keys)."""


@dataclass
class Tracked:
    """One tracker run: a state of a run, or one tuning."""

    name: str
    params: dict[str, str]
    series: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    """Metric name → (step, value) pairs; results are logged at step 0."""

    def add(self, key: str, value: float | None, step: int = 0) -> None:
        if value is not None:
            self.series.setdefault(_KEY.sub("_", key), []).append((step, float(value)))


class Tracker:
    """Where tracked runs are logged. `log` is called once with every run of one harness run or tuning."""

    name: ClassVar[str]
    needs: ClassVar[str | None] = None
    """The package it writes with: checked before a run starts, so a missing one is one line, not a failure
    after hours of training."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        """The run directory (or tuning output) that holds the record: where a local tracker writes."""

    def log(self, group: str, runs: list[Tracked]) -> str:
        """Log `runs`, grouped under `group` (the run's id); return where they can be seen, in a few words."""
        raise NotImplementedError


class TensorBoard(Tracker):
    """TensorBoard event files, one folder per state under `tensorboard/` (`tensorboard --logdir`)."""

    name = "tensorboard"
    needs = "tensorboard"

    def log(self, group: str, runs: list[Tracked]) -> str:
        root = self.folder / "tensorboard"
        for run in runs:
            writer = tensorboard.SummaryWriter(log_dir=str(root / run.name.replace(os.sep, "_")))
            try:
                writer.add_text("params", "\n".join(f"- {k}: {v}" for k, v in sorted(run.params.items())), 0)
                for key, points in run.series.items():
                    for step, value in points:
                        writer.add_scalar(key, value, step)
            finally:
                writer.close()
        return f"tensorboard --logdir {root}"


class MLflow(Tracker):
    """MLflow: a parent run named after the harness run, one nested run per state. A local file store in
    `mlruns/` unless `MLFLOW_TRACKING_URI` says otherwise; the experiment is `MLFLOW_EXPERIMENT_NAME` or `harness`."""

    name = "mlflow"
    needs = "mlflow"
    BATCH = 1000
    """MLflow's limit of metrics per `log_batch`."""

    def log(self, group: str, runs: list[Tracked]) -> str:
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            uri = (self.folder / "mlruns").resolve().as_uri()
            # MLflow keeps its file store in maintenance and asks for this to use it; a file store needs no server.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        client = mlflow.MlflowClient(tracking_uri=uri)
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "harness")
        found = client.get_experiment_by_name(name)
        experiment = found.experiment_id if found is not None else client.create_experiment(name)
        parent = client.create_run(experiment, run_name=group, tags={"harness.run": group})
        for run in runs:
            child = client.create_run(experiment, run_name=run.name,
                                      tags={"mlflow.parentRunId": parent.info.run_id, "harness.state": run.name})
            metrics = [mlflow_entities.Metric(key, value, 0, step)
                       for key, points in run.series.items() for step, value in points]
            params = [mlflow_entities.Param(k, v[:6000]) for k, v in sorted(run.params.items())]
            client.log_batch(child.info.run_id, params=params)
            for start in range(0, len(metrics), self.BATCH):
                client.log_batch(child.info.run_id, metrics=metrics[start:start + self.BATCH])
            client.set_terminated(child.info.run_id)
        client.set_terminated(parent.info.run_id)
        return f"MLflow experiment {name!r} at {uri}, run {group}"


def available() -> dict[str, str]:
    """Tracker name → where it comes from (`module:Class`); a plugin cannot shadow a built-in name."""
    return entry_point_map(ENTRY_POINT_GROUP) | BUILTIN


def tracker_class(name: str) -> type[Tracker]:
    """The tracker registered as `name`; one clear line when there is none or its package is missing."""
    try:
        cls = load_plugin(available(), name, Tracker, "tracker")
    except ValueError as e:
        raise HarnessError(str(e), "--report-to" if name not in available() else f"--report-to {name}") from None
    if cls.needs is not None and importlib.util.find_spec(cls.needs) is None:
        raise HarnessError(f"needs the {cls.needs} package: pip install 'tuning-harness[trackers]'",
                           f"--report-to {name}")
    return cls


def check_names(names: list[str]) -> None:
    """Every named tracker can log: checked before any work is done."""
    for name in names:
        tracker_class(name)


def _curve(run: Tracked, cost: Cost) -> None:
    for step, loss in cost.loss_curve:
        run.add("train/loss", loss, step)
    run.add("train/wall_seconds", cost.wall_seconds)
    run.add("train/tokens_per_second", cost.tokens_per_second)
    run.add("train/peak_memory_mb", cost.peak_memory_mb)


def tracked(record: RunRecord) -> list[Tracked]:
    """What every tracker logs of a finished run: one tracked run per state."""
    common = {"model": record.model, "model_path": record.model_path, "seed": str(record.seed),
              "config_key": record.config_key, "run_id": record.run_id,
              "suites": ",".join(s.name for s in record.suites)}
    runs = {BASE: Tracked(BASE, dict(common))}
    for b in record.backends:
        runs[b.name] = Tracked(b.name, {**common, "backend": b.backend, "strategy": b.strategy,
                                        **{f"settings.{k}": str(v) for k, v in b.settings.items()}})
        _curve(runs[b.name], b.cost)
    for r in record.results:
        if r.state in runs:
            key = f"{r.suite}/{r.metric}"
            runs[r.state].add(key, r.value)
            runs[r.state].add(f"{key}.ci_low", r.ci_low)
            runs[r.state].add(f"{key}.ci_high", r.ci_high)
    for c in record.comparisons:
        if c.baseline == BASE and c.state in runs:
            key = f"{c.suite}/{c.metric}"
            runs[c.state].add(f"{key}.delta", c.delta)
            runs[c.state].add(f"{key}.delta_ci_low", c.ci_low)
            runs[c.state].add(f"{key}.delta_ci_high", c.ci_high)
            runs[c.state].add(f"{key}.p_holm", c.p_holm)
    for g in record.gates:
        if g.state in runs:
            runs[g.state].add(f"gate/{g.suite}/{g.label}", 1.0 if g.passed else 0.0)
    return list(runs.values())


def tracked_tuning(backend: str, model: str, cost: Cost, settings: dict) -> list[Tracked]:
    """What every tracker logs of `harness tune`: its training curve and cost."""
    params = {"model": model, "backend": backend, **{f"settings.{k}": str(v) for k, v in settings.items()}}
    run = Tracked(backend, params)
    _curve(run, cost)
    return [run]


def report_to(names: list[str], folder: Path, group: str, runs: list[Tracked]) -> list[str]:
    """Log `runs` to every named tracker; one line per tracker saying where to look."""
    return [f"{name}: {tracker_class(name)(folder).log(group, runs)}" for name in names]
