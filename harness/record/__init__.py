"""The typed records that cross room borders: run.json, its prediction rows, and what they describe.

Reports, gates, rating sheets and CI read only these; every field is documented on its class.
`SCHEMA_VERSION` changes whenever a field changes meaning, and `load_record` reads earlier versions.
"""
from .outcome import (
                      BackendRun,
                      Checks,
                      Comparison,
                      Contamination,
                      Cost,
                      Environment,
                      GateOutcome,
                      ModelChanged,
                      OutputsMatch,
                      Prediction,
                      Result,
    VariantResult,
)
from .run_record import (
                      BASE,
                      RUN_FILE,
                      SCHEMA_VERSION,
                      RunRecord,
                      load_predictions,
                      load_record,
                      predictions_path,
                      save_predictions,
                      save_record,
)
from .spec import DEFAULT_RUBRIC, Criterion, GateSpec, MetricInfo, MetricKind, Record, Rubric, SuiteInfo

__all__ = [
    "BASE", "DEFAULT_RUBRIC", "RUN_FILE", "SCHEMA_VERSION", "BackendRun", "Checks", "Comparison", "Contamination",
    "Cost", "Criterion", "Environment", "GateOutcome", "GateSpec", "MetricInfo", "MetricKind", "ModelChanged",
    "OutputsMatch", "Prediction", "Record", "Result", "Rubric", "RunRecord", "SuiteInfo", "load_predictions",
    "VariantResult", "load_record", "predictions_path", "save_predictions", "save_record",
]
