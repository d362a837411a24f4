"""Gates: thresholds from suite.yaml checked against a run record."""
from __future__ import annotations

from dataclasses import dataclass

from .record import BASE, RunRecord
from .suite import GateSpec


@dataclass(frozen=True)
class GateCheck:
    suite: str
    state: str
    gate: GateSpec
    value: float | None
    """The tuned value (for `min`) or its difference from base (for `min_delta`); None if not measured."""
    passed: bool
    message: str


def gate_states(gate: GateSpec, backends: list[str]) -> list[str]:
    return [s for s in backends if gate.states is None or s in gate.states]


def check_gate(record: RunRecord, suite: str, state: str, gate: GateSpec, run_dir: str = "") -> GateCheck:
    value = record.value(state, suite, gate.metric)
    base = record.value(BASE, suite, gate.metric)
    where = f" (run: {run_dir})" if run_dir else ""
    if value is None or (gate.min_delta is not None and base is None):
        return GateCheck(suite, state, gate, None, False,
                         f"{suite}: {state} {gate.metric} was not measured in this run{where}")
    if gate.min is not None:
        measured, threshold, what = value, gate.min, f"{state} {gate.metric} = {value:.4f}"
    else:
        measured, threshold = value - base, gate.min_delta
        what = f"{state} {gate.metric} − base = {value:.4f} − {base:.4f} = {measured:+.4f}"
    passed = measured >= threshold
    verdict = "passes" if passed else "FAILS"
    return GateCheck(suite, state, gate, measured, passed,
                     f"{suite}: {what}; gate {gate.label} {verdict} (threshold {threshold:g}){where}")


def check_all(record: RunRecord, run_dir: str = "") -> list[GateCheck]:
    """Every gate of every suite in the record, for every tuned state it applies to."""
    return [
        check_gate(record, info.name, state, gate, run_dir)
        for info in record.suites
        for gate in map(GateSpec.model_validate, info.gates)
        for state in gate_states(gate, [b.name for b in record.backends])
    ]
