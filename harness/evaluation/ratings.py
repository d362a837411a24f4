"""What the imported human ratings say: mean scores, paired differences, A/B win rates and rater
agreement, with intervals, per suite and state; recorded in run.json whenever sheets are imported, together
with each judge metric's calibration against them.

Reads `sheets/ratings.jsonl` (written by the sheet importer); the bootstrap is seeded, so the same
ratings always give the same `Ratings`.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Literal

import numpy as np

from harness.cache import Cache
from harness.record import (
    BASE,
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
    load_record,
    save_record,
)
from harness.stats.agreement import alpha_interval, kappa_interval
from harness.stats.methods import (
    RATING_RESAMPLES,
    RELIABLE,
    TENTATIVE,
    bootstrap_ci,
    cohen_kappa,
    krippendorff_alpha,
    reliability,
    sign_test_p,
    wilcoxon_p,
    wilson_ci,
)

from .calibration.assemble import attach_calibration
from .gates import redecide_judged

SEED = 0


def record_ratings(run_dir: str | Path) -> Ratings | None:
    """Aggregate RUN_DIR's imported ratings, and calibrate each judge metric against them, into its run.json
    (atomically), deciding again the recorded gates on judge metrics; None before any import. Call it under the
    rating store's lock, so the record always matches the ratings file."""
    record = load_record(run_dir)
    ratings = load_ratings(run_dir)
    record.ratings = aggregate_ratings(ratings, record.states)
    attach_calibration(record, ratings, run_dir, run_model_fingerprint(record.model_path))
    redecide_judged(record, run_dir, "harness sheets import")
    save_record(run_dir, record)
    return record.ratings


def run_model_fingerprint(model_path: str) -> str | None:
    """The run's model's content fingerprint, as a local judge's is taken, for the self-preference probe: a judge
    named differently (a folder, a named model) is still found to be the run's own model. None for a model that is
    no local folder (a hub id is not looked up, so that an import stays offline and quick)."""
    return Cache().fingerprint(model_path) if Path(model_path).is_dir() else None


def aggregate_ratings(ratings: list[dict], states: list[str]) -> Ratings | None:
    """The statistics of `ratings` (rows of ratings.jsonl), states ordered as `states`; None without any."""
    if not ratings:
        return None
    scores = [r for r in ratings if r["kind"] == "score"]
    prefs = [r for r in ratings if r["kind"] == "preference"]
    rng = np.random.default_rng(SEED)
    agreement = _agreements(scores, prefs)
    suites = sorted({r["suite"] for r in ratings})
    return Ratings(
        n_ratings=len(ratings),
        raters=sorted({r["rater"] for r in ratings}),
        imports=_imports(ratings),
        scores=_means(scores, states, rng, by_suite=False),
        scores_by_suite=_means(scores, states, rng, by_suite=True),
        differences=_differences(scores, states, rng),
        preferences=_preferences(prefs, states, by_suite=False),
        preferences_by_suite=_preferences(prefs, states, by_suite=True),
        agreement=agreement,
        agreement_by_suite={s: _agreements([r for r in scores if r["suite"] == s],
                                           [r for r in prefs if r["suite"] == s], s) for s in suites},
        warnings=[a.warning for a in (agreement.scores, agreement.preferences) if a and a.warning],
        method=RatingMethod(
            bootstrap_resamples=RATING_RESAMPLES, seed=SEED,
            win_rate="ties and both-bad count half; Wilson interval; sign test on wins vs losses",
            agreement_interval="percentile bootstrap over the items (alpha: rated at least twice; kappa: rated by "
                               "both raters)",
            alpha_thresholds={"reliable": RELIABLE, "tentative": TENTATIVE}),
    )


def _agreements(scores: list[dict], prefs: list[dict], suite: str | None = None) -> RatingAgreements:
    return RatingAgreements(
        scores=_agreement(scores, "score", "ordinal", RATING_SCORES, suite) if scores else None,
        preferences=_agreement(prefs, "outcome", "nominal", RATING_OUTCOMES, suite) if prefs else None)


def _imports(ratings: list[dict]) -> list[RatingImport]:
    by_file: dict[str, dict] = {}
    for r in ratings:
        entry = by_file.setdefault(r["source"]["sha256"], {"file": r["source"]["file"], "sha256": r["source"]["sha256"],
                                                           "imported": r["imported"], "raters": set(), "n": 0})
        entry["raters"].add(r["rater"])
        entry["n"] += 1
    return [RatingImport(**(e | {"raters": sorted(e["raters"])})) for e in by_file.values()]


def _ordered(keys, states: list[str]) -> list:
    rank = {s: i for i, s in enumerate(states)}
    return sorted(keys, key=lambda k: (rank.get(k[0], len(rank)), *k[1:]))


def _means(scores: list[dict], states: list[str], rng, by_suite: bool) -> list[RatingMean]:
    groups = defaultdict(list)
    for r in scores:
        groups[(r["state"], *((r["suite"],) if by_suite else ()), r["criterion"])].append(r["score"])
    rows = []
    for key in _ordered(groups, states):
        values = groups[key]
        lo, hi = bootstrap_ci(values, rng) or (None, None)
        rows.append(RatingMean(state=key[0], suite=key[1] if by_suite else None, criterion=key[-1],
                               mean=float(np.mean(values)), n=len(values), ci_low=lo, ci_high=hi))
    return rows


def _differences(scores: list[dict], states: list[str], rng) -> list[RatingDifference]:
    """Tuned − base on the same example, criterion and rater (a rater's repeated ratings are averaged)."""
    cells = defaultdict(list)
    for r in scores:
        cells[(r["state"], r["criterion"], r["rater"], r["suite"], r["example"])].append(r["score"])
    mean = {k: float(np.mean(v)) for k, v in cells.items()}
    diffs = defaultdict(list)
    for (state, criterion, *unit), value in mean.items():
        base = mean.get((BASE, criterion, *unit))
        if state != BASE and base is not None:
            diffs[(state, criterion)].append(value - base)
    rows = []
    for state, criterion in _ordered(diffs, states):
        d = diffs[(state, criterion)]
        lo, hi = bootstrap_ci(d, rng) or (None, None)
        rows.append(RatingDifference(state=state, versus=BASE, criterion=criterion, mean_diff=float(np.mean(d)),
                                     n=len(d), ci_low=lo, ci_high=hi, wilcoxon_p=wilcoxon_p(d)))
    return rows


def _preferences(prefs: list[dict], states: list[str], by_suite: bool) -> list[RatingPreference]:
    counts: defaultdict[tuple, dict[str, int]] = defaultdict(lambda: dict.fromkeys(RATING_OUTCOMES, 0))
    for r in prefs:
        counts[(r["state"], r["versus"], *((r["suite"],) if by_suite else ()))][r["outcome"]] += 1
    rows = []
    for key in _ordered(counts, states):
        c = counts[key]
        n = sum(c.values())
        # Ties and "both bad" are no win for either side, so each counts half.
        credit = c["win"] + 0.5 * (c["tie"] + c["both bad"])
        lo, hi = wilson_ci(credit, n) or (None, None)
        rows.append(RatingPreference(state=key[0], versus=key[1], suite=key[2] if by_suite else None, wins=c["win"],
                                     ties=c["tie"], losses=c["loss"], both_bad=c["both bad"], n=n, win_rate=credit / n,
                                     ci_low=lo, ci_high=hi, sign_test_p=sign_test_p(c["win"], c["loss"])))
    return rows


def _agreement(ratings: list[dict], field: str, level: Literal["nominal", "ordinal"], domain,
               suite: str | None) -> RatingAgreement:
    """Agreement over units (example × state × criterion) rated by more than one rater."""
    codes = {v: i for i, v in enumerate(domain)}
    raters = sorted({r["rater"] for r in ratings})
    units = sorted({(r["suite"], r["example"], r["state"], r["criterion"]) for r in ratings})
    col, row = {u: j for j, u in enumerate(units)}, {r: i for i, r in enumerate(raters)}
    matrix = np.full((len(raters), len(units)), np.nan)
    for r in ratings:  # a rater's later rating of the same unit (from a later export) wins
        matrix[row[r["rater"]], col[(r["suite"], r["example"], r["state"], r["criterion"])]] = codes[r[field]]
    per_unit = (~np.isnan(matrix)).sum(axis=0)
    value = krippendorff_alpha(matrix, level, codes.values())
    alpha_ci = alpha_interval(matrix, level, codes.values(), np.random.default_rng(SEED)) if value is not None else None
    kappa, kappa_ci = None, None
    if len(raters) == 2:
        both = ~np.isnan(matrix).any(axis=0)
        pair = matrix[0, both], matrix[1, both], list(codes.values()), level == "ordinal"
        kappa = cohen_kappa(*pair)
        kappa_ci = kappa_interval(*pair, np.random.default_rng(SEED)) if kappa is not None else None
    (alpha_low, alpha_high), (kappa_low, kappa_high) = alpha_ci or (None, None), kappa_ci or (None, None)
    by_criterion = {}
    for criterion in sorted({u[3] for u in units}):
        mask = np.array([u[3] == criterion for u in units])
        by_criterion[criterion] = krippendorff_alpha(matrix[:, mask], level, codes.values())
    warning = None
    if value is not None and value < TENTATIVE:
        warning = (f"raters disagree on {'scores' if level == 'ordinal' else 'A/B preferences'}"
                   f"{f' in {suite}' if suite else ''}: Krippendorff's alpha {value:.3f} < {TENTATIVE}; "
                   "treat these results as unreliable")
    return RatingAgreement(
        suite=suite, alpha=value, alpha_ci_low=alpha_low, alpha_ci_high=alpha_high,
        level_of_measurement=level, reliability=reliability(value),
        kappa=kappa, kappa_ci_low=kappa_low, kappa_ci_high=kappa_high,
        kappa_weights=("quadratic" if level == "ordinal" else "none") if kappa is not None else None,
        by_criterion=by_criterion if level == "ordinal" else None,
        raters=len(raters), units=len(units), units_multiply_rated=int((per_unit >= 2).sum()),
        raters_per_item=RatersPerItem(mean=float(per_unit.mean()), min=int(per_unit.min()), max=int(per_unit.max())),
        note=_alpha_note(value, raters, per_unit), warning=warning)


def _alpha_note(value, raters, per_unit) -> str | None:
    if value is not None:
        return None
    if len(raters) < 2:
        return "one rater: agreement needs at least two"
    if (per_unit >= 2).sum() == 0:
        return "no item was rated by two raters"
    return "every rating has the same value, so agreement beyond chance is undefined"
