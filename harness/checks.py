"""Validity checks: is a number in the report about what it claims to be about?

- model_changed: tuning changed at least one output (an adapter that is not applied, or zero
  steps, leaves the tuned state identical to base);
- reload_equivalence: the saved artefact, reloaded, reproduces the in-memory model's outputs;
- batch_invariance: outputs regenerated one at a time match the batched ones.
Each check is a typed record (`harness.record`) with its counts and `ok`. Train/test overlap is part
of the data report (`harness.dataquality`).
"""
from __future__ import annotations

from .record import OutputsMatch, Prediction
from .suite import Suite

SAMPLE = 8
"""Examples per suite re-generated for the batch and reload checks."""


def sample_ids(suite: Suite) -> list[str]:
    """The examples the batch and reload checks regenerate."""
    return [ex.id for ex in suite.test[:SAMPLE]]


def compare_outputs(expected: dict[str, str], got: dict[str, str]) -> OutputsMatch:
    """Outputs for the same ids; `mismatches` lists the ids that differ."""
    mismatches = sorted(i for i in expected if got.get(i) != expected[i])
    return OutputsMatch(checked=len(expected), mismatches=mismatches, ok=not mismatches)


def model_changed(base_rows: list[Prediction], state_rows: list[Prediction]) -> tuple[int, int]:
    """(examples whose output differs from base, examples compared)."""
    base = {r.id: r.output for r in base_rows}
    differ = sum(1 for r in state_rows if r.id in base and r.output != base[r.id])
    return differ, sum(1 for r in state_rows if r.id in base)
