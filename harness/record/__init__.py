"""The typed records that cross room borders: run.json, its prediction rows, and what they describe.

Reports, gates, rating sheets and CI read only these; every field is documented on its class.
`SCHEMA_VERSION` changes whenever a field changes meaning, and `load_record` reads earlier versions.
"""
from typing import TYPE_CHECKING

from harness.common.lazy import lazy_exports

if TYPE_CHECKING:  # the types, for the type checker; at run time each name's module loads when it is first used
    from .data import DataReport, Finding, Histogram, Lengths, Overlap, SplitData, SuiteData, Truncation
    from .explain import (
        Attention,
        Explanation,
        ExplanationsInfo,
        NextTokens,
        explanations_path,
        load_explanations,
        save_explanations,
    )
    from .judging import (
        BiasProbes,
        CriterionCalibration,
        CriterionScores,
        Disagreement,
        JudgeCalibration,
        JudgeCost,
        JudgeRepeatability,
        JudgeResult,
        JudgeVerdict,
        StateScores,
    )
    from .outcome import (
        Checks,
        Comparison,
        Contamination,
        EpisodeTurn,
        FailureKinds,
        GateOutcome,
        LabelResult,
        ModelChanged,
        OutputsMatch,
        Prediction,
        Result,
        VariantResult,
        change_letter,
    )
    from .ratings import (
        RATING_OUTCOMES,
        RATING_SCORES,
        RatersPerItem,
        RatingAgreement,
        RatingAgreements,
        RatingDifference,
        RatingImport,
        RatingMean,
        RatingMethod,
        RatingPreference,
        Ratings,
        load_ratings,
        ratings_path,
    )
    from .run_record import (
        BASE,
        RUN_FILE,
        SCHEMA_VERSION,
        Advice,
        RunRecord,
        Sequential,
        load_predictions,
        load_record,
        predictions_path,
        save_predictions,
        save_record,
    )
    from .spec import (
        DATA_GATES,
        DEFAULT_RUBRIC,
        CalibrationRule,
        Criterion,
        GateSpec,
        MetricInfo,
        MetricKind,
        Record,
        Rubric,
        SuiteCode,
        SuiteInfo,
    )
    from .training import (
        BackendRun,
        CacheUse,
        Cost,
        Environment,
        PreferencePairs,
        RewardCheck,
        RewardProbe,
        SeedComparison,
        SeedSpread,
        StartedFrom,
        TunedFromCache,
    )
else:
    __getattr__, __dir__ = lazy_exports(__name__, {
    "data": ["DataReport", "Finding", "Histogram", "Lengths", "Overlap", "SplitData", "SuiteData", "Truncation"],
    "explain": ["Attention", "Explanation", "ExplanationsInfo", "NextTokens", "explanations_path",
                "load_explanations", "save_explanations"],
    "judging": ["BiasProbes", "CriterionCalibration", "CriterionScores", "Disagreement", "JudgeCalibration",
                "JudgeCost", "JudgeRepeatability", "JudgeResult", "JudgeVerdict", "StateScores"],
    "outcome": ["Checks", "Comparison", "Contamination", "EpisodeTurn", "FailureKinds", "GateOutcome",
                "LabelResult", "ModelChanged", "OutputsMatch", "Prediction", "Result", "VariantResult",
                "change_letter"],
    "ratings": ["RATING_OUTCOMES", "RATING_SCORES", "RatersPerItem", "RatingAgreement", "RatingAgreements",
                "RatingDifference", "RatingImport", "RatingMean", "RatingMethod", "RatingPreference", "Ratings",
                "load_ratings", "ratings_path"],
    "run_record": ["BASE", "RUN_FILE", "SCHEMA_VERSION", "Advice", "RunRecord", "Sequential", "load_predictions",
                   "load_record", "predictions_path", "save_predictions", "save_record"],
    "spec": ["DATA_GATES", "DEFAULT_RUBRIC", "CalibrationRule", "Criterion", "GateSpec", "MetricInfo", "MetricKind",
             "Record", "Rubric", "SuiteCode", "SuiteInfo"],
    "training": ["BackendRun", "CacheUse", "Cost", "Environment", "PreferencePairs", "RewardCheck",
                 "RewardProbe", "SeedComparison", "SeedSpread", "StartedFrom", "TunedFromCache"],
    })

__all__ = [
    "BASE", "DATA_GATES", "DEFAULT_RUBRIC", "RATING_OUTCOMES", "RATING_SCORES", "RUN_FILE", "SCHEMA_VERSION", "Advice",
    "Attention", "BackendRun", "BiasProbes", "CacheUse", "CalibrationRule", "Checks", "Comparison", "Contamination",
    "Cost", "Criterion", "CriterionCalibration", "CriterionScores", "DataReport", "Disagreement", "Environment",
    "EpisodeTurn", "Explanation", "ExplanationsInfo", "FailureKinds", "Finding", "GateOutcome", "GateSpec", "Histogram",
    "JudgeCalibration", "JudgeCost", "JudgeRepeatability", "JudgeResult", "JudgeVerdict", "LabelResult", "Lengths",
    "MetricInfo", "MetricKind", "ModelChanged", "NextTokens", "OutputsMatch", "Overlap", "Prediction",
    "PreferencePairs", "RatersPerItem", "RatingAgreement", "RatingAgreements", "RatingDifference", "RatingImport",
    "RatingMean", "RatingMethod", "RatingPreference", "Ratings", "Record", "Result", "RewardCheck", "RewardProbe",
    "Rubric", "RunRecord", "SeedComparison", "SeedSpread", "Sequential", "SplitData", "StartedFrom", "StateScores",
    "SuiteCode", "SuiteData", "SuiteInfo", "Truncation", "TunedFromCache", "VariantResult", "change_letter",
    "explanations_path", "load_explanations", "load_predictions", "load_ratings", "load_record", "predictions_path",
    "ratings_path", "save_explanations", "save_predictions", "save_record",
]
