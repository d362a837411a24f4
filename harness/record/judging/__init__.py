"""What a judge model said about a run's outputs: one verdict per item and criterion, the judge's identity
and what judging cost (the types are in `verdicts`; calibration against human raters fills
`JudgeResult.calibration`)."""
from .verdicts import JudgeCost, JudgeRepeatability, JudgeResult, JudgeVerdict

__all__ = ["JudgeCost", "JudgeRepeatability", "JudgeResult", "JudgeVerdict"]
