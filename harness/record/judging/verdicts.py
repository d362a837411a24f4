"""What a judge model said: one verdict per judged item and criterion, and what judging cost.

A judge metric scores a suite's outputs by prompting a judge model with the suite's rubric; its
answers are recorded here per suite and metric (`RunRecord.judging`), so that calibration against
the human ratings, the gates and the report read them without the judge.
"""
from __future__ import annotations

from typing import Literal

from .calibration import Frozen, JudgeCalibration


class JudgeVerdict(Frozen):
    """One judge answer for one item (example × state) and criterion."""

    example_id: str
    """The example judged."""
    state: str
    """The model state whose output was judged (`base`, `lora`, …; pairwise: the tuned state)."""
    criterion: str
    """The rubric criterion; `overall` for pairwise verdicts."""
    score: float | None
    """1–5 pointwise; pairwise 1 = the tuned state wins, 0.5 tie, 0 loss; None: the answer was unparsable."""
    reason: str
    """The judge's one-sentence reason, or why its answer could not be parsed."""
    samples: list[float | None] = []
    """Every one of the K scores when `judge_samples` > 1 (`score` is their median)."""
    swapped: bool | None = None
    """Pairwise only: whether the verdict with the two outputs' positions swapped agreed."""


class JudgeCost(Frozen):
    """What judging one suite with one judge metric cost."""

    calls: int
    """Judge calls made (cached ones included)."""
    prompt_tokens: int
    """Prompt tokens sent."""
    completion_tokens: int
    """Tokens the judge generated."""
    seconds: float
    """Wall-clock seconds spent judging."""
    cached_calls: int
    """Calls answered from the cache."""


class JudgeResult(Frozen):
    """One judge metric's verdicts on one suite, in the run record."""

    metric: str
    """The judge metric's name in the suite."""
    judge_model: str
    """The judge model as named (a model the harness loads, or `model@base_url` of an endpoint)."""
    judge_fingerprint: str
    """The judge model's fingerprint (what its cached calls are keyed by)."""
    template_version: str
    """The judge prompt template's version (its hash)."""
    mode: Literal["pointwise", "pairwise"]
    """`pointwise`: a 1–5 score per criterion; `pairwise`: tuned against base, positions swapped."""
    samples: int
    """Judge answers per item (`judge_samples`; 1: greedy)."""
    verdicts: list[JudgeVerdict]
    """Every verdict."""
    cost: JudgeCost
    """What judging cost."""
    calibration: JudgeCalibration | None = None
    """The judge measured against the run's human raters (None: not computed, e.g. before any rating)."""
