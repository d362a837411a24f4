"""A judge measured against the run's human raters: agreement with intervals, the confusion table, bias
probes and the verdict that lets a gate on the judge's metric be decided.

Computed by the core (`harness.evaluation.calibration`) whenever ratings are imported and recorded on each
`JudgeResult`; the report and the gates only read it. Intervals are 95% percentile bootstraps over items,
seeded, so the same ratings and verdicts always give the same calibration.
"""
from __future__ import annotations

from pydantic import ConfigDict

from ..spec import Record


class Frozen(Record):
    """A record that does not change once made (the judging records are replaced whole, never edited)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class StateScores(Frozen):
    """One state's mean judge score beside its mean human score, on the items both scored."""

    state: str
    """The state judged and rated (`base`, a tuned state)."""
    n: int
    """Items of this state scored by the judge and rated by at least one human."""
    judge_mean: float
    """The judge's mean score on them."""
    judge_ci_low: float | None
    """Lower end of the 95% bootstrap interval of the judge's mean."""
    judge_ci_high: float | None
    """Upper end of that interval."""
    human_mean: float
    """The mean over those items of each item's mean human score."""
    human_ci_low: float | None
    """Lower end of the 95% bootstrap interval of the human mean."""
    human_ci_high: float | None
    """Upper end of that interval."""


class Disagreement(Frozen):
    """An item where the judge and the humans disagree most, with both sides' reasons."""

    example_id: str
    """The example."""
    state: str
    """The state whose output was scored."""
    judge_score: float
    """The judge's score."""
    human_mean: float
    """The humans' mean score."""
    judge_reason: str
    """The judge's reason."""
    human_comments: list[str] = []
    """The raters' comments on the item (those who wrote one)."""


class BiasProbes(Frozen):
    """Signs that the judge scores something other than what the rubric asks."""

    position_pairs: int = 0
    """Pairwise: verdicts asked in both A/B orders."""
    position_flip_share: float | None = None
    """Pairwise: the share of those whose verdict changed when the outputs swapped places (None: not pairwise)."""
    length_judge_rho: float | None = None
    """Spearman correlation of the judge's score with the output's length in characters (None: undefined)."""
    length_human_rho: float | None = None
    """Spearman correlation of the mean human score with the output's length, on the same items."""
    length_excess: float | None = None
    """`length_judge_rho` − `length_human_rho`: how much more than the humans the judge rewards length."""
    self_preference: bool = False
    """Whether the judge is the run's own model (the tuned states' base), so it may favour its own outputs."""
    self_preference_excess: float | None = None
    """With `self_preference`: the judge's mean score minus the humans' mean on the items both scored."""
    note: str | None = None
    """What a probe could not measure, or how the judge was found to be the run's model."""


class CriterionCalibration(Frozen):
    """The judge against the human raters on one rubric criterion (`overall` for pairwise verdicts)."""

    criterion: str
    """The criterion."""
    scale: list[float]
    """The ordered values scores are compared on: 1–5, or pairwise 0 (loss), 0.5 (tie), 1 (win)."""
    n_items: int
    """Items (example × state) the judge scored and at least one human rated."""
    n_unparsed: int = 0
    """Items humans rated where the judge's answer could not be parsed (left out of every number)."""
    judge_alpha: float | None = None
    """Krippendorff's alpha (ordinal) of the human raters with the judge as one more rater, on those items."""
    judge_alpha_ci_low: float | None = None
    """Lower end of its 95% bootstrap interval (resampling items)."""
    judge_alpha_ci_high: float | None = None
    """Upper end of that interval."""
    kappa: float | None = None
    """Cohen's quadratic-weighted kappa of the judge's score against the rounded mean human score."""
    kappa_ci_low: float | None = None
    """Lower end of its 95% bootstrap interval (resampling items)."""
    kappa_ci_high: float | None = None
    """Upper end of that interval."""
    human_alpha: float | None = None
    """Krippendorff's alpha (ordinal) between the human raters alone, on the same items."""
    human_alpha_ci_low: float | None = None
    """Lower end of its 95% bootstrap interval (resampling items rated at least twice)."""
    human_alpha_ci_high: float | None = None
    """Upper end of that interval."""
    human_items: int = 0
    """Of those items, the ones rated by at least two humans (the ones human agreement is measured on)."""
    confusion: list[list[int]] = []
    """Item counts: row i = the judge's score `scale[i]`, column j = the rounded mean human score `scale[j]`."""
    by_state: list[StateScores] = []
    """The judge's and the humans' mean score per state, on the same items."""
    disagreements: list[Disagreement] = []
    """The items where the judge and the humans disagree most, largest gap first (at most five)."""
    probes: BiasProbes = BiasProbes()
    """Position, length and self-preference probes."""
    calibrated: bool
    """Whether the judge may decide gates on this criterion (see `JudgeCalibration`)."""
    reason: str
    """Why it is or is not calibrated, in one line."""


class JudgeCalibration(Frozen):
    """A judge metric measured against the human ratings of the same suite, items and criteria.

    Calibrated when, on every criterion, at least `min_items` items were scored by the judge and rated by a
    human, and the judge–human alpha lies within or above the human–human alpha's 95% interval: the judge
    agrees with the raters about as well as they agree with each other."""

    min_items: int
    """Items rated by both that the suite requires (`judge_calibration.min_items`)."""
    calibrated: bool
    """Whether a gate on this judge metric may be decided."""
    reason: str
    """Why (for a refusal, the first criterion that fails, e.g. `only 12 items rated by both; needs 30`)."""
    criteria: list[CriterionCalibration] = []
    """Per criterion (empty without imported ratings)."""
    ratings: int = 0
    """Human ratings of this suite and kind the calibration read."""
