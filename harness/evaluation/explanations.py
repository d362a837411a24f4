"""Which examples a run explains, and when.

Each tuned state explains, while its model is loaded for evaluation anyway, the examples whose pass/fail
flipped against base (at most `CAP` per suite; suites without a pass/fail metric: whose score on their
first metric changed) plus a seeded sample of `SAMPLE` test examples, the same in every state. Base is
explained last, on the union of those examples, by loading it once more: only then are every state's
outputs known, so its top next tokens are recorded where any state left the reference. (Explaining
every test example while base is loaded at the start would cost a forward pass per example instead of
one per explained example plus a reload; see the README for the measurement.) With several processes
the main one chooses the examples and every process explains a share of them, as in generation.
"""
from __future__ import annotations

import random
import time
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cache.keys import EXPLANATIONS, explanation_keys
from harness.models.explain import Item, attention_note, explain
from harness.models.loading import Model
from harness.record import (
    BASE,
    Explanation,
    ExplanationsInfo,
    MetricInfo,
    Prediction,
    RunRecord,
    change_letter,
    load_explanations,
    load_predictions,
    save_explanations,
)
from harness.runtime import distributed
from harness.suitedef.suite import Suite

if TYPE_CHECKING:  # explaining imports torch; planning or gating a run must not
    from harness.models.explain import Item

CAP = 200
"""Flipped examples explained per tuned state and suite, at most."""
SAMPLE = 20
"""Examples added per suite by a seeded draw, flipped or not."""
NOT_EXPOSED = "not shown: the model returned no attentions (it cannot switch to eager attention)"


def judge(suite: Suite) -> MetricInfo | None:
    """The metric whose per-example change decides "flipped": the first pass/fail metric, else the first."""
    infos = [info for _, info in suite.metrics.values()]
    return next((i for i in infos if i.kind == "passfail"), infos[0] if infos else None)


def chosen(suite: Suite, base_rows: list[Prediction], rows: list[Prediction], seed: int) -> tuple[list[str], list[str]]:
    """(ids to explain in test order, the flipped ones among them): flipped examples up to `CAP`, plus the
    seeded sample."""
    metric = judge(suite)
    base = {r.id: r for r in base_rows}
    flipped = [r.id for r in rows if change_letter(base.get(r.id), r, metric) in ("I", "R")][:CAP]
    order = [r.id for r in base_rows]
    sample = random.Random(f"{seed}:{suite.name}").sample(order, min(SAMPLE, len(order)))
    keep = set(flipped) | set(sample)
    return [i for i in order if i in keep], flipped


def _info(record: RunRecord) -> ExplanationsInfo:
    if record.explanations is None:
        record.explanations = ExplanationsInfo(cap=CAP, sample=SAMPLE)
    return record.explanations


def explain_state(model: Model, state: str, suite: Suite, run_dir: Path, record: RunRecord, seed: int) -> None:
    """Explain a tuned state's flipped and sampled examples of one suite and save them beside its predictions.
    Every process calls it: the main one chooses the examples, each explains a share."""
    items = _state_items(model, state, suite, run_dir, record, seed) if distributed.is_main() else None
    _run(model, distributed.broadcast(items), state, suite, run_dir, record)


def _state_items(model: Model, state: str, suite: Suite, run_dir: Path, record: RunRecord, seed: int) -> list[Item]:
    base_rows = load_predictions(run_dir, BASE, suite.name)
    rows = {r.id: r for r in load_predictions(run_dir, state, suite.name)}
    ids, flipped = chosen(suite, base_rows, list(rows.values()), seed)
    info = _info(record)
    if suite.name not in info.attention:  # one example per suite, the same in every state
        note = attention_note(model)
        info.attention[suite.name] = note or (flipped[0] if flipped else ids[0] if ids else "not shown: no example")
    base = {r.id: r for r in base_rows}
    return [Item(id=i, prompt=rows[i].model_input, reference=rows[i].reference, output=rows[i].output,
                 other_outputs=[base[i].output], attention=info.attention[suite.name] == i)
            for i in ids if i in rows and i in base]


def pending_base(record: RunRecord, run_dir: Path, suites: list[Suite]) -> list[Suite]:
    """Suites whose tuned states have explanations that base has not."""
    tuned = [b.name for b in record.backends]
    return [s for s in suites if any(load_explanations(run_dir, t, s.name) for t in tuned)
            and not load_explanations(run_dir, BASE, s.name)]


def explain_base(model: Model, run_dir: Path, record: RunRecord, suites: list[Suite],
                 load_seconds: float = 0.0) -> None:
    """Explain base on every example a tuned state explained, noting where each state left the reference.
    `load_seconds`: what loading base again took, counted in its explaining time. Every process calls it
    (with the same `suites`): the main one gathers the examples, each explains a share."""
    main = distributed.is_main()
    if main:
        info = _info(record)
        info.seconds[BASE] = round(info.seconds.get(BASE, 0.0) + load_seconds, 2)
    for suite in suites:
        items = _base_items(run_dir, record, suite) if main else None
        _run(model, distributed.broadcast(items), BASE, suite, run_dir, record)


def _base_items(run_dir: Path, record: RunRecord, suite: Suite) -> list[Item]:
    tuned = [b.name for b in record.backends]
    explained = {e.id for t in tuned for e in load_explanations(run_dir, t, suite.name)}
    outputs = {t: {r.id: r.output for r in load_predictions(run_dir, t, suite.name)} for t in tuned}
    attention = _info(record).attention.get(suite.name)
    return [Item(id=r.id, prompt=r.model_input, reference=r.reference, output=r.output,
                 other_outputs=[outputs[t][r.id] for t in tuned if r.id in outputs[t]], attention=attention == r.id)
            for r in load_predictions(run_dir, BASE, suite.name) if r.id in explained]


def _explained(model: Model, items: list[Item], state: str, suite: str) -> list[Explanation]:
    """`explain`, through the model's generation cache when it has one: a repeated run explains from the
    cache without loading the weights."""
    if model.cache is None:
        return explain(model, items, state, suite)

    def compute(indices: list[int]) -> list[dict]:
        return [e.model_dump(mode="json") for e in explain(model, [items[i] for i in indices], state, suite)]

    values = model.cache.values(EXPLANATIONS, explanation_keys(model.cache.model_key, items), compute)
    # The cached value is about the example, not where it was first explained: this run names it.
    return [Explanation.model_validate({**v, "id": it.id, "state": state, "suite": suite})
            for v, it in zip(values, items)]


def _run(model: Model, items: list[Item], state: str, suite: Suite, run_dir: Path, record: RunRecord) -> None:
    """Explain `items`, each process its share, and on the main process save them and note the cost."""
    start = time.perf_counter()
    mine = [items[i] for i in distributed.share(len(items))]
    rows = distributed.unshare(len(items), _explained(model, mine, state, suite.name))
    if not distributed.is_main():
        return
    info = _info(record)
    save_explanations(run_dir, state, suite.name, rows)
    info.counts.setdefault(state, {})[suite.name] = len(rows)
    info.seconds[state] = round(info.seconds.get(state, 0.0) + time.perf_counter() - start, 2)
    wanted = info.attention.get(suite.name)
    if any(it.attention and it.output.strip() for it in items) and not any(r.attention for r in rows
                                                                          if r.id == wanted):
        info.attention[suite.name] = NOT_EXPOSED
