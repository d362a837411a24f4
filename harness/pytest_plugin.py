"""`pytest suites/`: every gate in every collected suite.yaml becomes a test item.

Item ids read like `suites/agent_tools/suite.yaml::lora::exact_match>=0.7`. An underpowered gate fails
(with its own message); a gate decided on a point the run could not resolve passes with a warning; a gate on a
judge metric whose judge is not calibrated against the raters fails, or is skipped when it says so. With no options the
plugin gates the default demo configuration (all suites under `suites/`, model `tiny`, backends
full and lora), reusing a finished run with the same configuration key instead of training again.
The key covers only what decides results, so editing a gate, a rubric or a description reuses the
run; other edits make a new run, which the caches keep to the work the edit really needs (a new
metric rescores, a new test example is generated, neither retrains). Gating a finished run
imports no training code.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .common.errors import HarnessError
from .common.lazy import lazy_module
from .record import load_record
from .runtime.threads import configure
from .suitedef.suite import SUITE_FILE, load_suite

if TYPE_CHECKING:
    from .evaluation import gates as gating
    from .run import dirs as run_dirs
    from .run import orchestrate
else:  # every pytest session in the environment loads this plugin: a run's machinery loads only when gating
    gating = lazy_module("harness.evaluation.gates")
    orchestrate = lazy_module("harness.run.orchestrate")
    run_dirs = lazy_module("harness.run.dirs")


def pytest_addoption(parser):
    """The `--harness-*` options."""
    group = parser.getgroup("harness", "gates for instruction-tuning suites")
    group.addoption("--harness-model", default="tiny", metavar="MODEL", help="model to gate (default: tiny)")
    group.addoption("--harness-backend", action="append", metavar="NAME",
                    help="backend to gate (repeatable; default: full and lora)")
    group.addoption("--harness-run", metavar="RUN_DIR", help="gate an existing run directory without recomputing")
    group.addoption("--harness-out", default="runs", metavar="DIR",
                    help="where runs are looked up and made (default: runs, under the rootdir)")
    group.addoption("--harness-seed", type=int, default=0, metavar="N", help="seed of the gated run (default: 0)")
    group.addoption("--harness-baseline", metavar="RUN_DIR",
                    help="no_significant_regression gates compare against the same state of this run")
    group.addoption("--harness-trust-suite-code", action="store_true",
                    help="a run made here runs the code the suites bring (their `evaluate:` modules)")


def pytest_collect_file(file_path: Path, parent):
    """Collect every suite.yaml as a file of gate items."""
    if file_path.name == SUITE_FILE:
        return SuiteFile.from_parent(parent, path=file_path)
    return None


class SuiteFile(pytest.File):
    def collect(self):
        try:
            suite = load_suite(self.path.parent)
        except HarnessError as e:
            yield InvalidSuite.from_parent(self, name="valid", error=str(e))
            return
        runs = _runs(self.config)
        runs.suite_dirs.append(self.path.parent.resolve())
        for gate in suite.spec.gates:
            for state in gating.gate_states(gate, runs.backends()):
                yield GateItem.from_parent(self, name=f"{state}::{gate.label}", suite=suite.name, state=state,
                                           gate=gate)


class _HarnessItem(pytest.Item):
    """A failure is its one-line message, not a traceback into the harness."""

    def repr_failure(self, excinfo, style=None):
        return str(excinfo.value) if excinfo.errisinstance(GateFailure) else super().repr_failure(excinfo)

    def reportinfo(self):
        # No domain: pytest would show the dots in thresholds ("0.7") as "::" in -v output.
        return self.path, None, ""


class InvalidSuite(_HarnessItem):
    def __init__(self, *, error: str, **kwargs):
        super().__init__(**kwargs)
        self.error = error

    def runtest(self):
        raise GateFailure(self.error)


class GateItem(_HarnessItem):
    def __init__(self, *, suite: str, state: str, gate, **kwargs):
        super().__init__(**kwargs)
        self.suite, self.state, self.gate = suite, state, gate

    def runtest(self):
        """A failed gate fails; so does an underpowered one (the run decided it neither way, and a gate that
        cannot be decided must not let a change through: its message says how many examples would decide
        it). A caveat that leaves the outcome standing (a point `min_delta` the run could not resolve) is a
        warning in pytest's summary. A gate whose judge is not calibrated fails, or is skipped with its reason
        when the gate says `when_uncalibrated: skip`: it never passes."""
        outcome = _runs(self.config).outcome(self)
        if outcome.status == "uncalibrated" and outcome.gate.when_uncalibrated == "skip":
            pytest.skip(outcome.message)
        if outcome.warning:
            warnings.warn(GateWarning(f"{outcome.suite} {outcome.state} {outcome.label}: {outcome.warning}"),
                          stacklevel=1)
        if not outcome.passed:
            raise GateFailure(outcome.message)


class GateFailure(AssertionError):
    pass


class GateWarning(UserWarning):
    """A gate's caveat: its outcome stands, but the run could not have resolved its threshold."""


class _Runs:
    """The one run every gate in this session reads, found or made on first use."""

    def __init__(self, config):
        self.config, self.suite_dirs, self._run, self._baseline = config, [], None, None
        self._outcomes: dict | None = None

    def outcome(self, item: GateItem):
        """The item's gate outcome. On first use every collected gate is decided at once against the run
        and recorded in it, so the run's report shows exactly what this session decided."""
        if self._outcomes is None:
            run_dir, record = self.get()
            gates: dict[str, list] = {}
            for it in item.session.items:
                if isinstance(it, GateItem) and it.gate not in gates.setdefault(it.suite, []):
                    gates[it.suite].append(it.gate)
            baseline = self.baseline()
            outcomes = gating.decide_all(record, str(run_dir), baseline, gates)
            who = "pytest" + (f" --harness-baseline {baseline[0]}" if baseline else "")
            gating.record_gates(run_dir, record, outcomes, who, set(gates))
            self._outcomes = {(o.suite, o.state, o.label): o for o in outcomes}
        return self._outcomes[(item.suite, item.state, item.gate.label)]

    def baseline(self):
        """(run dir, record) of --harness-baseline, read once; None without it."""
        given = self.config.getoption("harness_baseline")
        if given and self._baseline is None:
            self._baseline = (given, load_record(given))
        return self._baseline

    def backends(self) -> list[str]:
        if self.config.getoption("harness_run"):
            return [b.name for b in self.get()[1].backends]
        return self.config.getoption("harness_backend") or list(orchestrate.DEFAULT_BACKENDS)

    def get(self):
        if self._run is None:
            self._run = self._find_or_make()
        return self._run

    def _find_or_make(self):
        given = self.config.getoption("harness_run")
        if given:
            return Path(given), load_record(given)
        configure()  # before any model work, as the command line does
        root = Path(self.config.rootpath)
        default_suites = (root / "suites").resolve()
        # Gating shipped suites means gating the demo configuration (all of them), so that a
        # finished `harness run` is reused; other suites are run on their own.
        inside = all(default_suites in d.parents for d in self.suite_dirs)
        suites = [str(default_suites)] if inside else sorted(map(str, set(self.suite_dirs)))
        request = orchestrate.RunRequest(suites=suites, model=self.config.getoption("harness_model"),
                             backends=self.backends(), seed=self.config.getoption("harness_seed"),
                             trust_suite_code=self.config.getoption("harness_trust_suite_code"))
        p = orchestrate.plan(request)
        out = root / self.config.getoption("harness_out")
        found = run_dirs.find_finished_run(out, p.config_key)
        if found is None:
            found = run_dirs.new_run_dir(out, p.config_key)
            orchestrate.execute(p, found)
            return found, load_record(found)
        record = load_record(found)
        _refresh_suites(record, p.suites)
        return found, record


def _refresh_suites(record, suites) -> None:
    """A reused run was made with the same results-deciding suite content, but the gates, rubric,
    description or version may have been edited since: the record shows them as they are now (it is
    saved when the gates are recorded)."""
    current = {s.name: s.spec for s in suites}
    for info in record.suites:
        spec = current.get(info.name)
        if spec is not None:
            info.gates, info.rubric, info.judge_calibration = list(spec.gates), spec.rubric, spec.judge_calibration
            info.description, info.version = spec.description, spec.version


def _runs(config) -> _Runs:
    if not hasattr(config, "_harness_runs"):
        config._harness_runs = _Runs(config)
    return config._harness_runs
