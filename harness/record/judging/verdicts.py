"""The judge's verdicts as the run record holds them, per suite and judge metric."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from .calibration import Frozen, JudgeCalibration


class JudgeVerdict(Frozen):
    """One judge answer for one item and criterion."""

    example_id: str
    """The test example judged."""
    state: str
    """The model state whose output was judged (`base`, `lora`, …); for pairwise, the tuned state set against
    base."""
    criterion: str
    """The rubric criterion scored; `overall` for pairwise."""
    score: float | None
    """Pointwise: 1 to 5 (the median of `samples` when the judge was asked several times). Pairwise: 1 when the
    tuned output wins in both orders, 0 when it loses in both, 0.5 for a tie or orders that disagree. None: the
    judge's answer could not be parsed (`reason` says why)."""
    reason: str
    """The judge's one-sentence reason, or why its answer could not be parsed."""
    samples: list[float | None] = []
    """Every sample's score when the judge was asked several times (`samples: K`); empty for one answer."""
    swapped: bool | None = None
    """Pairwise only: whether the verdict with the outputs' positions swapped agreed (None: pointwise, or an
    order whose answer could not be parsed)."""


class JudgeCost(Frozen):
    """What judging cost in this run."""

    calls: int = Field(ge=0)
    """Calls made to the judge (answers not found in the cache)."""
    prompt_tokens: int = Field(ge=0)
    """Prompt tokens of the calls made (as the endpoint reported them, or the local tokenizer counted)."""
    completion_tokens: int = Field(ge=0)
    """Answer tokens of the calls made."""
    seconds: float = Field(ge=0)
    """Wall-clock time spent judging, cache lookups included."""
    cached_calls: int = Field(ge=0)
    """Answers found in the harness cache instead of asked again."""


class JudgeRepeatability(Frozen):
    """With `samples: K` above 1: how much the judge's verdicts move between samples of the same question."""

    temperature: float
    """The sampling temperature the samples were drawn with."""
    seed: int
    """The seed of the first sample (sample k uses seed + k)."""
    mean_spread: float | None
    """Mean over verdicts of (highest − lowest) parsed sample score (None: no verdict had two parsed samples)."""
    changed: float | None
    """Share of verdicts whose parsed samples do not all agree (None: as above)."""
    verdicts: int
    """Verdicts with at least two parsed samples: what `mean_spread` and `changed` are over."""


class CriterionScores(Frozen):
    """The judge's mean score on one criterion for one state, over every item it scored (rated or not)."""

    criterion: str
    """The rubric criterion (`overall` for pairwise)."""
    state: str
    """The state whose outputs were judged (pairwise: the tuned state set against base)."""
    n: int
    """Items with a parsed score."""
    mean: float
    """Their mean score."""
    ci_low: float | None
    """Lower end of the 95% percentile bootstrap interval of the mean (seeded; None: one item)."""
    ci_high: float | None
    """Upper end of that interval."""


class JudgeResult(Frozen):
    """One judge metric on one suite: who judged, how, every verdict and the cost."""

    metric: str
    """The judge metric's name in the suite's results."""
    judge_model: str
    """The judge as the suite names it: a model the harness loads, or `model@base_url` for an endpoint."""
    judge_fingerprint: str
    """The judge's identity in the cache: the loaded model's content fingerprint, or a digest of the endpoint's
    URL and model name (an endpoint's weights cannot be seen)."""
    template_version: str
    """The judge prompt template's name and sha256 prefix (`pointwise@3f2a…`)."""
    mode: Literal["pointwise", "pairwise"]
    """Pointwise: a 1–5 score per criterion; pairwise: tuned against base, asked in both orders."""
    samples: int
    """How many times each question was asked (1: greedy decoding)."""
    verdicts: list[JudgeVerdict]
    """Every verdict, by state, example and criterion."""
    cost: JudgeCost
    """What judging cost."""
    calibration: JudgeCalibration | None = None
    """The judge measured against the run's human raters (None: not computed, e.g. before any rating)."""
    by_criterion: list[CriterionScores] = []
    """Per criterion and state, the judge's mean score with its interval over every item it scored: the judge's
    before and after, rated or not (the calibration's `by_state` covers only the rated items)."""
    repeatability: JudgeRepeatability | None = None
    """With `samples` above 1: how far verdicts moved between samples (None: one greedy answer each)."""
