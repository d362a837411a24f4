"""Which examples raters see: a seeded sample per suite, stratified on flipped pass/fail outcomes."""
from __future__ import annotations

import random

from harness.record import BASE, Prediction


def flipped_ids(info, rows_by_state: dict[str, dict[str, Prediction]], ids: list[str]) -> set[str]:
    """Examples whose pass/fail differs between base and any tuned state."""
    metric = info.passfail_metric
    if metric is None:
        return set()
    tuned = [s for s in rows_by_state if s != BASE]

    def passed(state, ex_id):
        return bool(rows_by_state[state][ex_id].scores.get(metric))

    return {i for i in ids if any(passed(s, i) != passed(BASE, i) for s in tuned)}


def sample_examples(ids: list[str], flipped: set[str], n: int, rng: random.Random) -> list[str]:
    """`n` ids (all when there are fewer) in a seeded order, flipped ones in proportion, at least one if any.

    Flips are where tuning changed an outcome, so they are what a rater most needs to see;
    proportional keeps the sample honest about how common they are.
    """
    if n >= len(ids):
        chosen = list(ids)
    else:
        flips = [i for i in ids if i in flipped]
        rest = [i for i in ids if i not in flipped]
        n_flips = min(len(flips), max(1 if flips else 0, round(n * len(flips) / len(ids))))
        n_flips = max(n_flips, n - len(rest))  # not enough unflipped examples: fill with flips
        chosen = rng.sample(flips, n_flips) + rng.sample(rest, n - n_flips)
    rng.shuffle(chosen)
    return chosen
