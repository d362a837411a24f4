"""Gates: thresholds from suite.yaml decided against a run record, once, and recorded.

`decide_all` turns every gate into a `GateOutcome` (`pass`, `fail` or `underpowered`: the margin
gates of `margins.py` are decided on the paired interval, with the power the run had); `record_gates`
writes them into `run.json`, where the report, the comparison site and the pytest plugin read them.
A state whose validity checks failed (tuning changed nothing, the saved model does not reproduce the trained one,
outputs depend on batch size) fails every gate: its numbers are not about what they claim. A gate on a judge
metric whose judge is not calibrated against the suite's raters is not decided (`uncalibrated`): it fails, or
is skipped when the gate says `when_uncalibrated: skip`, and never passes.
"""
from __future__ import annotations

from pathlib import Path

from harness.metrics import from_info
from harness.record import (
    BASE,
    DATA_GATES,
    Contamination,
    DataReport,
    GateOutcome,
    GateSpec,
    RunRecord,
    load_predictions,
    save_record,
)
from harness.record.outcome import GateDecision
from harness.record.spec import MARGIN_GATES
from harness.record.strategies import aliases
from harness.stats.compare import compare, finalize

from .margins import decide_margin, detectable_change

DATA = "data"
"""The pseudo-state of gates on the test data itself (train/test overlap)."""


def gate_states(gate: GateSpec, backends: list[str]) -> list[str]:
    """The states a gate applies to: `data` for overlap gates, else the tuned states it names (default all);
    a `max_truncated` gate checks the training data as each backend's `max_length` cuts it.

    A name in `states:` covers every state it names: a backend (`lora`) its plain state, each of its sweep
    points and each training seed; a strategy (`lora[r=8]`) its seeds; a state itself. Each such state is
    gated on its own: every one is a model that could be shipped."""
    if gate.kind == "max_overlap":
        return [DATA]
    return [s for s in backends if gate.states is None or aliases(s) & set(gate.states)]


def decide(record: RunRecord, suite: str, state: str, gate: GateSpec, run_dir: str = "",
           baseline: tuple[str, RunRecord] | None = None) -> GateOutcome:
    """One gate's outcome. `baseline` (run dir, record): a no_significant_regression gate compares against
    that run's same state instead of this run's base."""
    where = f" (run: {run_dir})" if run_dir else ""
    against_run = str(baseline[0]) if baseline is not None and gate.kind == "no_significant_regression" else None

    def outcome(value, decision: GateDecision | bool, what, **power):
        decision = ("pass" if decision else "fail") if isinstance(decision, bool) else decision
        needed = power.get("examples_needed")
        verdict = {"pass": "passes", "fail": "FAILS",
                   "underpowered": "is UNDERPOWERED (decided neither way" + (f"; ~{needed} examples would decide "
                                                                             "it" if needed else "") + ")",
                   "uncalibrated": f"is not decided: JUDGE NOT CALIBRATED ("
                                   f"{'skipped' if gate.when_uncalibrated == 'skip' else 'fails'})"}[decision]
        return GateOutcome(suite=suite, state=state, gate=gate, label=gate.label, baseline_run=against_run,
                           value=value, threshold=gate.threshold, passed=decision == "pass", decision=decision,
                           message=f"{suite}: {what}; gate {gate.label} {verdict}{where}", **power)

    if gate.kind in DATA_GATES:
        return decide_data(record.data, suite, state, gate, run_dir, record.checks.contamination.get(suite))
    problems = record.checks.failures(state)
    if problems:
        return outcome(None, False, f"{state} failed its validity checks: {'; '.join(problems)}")
    metric = gate.metric or ""
    refusal = uncalibrated(record, suite, metric)
    if refusal is not None:
        return outcome(None, "uncalibrated", refusal)
    value, base = record.value(state, suite, metric), record.value(BASE, suite, metric)
    if value is None or (gate.kind in MARGIN_GATES and base is None):
        return outcome(None, False, f"{state} {metric} was not measured in this run")
    if gate.min is not None:
        return outcome(value, value >= gate.min, f"{state} {metric} = {value:.4f} (threshold {gate.min:g})")
    if against_run is not None:
        c = compare_runs(baseline, run_dir, record, suite, state, metric)
        against = f"the same state of {against_run}"
    else:
        c = next((c for c in record.comparisons if (c.suite, c.metric, c.baseline, c.state)
                  == (suite, metric, BASE, state)), None)
        against = "base"
    info = record.suite(suite).metric(metric)
    if c is None:
        if gate.min_delta is not None and base is not None and gate.decide_on != "lower_bound":
            delta = value - base  # a record without comparisons: the point Δ is all there is
            return outcome(delta, delta >= gate.min_delta, f"{state} {metric} − base = {value:.4f} − {base:.4f} = "
                                                           f"{delta:+.4f} (threshold {gate.min_delta:+g})")
        return outcome(None, False, f"{state} vs {against} on {metric} was not compared")
    n = c.n or _examples(record, suite, state, metric, c)
    if gate.kind in MARGIN_GATES:
        m = decide_margin(gate, c, info, n, record.bound_alpha)
        what = f"{state} {metric} vs {against}: {m.text}" + (f"; WARNING {m.warning}" if m.warning else "")
        return outcome(c.delta, m.decision, what, detectable=m.detectable, powered=m.powered,
                       examples_needed=m.examples_needed, warning=m.warning)
    shown = c.delta if info.higher_is_better else -c.delta
    detectable = detectable_change(c, info, n, record.alpha)
    stats = (f"{state} {metric} Δ vs {against} = {c.delta:+.4f} [{c.ci_low:+.4f}, {c.ci_high:+.4f}], "
             f"p = {c.p_text(adjusted=False)}, Holm p = {c.p_text()}, alpha {record.alpha:g}: {c.verdict}; "
             f"detectable at 80% power ±{detectable:.4f} (n = {n})")
    if gate.kind == "significant_gain":
        return outcome(c.delta, c.verdict == "gain", stats, detectable=detectable)
    if c.verdict != "loss" and shown < 0:
        stats += "; a loss this small passes unseen (a `max_drop` margin would decide it)"
    return outcome(c.delta, c.verdict != "loss", stats, detectable=detectable)


def uncalibrated(record: RunRecord, suite: str, metric: str) -> str | None:
    """Why a gate on `metric` may not be decided because its judge is not calibrated against the suite's raters;
    None when `metric` is no judge metric or its judge is calibrated."""
    result = next((r for r in record.judging.get(suite, []) if r.metric == metric), None)
    if result is None or (result.calibration is not None and result.calibration.calibrated):
        return None
    why = result.calibration.reason if result.calibration is not None else "no imported ratings"
    return f"{metric} is judged by {result.judge_model}, not calibrated against the raters: {why}"


def _examples(record: RunRecord, suite: str, state: str, metric: str, c) -> int:
    """Paired examples of a comparison in a record that did not store them: its 2×2 table, else the
    state's result."""
    if c.table:
        return sum(c.table.values())
    return next((r.n for r in record.results if (r.state, r.suite, r.metric) == (state, suite, metric)), 0)


def decide_data(data: DataReport | None, suite: str, state: str, gate: GateSpec, run_dir: str = "",
                legacy_overlap: Contamination | None = None) -> GateOutcome:
    """A data gate's outcome from a data report (`harness run` records one; `harness data check` makes one).
    `legacy_overlap`: a schema 3 run's contamination check, read when the run has no data report."""
    report = data.suite(suite) if data else None
    value: float | None = None
    if gate.kind == "max_overlap":
        overlap = report.overlap if report else legacy_overlap
        if overlap is None:
            what = "train/test overlap was not measured"
        else:
            value = overlap.fraction
            what = (f"{overlap.near} of {overlap.n_test} test prompts occur in train ({overlap.exact} verbatim), "
                    f"fraction {overlap.fraction:.4f} (threshold {gate.max_overlap:g})")
    else:
        cut = next((t for t in report.truncation if t.backend == state), None) if report else None
        if cut is None:
            what = f"truncation by {state}'s max_length was not measured"
        else:
            value = cut.fraction
            what = (f"{state}'s max_length {cut.max_length} truncates {cut.truncated} training examples "
                    f"({cut.completion_lost} with no completion left), fraction {cut.fraction:.4f} "
                    f"(threshold {gate.max_truncated:g})")
    passed = value is not None and value <= (gate.threshold or 0.0)
    where = f" (run: {run_dir})" if run_dir else ""
    return GateOutcome(suite=suite, state=state, gate=gate, label=gate.label, value=value, threshold=gate.threshold,
                       passed=passed, message=f"{suite}: {what}; gate {gate.label} {'passes' if passed else 'FAILS'}"
                                          f"{where}")


def compare_runs(baseline, run_dir: str, record: RunRecord, suite: str, state: str, metric: str):
    """This run's state against the same state of a baseline run, paired on example ids (None when
    either run lacks that state's predictions)."""
    base_dir, base_record = baseline
    info = record.suite(suite)
    m = from_info(info.metric(metric), info.language, Path(info.path))
    before = load_predictions(Path(base_dir), state, suite)
    after = load_predictions(Path(run_dir), state, suite)
    if not before or not after:
        return None
    name = f"{base_record.run_id}:{state}"
    raw = compare(m, metric, suite, name, before, state, after, record.seed, record.bound_alpha)
    (c,) = finalize([{"suite": suite, "metric": metric, "baseline": name, "state": state, **raw}], record.alpha)
    return c


def decide_all(record: RunRecord, run_dir: str = "", baseline: tuple[str, RunRecord] | None = None,
               gates: dict[str, list[GateSpec]] | None = None) -> list[GateOutcome]:
    """Every gate of every suite (or the `gates` given by suite name), for every state it applies to."""
    gates = gates if gates is not None else {info.name: info.gates for info in record.suites}
    return [decide(record, suite, state, gate, run_dir, baseline)
            for suite, suite_gates in gates.items()
            for gate in suite_gates
            for state in gate_states(gate, [b.name for b in record.backends])]


def redecide_judged(record: RunRecord, run_dir: str | Path, decided_by: str) -> None:
    """Decide again, in place, the recorded gates on judge metrics: their calibration changed (ratings were
    imported). Gates decided against a baseline run keep their outcome until decided with it again."""
    judged = {(suite, r.metric) for suite, results in record.judging.items() for r in results}
    record.gates = [decide(record, o.suite, o.state, o.gate, str(run_dir)).model_copy(update={"decided_by": decided_by})
                    if (o.suite, o.gate.metric) in judged and o.baseline_run is None else o for o in record.gates]


def record_gates(run_dir: str | Path, record: RunRecord, outcomes: list[GateOutcome], decided_by: str,
                 suites: set[str] | None = None) -> None:
    """Store the outcomes in the record, replacing earlier outcomes of these suites (default: every suite
    of the record), and write it."""
    outcomes = [o.model_copy(update={"decided_by": decided_by}) for o in outcomes]
    suites = suites if suites is not None else {s.name for s in record.suites}
    record.gates = [o for o in record.gates if o.suite not in suites] + outcomes
    save_record(run_dir, record)
