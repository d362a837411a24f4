"""A judge model's verdicts on a suite (`verdicts`) and their calibration against the human raters
(`calibration`), recorded in `run.json` under `judging`."""
from .calibration import BiasProbes, CriterionCalibration, Disagreement, JudgeCalibration, StateScores
from .verdicts import CriterionScores, JudgeCost, JudgeRepeatability, JudgeResult, JudgeVerdict

__all__ = ["BiasProbes", "CriterionCalibration", "CriterionScores", "Disagreement", "JudgeCalibration", "JudgeCost",
           "JudgeRepeatability", "JudgeResult", "JudgeVerdict", "StateScores"]
