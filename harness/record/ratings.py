"""Human ratings: the file `harness sheets import` appends to, and the statistics recorded from it.

`sheets/ratings.jsonl` holds every imported rating, unblinded (one JSON object a line, oldest first);
`RunRecord.ratings` holds what they say, computed by the core whenever sheets are imported, so the
report only displays it. Intervals are 95%; the bootstrap is seeded, so the same ratings always give
the same record.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from harness.common.errors import HarnessError, quoted
from harness.common.files import read_jsonl

from .spec import Record

SHEETS_DIR = "sheets"
RATINGS_FILE = "ratings.jsonl"
RATING_SCORES = (1, 2, 3, 4, 5)
"""The pointwise scale."""
RATING_OUTCOMES = ("win", "tie", "loss", "both bad")
"""A/B outcomes from the tuned state's side; the codes nominal agreement is computed on."""


def ratings_path(run_dir: str | Path) -> Path:
    """RUN_DIR/sheets/ratings.jsonl."""
    return Path(run_dir) / SHEETS_DIR / RATINGS_FILE


_COMMON = ("export", "item", "suite", "example", "state", "criterion", "rater", "imported", "source")
_FIELDS = {"score": (*_COMMON, "score"), "preference": (*_COMMON, "versus", "outcome")}
"""What every stored rating of each kind holds (the importer writes more: the rater's comment, the A/B choice)."""


def load_ratings(run_dir: str | Path) -> list[dict]:
    """Every imported rating, oldest first; [] before the first import. The file is the harness's own but
    editable: a row it would not have written is one line naming it."""
    path = ratings_path(run_dir)
    ratings = read_jsonl(path) if path.is_file() else []
    for n, rating in enumerate(ratings, 1):
        problem = _problem(rating)
        if problem:
            raise HarnessError(f"rating {n}: {problem} (`harness sheets import` writes this file: was it edited?)",
                               str(path))
    return ratings


def _problem(r: dict) -> str | None:
    kind = r.get("kind")
    if kind not in ("score", "preference"):
        return f"kind {quoted(kind)} is neither 'score' nor 'preference'"
    missing = [f for f in _FIELDS[kind] if f not in r]
    if missing:
        return f"missing {', '.join(missing)}"
    not_text = [f for f in _FIELDS[kind] if f not in ("score", "source") and not isinstance(r[f], str)]
    if not_text:
        return f"{', '.join(not_text)} not text"
    if kind == "score" and (type(r["score"]) is not int or r["score"] not in RATING_SCORES):
        low, high = RATING_SCORES[0], RATING_SCORES[-1]
        return f"score {json.dumps(r['score'])[:40]} is not a whole number from {low} to {high}"
    if kind == "preference" and r["outcome"] not in RATING_OUTCOMES:
        return f"outcome {quoted(r['outcome'])} is not one of {', '.join(RATING_OUTCOMES)}"
    if not isinstance(r["source"], dict) or not {"file", "sha256"} <= set(r["source"]):
        return "its source names no 'file' and 'sha256'"
    return None


class RatingMean(Record):
    """One state's mean 1–5 score on one rubric criterion, on one suite or on every rated suite together."""

    state: str
    """The state rated."""
    suite: str | None = None
    """The suite (None: every rated suite together)."""
    criterion: str
    """The rubric criterion."""
    mean: float
    """Mean score over every rating (every rater, every example)."""
    n: int
    """Ratings averaged."""
    ci_low: float | None
    """Lower end of the 95% percentile bootstrap interval of the mean (resampling ratings)."""
    ci_high: float | None
    """Upper end of that interval."""


class RatingDifference(Record):
    """A tuned state's score minus base's on one criterion, paired by example and rater."""

    state: str
    """The tuned state."""
    versus: str
    """The state it is paired with (base)."""
    criterion: str
    """The rubric criterion."""
    mean_diff: float
    """Mean paired difference (a rater's repeated ratings of one output are averaged first)."""
    n: int
    """Pairs: (suite, example, rater) rated in both states."""
    ci_low: float | None
    """Lower end of the 95% percentile bootstrap interval of the mean difference."""
    ci_high: float | None
    """Upper end of that interval."""
    wilcoxon_p: float | None
    """Two-sided Wilcoxon signed-rank p of the differences (1.0 when all are zero)."""


class RatingPreference(Record):
    """A/B preferences of one tuned state against the state it was paired with, on one suite or on all."""

    state: str
    """The tuned state; outcomes are from its side."""
    versus: str
    """The other side of the pair (base)."""
    suite: str | None = None
    """The suite (None: every rated suite together)."""
    wins: int
    """Ratings preferring `state`."""
    ties: int
    """Ratings calling the pair a tie."""
    losses: int
    """Ratings preferring `versus`."""
    both_bad: int
    """Ratings calling both outputs bad."""
    n: int
    """Ratings in all."""
    win_rate: float
    """(wins + half of ties and both-bad) / n."""
    ci_low: float | None
    """Lower end of the 95% Wilson interval of the win rate."""
    ci_high: float | None
    """Upper end of that interval."""
    sign_test_p: float | None
    """Two-sided exact sign test of wins against losses (None without either)."""


class RatersPerItem(Record):
    """How many raters rated each item."""

    mean: float
    """Mean raters per item."""
    min: int
    """Fewest raters on an item."""
    max: int
    """Most raters on an item."""


class RatingAgreement(Record):
    """Agreement between raters on one kind of rating, over items (example × state × criterion) on one
    suite or on all."""

    suite: str | None = None
    """The suite (None: every rated suite together)."""
    alpha: float | None
    """Krippendorff's alpha (None when undefined: fewer than two raters on every item, or no variation)."""
    alpha_ci_low: float | None = None
    """Lower end of the 95% percentile bootstrap interval of alpha (resampling items rated at least twice)."""
    alpha_ci_high: float | None = None
    """Upper end of that interval."""
    level_of_measurement: Literal["nominal", "ordinal"]
    """`ordinal` for 1–5 scores, `nominal` for A/B outcomes."""
    reliability: str | None
    """Krippendorff's reading of alpha: `reliable` (≥ 0.800), `tentative` (≥ 0.667) or `unreliable`."""
    kappa: float | None
    """Cohen's kappa on the items both raters rated, with exactly two raters (else None)."""
    kappa_ci_low: float | None = None
    """Lower end of the 95% percentile bootstrap interval of kappa (resampling those items)."""
    kappa_ci_high: float | None = None
    """Upper end of that interval."""
    kappa_weights: Literal["quadratic", "none"] | None
    """`quadratic` for scores, `none` for A/B outcomes (None without a kappa)."""
    by_criterion: dict[str, float | None] | None
    """Scores only: alpha on each criterion's items."""
    raters: int
    """Raters who rated any of these items."""
    units: int
    """Items rated."""
    units_multiply_rated: int
    """Items rated by at least two raters (the ones agreement is measured on)."""
    raters_per_item: RatersPerItem
    """How many raters rated each item."""
    note: str | None
    """Why alpha is undefined, when it is."""
    warning: str | None
    """Set when alpha is below 0.667: the ratings are unreliable."""


class RatingAgreements(Record):
    """Agreement on the scores and on the A/B preferences (None: no ratings of that kind)."""

    scores: RatingAgreement | None = None
    """On the pointwise 1–5 scores (ordinal)."""
    preferences: RatingAgreement | None = None
    """On the A/B outcomes (nominal)."""


class RatingImport(Record):
    """One imported sheet file."""

    file: str
    """The path it was imported from."""
    sha256: str
    """Its content hash (importing the same content again is a no-op)."""
    imported: str
    """ISO-8601 UTC time of the import."""
    raters: list[str]
    """Raters whose ratings it held."""
    n: int
    """Ratings it held."""


class RatingMethod(Record):
    """How the rating statistics were computed."""

    ci: float = 0.95
    """Confidence level of every interval."""
    bootstrap_resamples: int
    """Resamples of every bootstrap interval."""
    seed: int
    """Seed of the bootstrap resampling."""
    win_rate: str
    """How A/B outcomes become a win rate and its test."""
    agreement_interval: str
    """How the intervals of alpha and kappa are computed."""
    alpha_thresholds: dict[str, float]
    """Krippendorff's thresholds for `reliable` and `tentative`."""


class Ratings(Record):
    """What the imported human ratings say, as of the last `harness sheets import`; the report shows this."""

    n_ratings: int
    """Ratings imported (each rater's each answered row)."""
    raters: list[str]
    """Every rater, sorted."""
    imports: list[RatingImport]
    """Every imported file, in import order."""
    scores: list[RatingMean]
    """Mean score per state and criterion, every suite together."""
    scores_by_suite: list[RatingMean]
    """Mean score per suite, state and criterion."""
    differences: list[RatingDifference]
    """Each tuned state against base per criterion, paired by example and rater, every suite together."""
    preferences: list[RatingPreference]
    """A/B win rate of each tuned state, every suite together."""
    preferences_by_suite: list[RatingPreference] = []
    """A/B win rate of each tuned state per suite."""
    agreement: RatingAgreements
    """Agreement between raters, every suite together."""
    agreement_by_suite: dict[str, RatingAgreements] = {}
    """Agreement between raters per suite."""
    warnings: list[str]
    """What makes the ratings unreliable (low agreement), one line each."""
    method: RatingMethod
    """How these statistics were computed."""
