"""Gates: thresholds from suite.yaml checked against a run record.

A state whose validity checks failed (tuning changed nothing, the saved model does not
reproduce the trained one, outputs depend on batch size) fails every gate: its numbers are
not about what they claim to be about.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .record import BASE, RunRecord, load_predictions
from .suite import GateSpec

DATA = "data"
"""The pseudo-state of gates on the data itself (contamination)."""


@dataclass(frozen=True)
class GateCheck:
    suite: str
    state: str
    gate: GateSpec
    value: float | None
    """What was compared with the threshold; None if it was not measured."""
    passed: bool
    message: str


def gate_states(gate: GateSpec, backends: list[str]) -> list[str]:
    if gate.kind == "max_overlap":
        return [DATA]
    return [s for s in backends if gate.states is None or s in gate.states]


def check_gate(record: RunRecord, suite: str, state: str, gate: GateSpec, run_dir: str = "",
               baseline: tuple[str, RunRecord] | None = None) -> GateCheck:
    """`baseline` (run dir, record): no_significant_regression compares against that run's same state."""
    from .analysis import failed_checks

    where = f" (run: {run_dir})" if run_dir else ""

    def result(value, passed, what):
        verdict = "passes" if passed else "FAILS"
        return GateCheck(suite, state, gate, value, passed, f"{suite}: {what}; gate {gate.label} {verdict}{where}")

    if gate.kind == "max_overlap":
        info = record.checks.get("contamination", {}).get(suite)
        if info is None:
            return result(None, False, "contamination was not measured")
        return result(info["fraction"], info["fraction"] <= gate.max_overlap,
                      f"{info['near']} of {info['n_test']} test prompts occur in train ({info['exact']} exactly), "
                      f"fraction {info['fraction']:.4f} (threshold {gate.max_overlap:g})")
    problems = failed_checks(record, state)
    if problems:
        return result(None, False, f"{state} failed its validity checks: {'; '.join(problems)}")
    value, base = record.value(state, suite, gate.metric), record.value(BASE, suite, gate.metric)
    if value is None or (gate.kind == "min_delta" and base is None):
        return result(None, False, f"{state} {gate.metric} was not measured in this run")
    if gate.kind == "min":
        return result(value, value >= gate.min, f"{state} {gate.metric} = {value:.4f} (threshold {gate.min:g})")
    if gate.kind == "min_delta":
        delta = value - base
        return result(delta, delta >= gate.min_delta, f"{state} {gate.metric} − base = {value:.4f} − {base:.4f} = "
                                                     f"{delta:+.4f} (threshold {gate.min_delta:+g})")
    if gate.kind == "no_significant_regression" and baseline is not None:
        c = compare_runs(baseline, run_dir, record, suite, state, gate.metric)
        against = f"the same state of {baseline[0]}"
    else:
        c = next((c for c in record.comparisons if (c.suite, c.metric, c.baseline, c.state)
                  == (suite, gate.metric, BASE, state)), None)
        against = "base"
    if c is None:
        return result(None, False, f"{state} vs base on {gate.metric} was not compared in this run")
    stats = (f"{state} {gate.metric} Δ vs {against} = {c.delta:+.4f} [{c.ci_low:+.4f}, {c.ci_high:+.4f}], "
             f"p = {c.p_value:.4g}, Holm p = {c.p_holm:.4g}, alpha {record.alpha:g}: {c.verdict}")
    if gate.kind == "significant_gain":
        return result(c.delta, c.verdict == "gain", stats)
    return result(c.delta, c.verdict != "loss", stats)


def compare_runs(baseline: tuple[str, RunRecord], run_dir: str, record: RunRecord, suite: str, state: str, metric: str):
    """This run's state against the same state of a baseline run, paired on example ids."""
    from .compare import compare, finalize
    from .metrics import make_metric

    base_dir, base_record = baseline
    info = next(s for s in record.suites if s.name == suite)
    spec = next(m for m in info.metrics if m["name"] == metric)
    m = make_metric(metric, info.language, {k: v for k, v in spec.items() if k != "name"})
    before = load_predictions(Path(base_dir), state, suite)
    after = load_predictions(Path(run_dir), state, suite)
    if not before or not after:
        return None
    raw = compare(m, metric, suite, f"{base_record.run_id}:{state}", before, state, after, record.seed)
    (c,) = finalize([{"suite": suite, "metric": metric, "baseline": f"{base_record.run_id}:{state}", "state": state, **raw}],
                    record.alpha)
    return c


def check_all(record: RunRecord, run_dir: str = "") -> list[GateCheck]:
    """Every gate of every suite in the record, for every tuned state it applies to."""
    return [
        check_gate(record, info.name, state, gate, run_dir)
        for info in record.suites
        for gate in map(GateSpec.model_validate, info.gates)
        for state in gate_states(gate, [b.name for b in record.backends])
    ]
