"""Evaluation of one model on one suite: generate, score each example, aggregate."""
from __future__ import annotations

from tqdm.auto import tqdm

from .compare import value_interval
from .metrics import make_metric
from .models import Model
from .record import Result
from .suite import Suite


def suite_metrics(suite: Suite) -> dict:
    return {spec.name: make_metric(spec.name, suite.spec.language, spec.options) for spec in suite.spec.metrics}


def generate_for(model: Model, suite: Suite, examples, batch_size: int = 32, progress=None) -> list[str]:
    """Outputs for some of the suite's examples under its generation settings."""
    gen = suite.spec.generation
    inputs = [model.render(ex.messages) for ex in examples]
    return model.generate(inputs, gen.max_new_tokens, gen.stop, batch_size, progress)


def evaluate_suite(model: Model, suite: Suite, state: str, batch_size: int = 32,
                   seed: int = 0) -> tuple[list[dict], list[Result]]:
    """Prediction rows and aggregate results for `state` on the suite's test split."""
    with tqdm(total=len(suite.test), desc=f"{state:>6} · {suite.name}", unit="ex", leave=True) as bar:
        outputs = generate_for(model, suite, suite.test, batch_size, bar)
    metrics = suite_metrics(suite)
    rows = []
    for ex, output in zip(suite.test, outputs):
        scores = {name: m.score(output, ex.reference) for name, m in metrics.items()}
        rows.append({
            "id": ex.id, "state": state, "suite": suite.name,
            "prompt": ex.messages[-1]["content"], "model_input": model.render(ex.messages),
            "reference": ex.reference, "output": output,
            "scores": {k: s.value for k, s in scores.items()},
            "reasons": {k: s.reason for k, s in scores.items() if s.reason},
        })
    return rows, aggregate(suite.name, metrics, state, rows, seed)


def aggregate(suite: str, metrics: dict, state: str, rows: list[dict], seed: int = 0) -> list[Result]:
    """Each metric's value with its 95% interval (Wilson, or a seeded bootstrap for corpus metrics)."""
    outputs, references = [r["output"] for r in rows], [r["reference"] for r in rows]
    results = []
    for name, m in metrics.items():
        low, high, method = value_interval(m, rows, name, seed)
        results.append(Result(state=state, suite=suite, metric=name, n=len(rows), ci_low=low, ci_high=high,
                              ci_method=method, value=m.aggregate(outputs, references, [r["scores"][name] for r in rows])))
    return results
