"""What the imported ratings say: `ratings_summary` for the report, `sheets_status` for where things are.

Both return plain JSON-able dicts. Intervals are 95%; the bootstrap is seeded, so a summary is
the same every time it is computed from the same ratings.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Literal

import numpy as np

from harness.record import BASE, load_record
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

from .layout import SCORES, sheets_dir
from .store import load_key, load_ratings

SEED = 0
OUTCOMES = ("win", "tie", "loss", "both bad")
"""A/B outcomes from the tuned state's side; the codes nominal agreement is computed on."""


def ratings_summary(run_dir: str | Path) -> dict | None:
    """Scores, A/B preferences and rater agreement from RUN_DIR/sheets/ratings.jsonl; None before any import."""
    ratings = load_ratings(run_dir)
    if not ratings:
        return None
    states = load_record(run_dir).states
    scores = [r for r in ratings if r["kind"] == "score"]
    prefs = [r for r in ratings if r["kind"] == "preference"]
    rng = np.random.default_rng(SEED)
    agreement = {"scores": _agreement(scores, "score", "ordinal", SCORES) if scores else None,
                 "preferences": _agreement(prefs, "outcome", "nominal", OUTCOMES) if prefs else None}
    return {
        "n_ratings": len(ratings),
        "raters": sorted({r["rater"] for r in ratings}),
        "imports": _imports(ratings),
        "scores": _means(scores, states, rng, by_suite=False),
        "scores_by_suite": _means(scores, states, rng, by_suite=True),
        "differences": _differences(scores, states, rng),
        "preferences": _preferences(prefs, states),
        "agreement": agreement,
        "warnings": [a["warning"] for a in agreement.values() if a and a["warning"]],
        "method": {"ci": 0.95, "bootstrap_resamples": RATING_RESAMPLES, "seed": SEED,
                   "win_rate": "ties and both-bad count half; Wilson interval; sign test on wins vs losses",
                   "alpha_thresholds": {"reliable": RELIABLE, "tentative": TENTATIVE}},
    }


def sheets_status(run_dir: str | Path) -> dict:
    """Which exports and rater files exist, how many ratings came back, and one line saying so."""
    run_dir = Path(run_dir)
    folder = sheets_dir(run_dir)
    key = load_key(run_dir)
    exports = []
    for export_id, entry in (key or {"exports": {}})["exports"].items():
        files = entry.get("files", [])
        exports.append({"export_id": export_id, "sheet_id": entry["sheet_id"], "created": entry.get("created"),
                        "per_suite": entry["per_suite"], "seed": entry["seed"], "suites": entry["suites"],
                        "raters": entry.get("raters", []), "folder": str(folder / export_id),
                        "files": [f for f in files if (run_dir / f).is_file()],
                        "missing": [f for f in files if not (run_dir / f).is_file()]})
    ratings = load_ratings(run_dir)
    if not exports:
        message = f"no rating sheets exported yet; run `harness sheets export {run_dir}`"
    elif not ratings:
        message = f"no ratings imported yet; sheets are in {', '.join(e['folder'] for e in exports)}"
    else:
        message = f"{len(ratings)} ratings from {len({r['rater'] for r in ratings})} rater(s) imported"
    return {"folder": str(folder), "exported": bool(exports), "exports": exports, "n_ratings": len(ratings),
            "message": message}


def _imports(ratings: list[dict]) -> list[dict]:
    by_file: dict[str, dict] = {}
    for r in ratings:
        entry = by_file.setdefault(r["source"]["sha256"], {"file": r["source"]["file"], "sha256": r["source"]["sha256"],
                                                           "imported": r["imported"], "raters": set(), "n": 0})
        entry["raters"].add(r["rater"])
        entry["n"] += 1
    return [e | {"raters": sorted(e["raters"])} for e in by_file.values()]


def _ordered(keys, states: list[str]) -> list:
    rank = {s: i for i, s in enumerate(states)}
    return sorted(keys, key=lambda k: (rank.get(k[0], len(rank)), *k[1:]))


def _means(scores: list[dict], states: list[str], rng, by_suite: bool) -> list[dict]:
    groups = defaultdict(list)
    for r in scores:
        groups[(r["state"], *((r["suite"],) if by_suite else ()), r["criterion"])].append(r["score"])
    rows = []
    for key in _ordered(groups, states):
        values = groups[key]
        lo, hi = bootstrap_ci(values, rng) or (None, None)
        row = {"state": key[0], "criterion": key[-1], "mean": float(np.mean(values)), "n": len(values),
               "ci_low": lo, "ci_high": hi}
        rows.append({"suite": key[1], **row} if by_suite else row)
    return rows


def _differences(scores: list[dict], states: list[str], rng) -> list[dict]:
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
        rows.append({"state": state, "versus": BASE, "criterion": criterion, "mean_diff": float(np.mean(d)),
                     "n": len(d), "ci_low": lo, "ci_high": hi, "wilcoxon_p": wilcoxon_p(d)})
    return rows


def _preferences(prefs: list[dict], states: list[str]) -> list[dict]:
    counts: defaultdict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
    for r in prefs:
        counts[(r["state"], r["versus"])][r["outcome"]] += 1
    rows = []
    for state, versus in _ordered(counts, states):
        c = counts[(state, versus)]
        n = sum(c.values())
        # Ties and "both bad" are no win for either side, so each counts half.
        credit = c["win"] + 0.5 * (c["tie"] + c["both bad"])
        lo, hi = wilson_ci(credit, n) or (None, None)
        rows.append({"state": state, "versus": versus, "wins": c["win"], "ties": c["tie"], "losses": c["loss"],
                     "both_bad": c["both bad"], "n": n, "win_rate": credit / n, "ci_low": lo, "ci_high": hi,
                     "sign_test_p": sign_test_p(c["win"], c["loss"])})
    return rows


def _agreement(ratings: list[dict], field: str, level: Literal["nominal", "ordinal"], domain) -> dict:
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
    kappa = None
    if len(raters) == 2:
        both = ~np.isnan(matrix).any(axis=0)
        kappa = cohen_kappa(matrix[0, both], matrix[1, both], list(codes.values()), quadratic=level == "ordinal")
    by_criterion = {}
    for criterion in sorted({u[3] for u in units}):
        mask = np.array([u[3] == criterion for u in units])
        by_criterion[criterion] = krippendorff_alpha(matrix[:, mask], level, codes.values())
    warning = None
    if value is not None and value < TENTATIVE:
        warning = (f"raters disagree on {'scores' if level == 'ordinal' else 'A/B preferences'}: "
                   f"Krippendorff's alpha {value:.3f} < {TENTATIVE}; treat these results as unreliable")
    return {
        "alpha": value, "level_of_measurement": level, "reliability": reliability(value),
        "kappa": kappa, "kappa_weights": ("quadratic" if level == "ordinal" else "none") if kappa is not None else None,
        "by_criterion": by_criterion if level == "ordinal" else None,
        "raters": len(raters), "units": len(units), "units_multiply_rated": int((per_unit >= 2).sum()),
        "raters_per_item": {"mean": float(per_unit.mean()), "min": int(per_unit.min()), "max": int(per_unit.max())},
        "note": _alpha_note(value, raters, per_unit), "warning": warning,
    }


def _alpha_note(value, raters, per_unit) -> str | None:
    if value is not None:
        return None
    if len(raters) < 2:
        return "one rater: agreement needs at least two"
    if (per_unit >= 2).sum() == 0:
        return "no item was rated by two raters"
    return "every rating has the same value, so agreement beyond chance is undefined"
