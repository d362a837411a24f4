"""Metrics by name: the built-in ones, plugins under the `harness.metrics` entry-point group, and
Hugging Face `evaluate` modules named in a suite (`- evaluate: NAME_OR_PATH`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from harness.common.plugins import entry_point_map, load_plugin
from harness.record import MetricInfo

from . import hf_evaluate
from .base import Metric, Score, metric
from .judge import JudgeMetric, JudgeSpec, PairwiseJudge, PointwiseJudge, make_judge

JUDGE_SOURCE = "judge"
"""`MetricInfo.source` of a judge metric (declared with a `judge:` block)."""

ENTRY_POINT_GROUP = "harness.metrics"
BUILTIN = {
    "exact_match": "harness.metrics.match:ExactMatch",
    "tool_name": "harness.metrics.tools:ToolName",
    "tool_arguments": "harness.metrics.tools:ToolArguments",
    "bleu": "harness.metrics.sacre:Bleu",
    "chrf": "harness.metrics.sacre:Chrf",
    "facts_present": "harness.metrics.facts:FactsPresent",
    "rouge_l": "harness.metrics.rouge:RougeL",
    "pass_at_1": "harness.metrics.code:PassAt1",
    "format": "harness.metrics.form:Format",
    "contains_answer": "harness.metrics.match:ContainsAnswer",
    # scored by the episode loop, a layer above, which registers them here as a plugin would
    "task_success": "harness.episodes.metrics:TaskSuccess",
    "calls_valid": "harness.episodes.metrics:CallsValid",
    "invalid_calls": "harness.episodes.metrics:InvalidCalls",
    "turns_used": "harness.episodes.metrics:TurnsUsed",
    "answer_facts": "harness.episodes.metrics:AnswerFacts",
}


def available() -> dict[str, str]:
    """Metric name → where it comes from (`module:attr`); a plugin cannot shadow a built-in name."""
    return entry_point_map(ENTRY_POINT_GROUP) | BUILTIN


def metric_class(name: str) -> type[Metric]:
    """The class registered as `name`; ValueError naming the known metrics when there is none."""
    return load_plugin(available(), name, Metric, "metric")


def make_metric(name: str, language: str, options: Mapping[str, Any]) -> Metric:
    """An instance of metric `name` with the suite's options; ValueError on unknown names or bad options."""
    cls = metric_class(name)
    try:
        return cls(language=language, **options)
    except TypeError:
        raise ValueError(f"metric {name!r}: bad options {sorted(options)}") from None


def source_of(name: str) -> str:
    """`builtin`, or the plugin's `module:attr`."""
    return "builtin" if name in BUILTIN else available()[name]


def judge_metric(name: str, spec: JudgeSpec, rubric, when: Mapping[str, Any] | None, language: str,
                 suite_dir: Path) -> tuple[JudgeMetric, MetricInfo]:
    """A suite's judge metric entry as (metric, what the record says about it); ValueError when not usable."""
    m = make_judge(name, spec, list(rubric.criteria), rubric.show_reference, language, suite_dir)
    options = {"judge": spec.model_dump(mode="json", exclude_defaults=True),
               "criteria": [c.name for c in m.criteria], "reference": m.show_reference,
               "template_version": m.template_version}
    return m, m.info(name, options, when, JUDGE_SOURCE)


def build(name: str | None, evaluate: str | None, options: Mapping[str, Any], when: Mapping[str, Any] | None,
          language: str, suite_dir: Path, load: bool = False,
          signed: bool = True) -> tuple[Metric, MetricInfo]:
    """A suite's metric entry as (scorer, what the record says about it); ValueError when it is not usable.
    An `evaluate` module is the suite's own code: it is loaded (run) only with `load`.
    Without `signed` the info has no signature, and the metric's library need not load."""
    if evaluate is not None:
        name, m = hf_evaluate.make(evaluate, language, suite_dir, options, load)
        return m, m.info(name, options, when, f"evaluate:{evaluate}", signed)
    assert name is not None
    m = make_metric(name, language, options)
    return m, m.info(name, options, when, source_of(name), signed)


__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "JUDGE_SOURCE", "JudgeMetric", "JudgeSpec", "Metric", "Score",
           "available", "build", "from_info", "make_metric", "judge_metric", "make_judge", "metric", "metric_class",
           "source_of"]


def from_info(info: MetricInfo, language: str, suite_dir: Path) -> Metric:
    """The scorer a recorded metric was made with, to score again (e.g. against a baseline run); an
    `evaluate` module is not loaded (scoring again with it is refused: reading a run runs no suite code). A judge
    metric comes back as the description of its recorded scores (comparing them needs no judge)."""
    if info.source == JUDGE_SOURCE:
        judge = JudgeSpec.model_validate(info.options["judge"])
        cls = PointwiseJudge if judge.mode == "pointwise" else PairwiseJudge
        return cls(judge, [], "", "recorded", bool(info.options.get("reference")), language)
    evaluate = info.source.removeprefix("evaluate:") if info.source.startswith("evaluate:") else None
    return build(None if evaluate else info.name, evaluate, info.options, info.when, language, suite_dir)[0]
