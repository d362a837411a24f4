"""Evaluation of one model on one suite: generate, score each example, aggregate."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any, Sequence

from harness.cache import Store
from harness.cache.keys import EVALUATIONS, SCORES, evaluation_key, score_keys
from harness.common.progress import progress_bar
from harness.episodes.loop import model_turns, run_episodes
from harness.episodes.metrics import episode_rows
from harness.metrics import Metric, Score
from harness.models.loading import Model
from harness.record import BASE, Prediction, Result
from harness.runtime import distributed
from harness.stats.compare import value_interval
from harness.suitedef.formats import with_shots
from harness.suitedef.suite import Example, Suite, applies


def generate_for(model: Model, suite: Suite, examples: list[Example], batch_size: int | None = 32,
                 progress=None, again: Sequence[Example] = ()) -> list[str]:
    """Outputs for some of the suite's examples under its generation settings, then for `again` (generated a
    second time, for the batch-invariance check); batch size None chooses it (`harness.batch_size`) when
    something must be generated."""
    gen = suite.spec.generation
    inputs = [model.render(ex.messages, ex.tools) for ex in examples]
    return model.generate(inputs, gen.max_new_tokens, gen.stop, batch_size, progress,
                          [model.render(ex.messages, ex.tools) for ex in again])


def generate_test(model: Model, suite: Suite, state: str, batch_size: int | None = None,
                  examples: list[Example] | None = None, again: Sequence[int] = ()) -> tuple[list[str], list[str]]:
    """Outputs for every test example (or every one of `examples`), and a second output for each index in
    `again` (the batch-invariance check). With several processes each generates its share (every
    world-size-th example) and every process receives all outputs, in order; the second outputs come from
    the process that asked for them."""
    examples = suite.test if examples is None else examples
    mine = [examples[i] for i in distributed.share(len(examples))]
    with _bar(state, suite, len(mine), "ex") as bar:
        outputs = generate_for(model, suite, mine, batch_size, bar, [examples[i] for i in again])
    return distributed.unshare(len(examples), outputs[:len(mine)]), outputs[len(mine):]


def _bar(state: str, suite: Suite, total: int, unit: str):
    """The progress bar of one state's evaluation of one suite, drawn by the main process."""
    return progress_bar(total=total, desc=f"{state:>6} · {suite.name}", unit=unit, leave=True,
                        disable=not distributed.is_main())


def evaluate_suite(model: Model, suite: Suite, state: str, batch_size: int | None = None, seed: int = 0,
                   examples: list[Example] | None = None) -> tuple[list[Prediction], list[Result]]:
    """Prediction rows and aggregate results for `state` on the suite's test split (or on `examples`:
    the test split under another prompt variant, or with few-shot prompts)."""
    examples = suite.test if examples is None else examples
    if suite.environment is not None:
        rows = run_episode_suite(model, suite, state, batch_size, examples)
        return rows, aggregate(suite, state, rows, seed)
    outputs, _ = generate_test(model, suite, state, batch_size, examples)
    rows = score(suite, state, examples, [model.render(ex.messages, ex.tools) for ex in examples], outputs)
    return rows, aggregate(suite, state, rows, seed)


def run_episode_suite(model: Model, suite: Suite, state: str, batch_size: int | None = None,
                      examples: list[Example] | None = None) -> list[Prediction]:
    """An episode suite's prediction rows: every task's episode run to its end (each round one batched, cached
    generation over the episodes still running), scored by the suite's episode metrics. One process runs
    them all: episodes are not split across processes."""
    env, gen = suite.environment, suite.spec.generation
    examples = suite.test if examples is None else examples
    turns = model_turns(model, env, gen.max_new_tokens, gen.stop, batch_size)
    with _bar(state, suite, len(examples), "episode") as bar:
        episodes = run_episodes(turns, env, [ex.task for ex in examples], bar)
    rows = episode_rows(suite.name, state, episodes, lambda messages: model.render(messages, env.schemas()))
    for row, ex in zip(rows, examples):  # every episode metric is computed; the suite's list (and `when:`) decide
        kept = {k for k in row.scores if k in suite.metrics and applies(suite.metrics[k][1], ex)}
        row.scores = {k: v for k, v in row.scores.items() if k in kept}
        row.reasons = {k: v for k, v in row.reasons.items() if k in kept}
    return rows


def prompts_for(suite: Suite, state: str, seed: int) -> list[list[Example]]:
    """The test examples under each prompt variant (the primary first), as `state` sees them: the base
    model gets the suite's few-shot examples when it names any."""
    variants = [suite.test, *suite.variants]
    shots = suite.spec.fewshot
    if state != BASE or shots is None:
        return variants
    return [[with_shots(ex, suite.train, shots.n, shots.seed + seed) for ex in v] for v in variants]


def score(suite: Suite, state: str, examples: list[Example], model_inputs: list[str],
          outputs: list[str], store: Store | None = None) -> list[Prediction]:
    """One prediction row per example, scored by every metric that applies to it. The scores of costly metrics
    (`Metric.cached`: those that run the output's code) are read from `store` where it has them, and the ones
    computed are put there (unless more than the inputs decided them)."""
    return _scored(suite, state, examples, model_inputs, outputs, store)[0]


def _scored(suite: Suite, state: str, examples: list[Example], model_inputs: list[str], outputs: list[str],
            store: Store | None) -> tuple[list[Prediction], bool]:
    """`score`'s rows, and whether the inputs alone decided every score (see `Score.repeatable`)."""
    repeatable = True
    asked = [[(name, {f: ex.fields[f] for f in metric.reads}) for name, (metric, info) in suite.metrics.items()
              if applies(info, ex) and not metric.deferred]  # a judge metric is scored once every state is generated
             for ex in examples]
    keys = _score_keys(suite, examples, outputs, asked) if store is not None else {}
    found = store.get_many(SCORES, list(keys.values())) if store is not None else {}
    computed: list[tuple[str, dict]] = []
    rows = []
    for i, (ex, model_input, output, wants) in enumerate(zip(examples, model_inputs, outputs, asked)):
        scores: dict[str, float] = {}
        reasons: dict[str, str] = {}
        fields: dict[str, Any] = {}
        for name, wanted in wants:
            key = keys.get((i, name))
            if key in found:
                s = Score(found[key]["value"], found[key]["reason"])
            else:
                metric = suite.metrics[name][0]
                s = metric.score(output, ex.reference, _given(metric, ex, wanted))
                repeatable = repeatable and s.repeatable
                if key is not None and s.repeatable:
                    computed.append((key, {"value": s.value, "reason": s.reason}))
            scores[name] = s.value
            if s.reason:
                reasons[name] = s.reason
            fields |= wanted
        rows.append(_row(suite, state, ex, model_input, output, scores, reasons, fields))
    if store is not None:
        store.put_many(SCORES, computed)
    return rows, repeatable


def evaluate_outputs(suite: Suite, state: str, examples: list[Example], model_inputs: list[str], outputs: list[str],
                     seed: int = 0, store: Store | None = None) -> tuple[list[Prediction], list[Result]]:
    """`score`, then `aggregate`. With a `store`, both are read from it whole when these outputs of these examples
    were scored before by the same metrics and code (with this seed for the intervals), and stored when they were
    not (nor when a score depended on more than the inputs); a suite whose metrics include its own `evaluate:`
    code is always scored afresh."""
    key = None
    if store is not None and not any(info.source.startswith("evaluate:") for _, info in suite.metrics.values()):
        key = evaluation_key(list(suite.metrics.values()), suite.name, state, seed, [_identity(ex) for ex in examples],
                             model_inputs, outputs)
        found = store.get(EVALUATIONS, key)
        if found is not None:
            rows = [_row(suite, state, ex, model_input, output, *scored)
                    for ex, model_input, output, scored in zip(examples, model_inputs, outputs, found["rows"])]
            return rows, [Result.model_validate(r) for r in found["results"]]
    rows, repeatable = _scored(suite, state, examples, model_inputs, outputs, store)
    results = aggregate(suite, state, rows, seed)
    if store is not None and key is not None and repeatable:
        store.put(EVALUATIONS, key, {"rows": [[r.scores, r.reasons, r.fields] for r in rows],
                                     "results": [r.model_dump() for r in results]})
    return rows, results


def _identity(ex: Example) -> dict[str, Any]:
    """The example as evaluation keys know it: an episode suite's `task` (never scored here) is left out, so the keys
    of other suites' evaluations stay what they were."""
    return {k: v for k, v in asdict(ex).items() if k != "task"}


def _row(suite: Suite, state: str, ex: Example, model_input: str, output: str, scores: dict[str, float],
         reasons: dict[str, str], fields: dict[str, Any]) -> Prediction:
    return Prediction(id=ex.id, state=state, suite=suite.name, prompt=ex.messages[-1]["content"],
                      model_input=model_input, reference=ex.reference, output=output, scores=scores,
                      reasons=reasons, fields=fields, fewshot=list(ex.shots))


def _score_keys(suite: Suite, examples: list[Example], outputs: list[str],
                asked: list[list[tuple[str, dict]]]) -> dict[tuple[int, str], str]:
    """(example index, metric name) → the cache key of that score, for the metrics whose scores are cached."""
    keys: dict[tuple[int, str], str] = {}
    for name, (metric, info) in suite.metrics.items():
        if not metric.cached:
            continue
        mine = [(i, wanted) for i, wants in enumerate(asked) for n, wanted in wants if n == name]
        made = score_keys(metric, info.options, [(outputs[i], examples[i].reference,
                                                  _given(metric, examples[i], wanted)) for i, wanted in mine])
        keys |= {(i, name): key for (i, _), key in zip(mine, made)}
    return keys


def _given(metric: Metric, ex: Example, wanted: dict[str, Any]) -> dict[str, Any]:
    """What `metric.score` gets besides output and reference: the fields it reads (and the last user turn)."""
    return {**wanted, **({"prompt": ex.messages[-1]["content"]} if metric.reads_prompt else {})}


def aggregate(suite: Suite, state: str, rows: list[Prediction], seed: int = 0) -> list[Result]:
    """Each metric's value with its 95% interval, over the examples it scored."""
    results = []
    for name, (metric, _) in suite.metrics.items():
        scored = [r for r in rows if name in r.scores]
        if not scored:
            continue
        value = metric.aggregate([r.output for r in scored], [r.reference for r in scored],
                                 [r.scores[name] for r in scored])
        low, high, method = value_interval(metric, scored, name, seed)
        results.append(Result(state=state, suite=suite.name, metric=name, n=len(scored), value=value, ci_low=low,
                              ci_high=high, ci_method=method))
    return results
