"""The record's reference documentation, generated from the models' own field docstrings.

`python -m harness.record.docs > docs/record.md` rewrites it; a test keeps the file in step with the code.
"""
from __future__ import annotations

import types
import typing

from pydantic import BaseModel

from harness.record import (
    Advice,
    Attention,
    BackendRun,
    BiasProbes,
    CacheUse,
    CalibrationRule,
    Checks,
    Comparison,
    Contamination,
    Cost,
    Criterion,
    CriterionCalibration,
    CriterionScores,
    DataReport,
    Disagreement,
    Environment,
    EpisodeTurn,
    Explanation,
    ExplanationsInfo,
    FailureKinds,
    Finding,
    GateOutcome,
    GateSpec,
    Histogram,
    JudgeCalibration,
    JudgeCost,
    JudgeRepeatability,
    JudgeResult,
    JudgeVerdict,
    LabelResult,
    Lengths,
    MetricInfo,
    ModelChanged,
    NextTokens,
    OutputsMatch,
    Overlap,
    Prediction,
    PreferencePairs,
    RatersPerItem,
    RatingAgreement,
    RatingAgreements,
    RatingDifference,
    RatingImport,
    RatingMean,
    RatingMethod,
    RatingPreference,
    Ratings,
    Result,
    RewardCheck,
    RewardProbe,
    Rubric,
    RunRecord,
    SeedComparison,
    SeedSpread,
    SplitData,
    StartedFrom,
    StateScores,
    SuiteCode,
    SuiteData,
    SuiteInfo,
    Truncation,
    TunedFromCache,
    VariantResult,
)

from .run_record import SCHEMA_VERSION

ORDER: list[type[BaseModel]] = [
    RunRecord, SuiteInfo, SuiteCode, MetricInfo, GateSpec, Rubric, Criterion, CalibrationRule, Environment, BackendRun,
    Cost, TunedFromCache, StartedFrom, PreferencePairs, Result, Comparison, LabelResult, FailureKinds, Checks,
    ModelChanged, OutputsMatch, Contamination, GateOutcome, Advice, RewardCheck, RewardProbe, SeedSpread,
    SeedComparison, CacheUse, DataReport, SuiteData, SplitData, Lengths, Histogram, Overlap, Truncation, Finding,
    ExplanationsInfo, Ratings, RatingImport, RatingMean, RatingDifference, RatingPreference, RatingAgreements,
    RatingAgreement, RatersPerItem, RatingMethod, JudgeResult, JudgeVerdict, JudgeCost, CriterionScores,
    JudgeRepeatability, JudgeCalibration, CriterionCalibration, StateScores, Disagreement, BiasProbes, Prediction,
    EpisodeTurn, VariantResult, Explanation, NextTokens, Attention,
]


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation)).replace("NoneType", "null")


def markdown() -> str:
    """Every record type with every field: its type, default and meaning."""
    out = [f"# The run record (schema version {SCHEMA_VERSION})", "",
           "Generated from `harness/record/` by `python -m harness.record.docs`; do not edit by hand.",
           "`run.json` is a `RunRecord`; each line of `predictions/<state>/<suite>.jsonl` is a `Prediction`, and each",
           "line of `explanations/<state>/<suite>.jsonl` an `Explanation`.", ""]
    for model in ORDER:
        doc = " ".join((model.__doc__ or "").split())
        out += [f"## {model.__name__}", "", doc, "", "| field | type | default | meaning |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            value = None if field.is_required() else field.get_default(call_default_factory=True)
            default = ("required" if field.is_required() else
                       f"the default {type(value).__name__}" if isinstance(value, BaseModel) else f"`{value!r}`")
            meaning = " ".join((field.description or "").split()).replace("|", "\\|")
            out.append(f"| `{name}` | {_type_name(field.annotation)} | {default} | {meaning} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown(), end="")
