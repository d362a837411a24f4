"""A judge model's verdicts on a suite (`verdicts`) and their calibration against the human raters
(`calibration`), recorded in `run.json` under `judging`."""
from .calibration import BiasProbes, CriterionCalibration, Disagreement, JudgeCalibration, StateScores
from .verdicts import JudgeCost, JudgeResult, JudgeVerdict

__all__ = ["BiasProbes", "CriterionCalibration", "Disagreement", "JudgeCalibration", "JudgeCost", "JudgeResult",
           "JudgeVerdict", "StateScores"]
