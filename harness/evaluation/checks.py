"""Validity checks: is a number in the report about what it claims to be about?

- model_changed: tuning changed at least one output (an adapter that is not applied, or zero
  steps, leaves the tuned state identical to base);
- reload_equivalence: the saved artefact, reloaded, reproduces the in-memory model's outputs;
- batch_invariance: outputs regenerated in a differently composed batch match the evaluation's.
Each check is a typed record (`harness.record`) with its counts and `ok`. Train/test overlap is part
of the data report (`harness.dataquality`).
"""
from __future__ import annotations

from typing import Any, Sequence

from harness.cache.keys import reload_check_key
from harness.models.generate import length_order
from harness.record import OutputsMatch, Prediction
from harness.suitedef.suite import Example, Suite

SAMPLE = 8
"""Examples per suite re-generated for the batch and reload checks."""


def sample_ids(suite: Suite) -> list[str]:
    """The examples the reload check regenerates."""
    return [ex.id for ex in suite.test[:SAMPLE]]


def invariance_sample(lengths: Sequence[int], k: int = SAMPLE) -> list[int]:
    """The examples (indices) the batch-invariance check generates a second time.

    Evaluation batches prompts longest first by token count, so each row is padded only up to the
    longest prompt of its own batch of near-equal lengths, and many rows are not padded at all. The
    check picks k examples spread evenly over that order, leaving out prompts of the suite's
    greatest length (never padded, they say nothing about padding), and generates them again as
    extra rows of the same evaluation (`generate.plan_batches`): those shorter than the first
    batch's rows ride in the first batch, padded up to the suite's longest prompt; the others ride
    in the last batch, among the shortest prompts. Each sampled row thus meets another amount of
    padding than in its first generation (more or less), other companions and another batch, and
    its two outputs must be equal. Whatever makes an output depend on its batching changes between
    the two: attended padding (a wrong attention mask), position ids that do not skip padding, right
    padding of a decoder-only model, rows leaking into each other, arithmetic that depends on the
    batch's shape.

    The earlier check regenerated the sample one example at a time, against no padding at all: with
    batches sorted by tokens many sampled rows had no padding in evaluation either, and compared
    like with like. Here every sampled row is compared against a different padding. And where k
    single-row generations cost k full decoding loops at the least efficient batch size, k extra
    rows in batches that run anyway cost a few percent of an evaluation (see the README for the
    measured cost).
    """
    order = length_order(lengths)
    longest = lengths[order[0]] if order else 0
    candidates = [i for i in order if lengths[i] < longest] or order
    n = len(candidates)
    if n <= k:
        return sorted(candidates)
    return sorted({candidates[round(j * (n - 1) / (k - 1))] for j in range(k)} if k > 1 else {candidates[0]})


def as_trained(suite: Suite, examples: Sequence[Example], model_inputs: Sequence[str],
               outputs: Sequence[str]) -> dict[str, dict[str, str]]:
    """The reload check's record of a model as trained: per `suite/id` of `examples`, its output and the key of
    what decided it. A tuned artefact restored from the cache brings this along, and a suite edited since then
    (another prompt, example or generation setting) must not be compared against it."""
    gen = suite.spec.generation
    return {f"{suite.name}/{ex.id}": {"output": out, "key": reload_check_key(inp, gen.max_new_tokens, gen.stop)}
            for ex, inp, out in zip(examples, model_inputs, outputs)}


def compare_reloaded(expected: dict[str, Any], rows: dict[str, tuple[str, str]], restored: bool) -> OutputsMatch:
    """The reloaded model's outputs (`rows`: `suite/id` → (generation key, output)) against the model as trained.

    Only examples generated from the same input under the same settings are compared. Earlier versions kept
    bare outputs, without their key: those are compared for a model trained in this run (its suites are the
    run's), never for one `restored` from the tuning cache (trained for suites that may have changed since)."""
    mismatches, checked = [], 0
    for name, then in expected.items():
        now = rows.get(name)
        output, key = (then, None) if isinstance(then, str) else (then.get("output"), then.get("key"))
        if now is None or (key is None and restored) or (key is not None and key != now[0]):
            continue
        checked += 1
        if now[1] != output:
            mismatches.append(name)
    if not checked:
        return OutputsMatch(checked=0, ok=None, note="no sampled example is generated as it was when the model "
                                                     "was trained (its prompt or generation settings changed)")
    skipped = len(expected) - checked
    note = f"{skipped} sampled examples changed since the model was trained and were not compared" if skipped else ""
    return OutputsMatch(checked=checked, mismatches=sorted(mismatches), ok=not mismatches, note=note)


def first_turn(row: Prediction) -> str:
    """The output the reload check compares: an episode's first model turn (the sample of the model as trained
    generates from each task's opening only), else the output."""
    return next((t.content for t in row.transcript if t.role == "assistant"), row.output)


def compare_outputs(expected: dict[str, str], got: dict[str, str]) -> OutputsMatch:
    """Outputs for the same ids; `mismatches` lists the ids that differ."""
    mismatches = sorted(i for i in expected if got.get(i) != expected[i])
    return OutputsMatch(checked=len(expected), mismatches=mismatches, ok=not mismatches)


def with_episode_suites(match: OutputsMatch, episodic: Sequence[str]) -> OutputsMatch:
    """The batch-invariance check, saying which suites it left out: an episode's turns are not generated a
    second time in another batching (the episode loop's own tests compare batched and one-at-a-time
    transcripts). With nothing else to compare, the check did not run."""
    if not episodic:
        return match
    note = f"episode suites not checked (their turns are not regenerated): {', '.join(episodic)}"
    return match.model_copy(update={"note": note, **({"ok": None} if not match.checked else {})})


def model_changed(base_rows: list[Prediction], state_rows: list[Prediction]) -> tuple[int, int]:
    """(examples whose output differs from base, examples compared). An episode's output is its whole transcript:
    two episodes may end in the same final answer (or none) by different turns."""
    base = {r.id: _what_was_said(r) for r in base_rows}
    differ = sum(1 for r in state_rows if r.id in base and _what_was_said(r) != base[r.id])
    return differ, sum(1 for r in state_rows if r.id in base)


def _what_was_said(row: Prediction) -> str | list[str]:
    return [t.content for t in row.transcript] if row.transcript else row.output
