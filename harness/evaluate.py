"""Evaluation of one model on one suite: generate, score each example, aggregate."""
from __future__ import annotations

from tqdm.auto import tqdm

from .metrics import make_metric
from .models import Model
from .record import Result
from .suite import Suite


def suite_metrics(suite: Suite) -> dict:
    return {spec.name: make_metric(spec.name, suite.spec.language, spec.options) for spec in suite.spec.metrics}


def evaluate_suite(model: Model, suite: Suite, state: str, batch_size: int = 32) -> tuple[list[dict], list[Result]]:
    """Prediction rows and aggregate results for `state` on the suite's test split."""
    gen = suite.spec.generation
    inputs = [model.render(ex.messages) for ex in suite.test]
    with tqdm(total=len(inputs), desc=f"{state:>6} · {suite.name}", unit="ex", leave=True) as bar:
        outputs = model.generate(inputs, gen.max_new_tokens, gen.stop, batch_size, bar)
    metrics = suite_metrics(suite)
    rows = []
    for ex, model_input, output in zip(suite.test, inputs, outputs):
        scores = {name: m.score(output, ex.reference) for name, m in metrics.items()}
        rows.append({
            "id": ex.id, "state": state, "suite": suite.name,
            "prompt": ex.messages[-1]["content"], "model_input": model_input,
            "reference": ex.reference, "output": output,
            "scores": {k: s.value for k, s in scores.items()},
            "reasons": {k: s.reason for k, s in scores.items() if s.reason},
        })
    return rows, aggregate(suite, state, rows)


def aggregate(suite: Suite, state: str, rows: list[dict]) -> list[Result]:
    outputs, references = [r["output"] for r in rows], [r["reference"] for r in rows]
    return [
        Result(state=state, suite=suite.name, metric=name, n=len(rows),
               value=m.aggregate(outputs, references, [r["scores"][name] for r in rows]))
        for name, m in suite_metrics(suite).items()
    ]
