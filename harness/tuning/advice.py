"""Saying what will go wrong before it does: a training too short to learn, a loss that did not fall.

Both are warnings, not errors: a short control run can be meant. The numbers are plain arithmetic on
the resolved settings and the logged loss curve, so a reader can check them by hand.
"""
from __future__ import annotations

import math

MIN_STEPS = 50
"""Fewer optimizer steps than this rarely teach a model a task (30 examples at the default 3 epochs and
batch size 16 are 6 steps, which taught `tiny` nothing): warn, and suggest epochs that reach it."""
LOSS_DROP = 0.05
"""A training whose last logged loss is not at least this fraction below its first did not learn."""


def planned_steps(n_examples: int, settings: dict) -> int:
    """Optimizer steps a training of `n_examples` will take with these resolved settings: `max_steps`, else
    epochs × ⌈examples / batch size⌉ rounded up (what transformers' Trainer computes)."""
    if settings.get("max_steps") is not None:
        return int(settings["max_steps"])
    per_epoch = max(math.ceil(n_examples / int(settings.get("batch_size") or 1)), 1)
    return math.ceil(float(settings.get("epochs") or 1) * per_epoch)


def epochs_for(n_examples: int, batch_size: int, steps: int = MIN_STEPS) -> int:
    """Whole epochs that make at least `steps` optimizer steps over `n_examples`."""
    return math.ceil(steps / max(math.ceil(n_examples / batch_size), 1))


def few_steps(state: str, backend: str, n_examples: int, settings: dict) -> str | None:
    """A warning when this training will take fewer than MIN_STEPS optimizer steps (None otherwise; a training
    asked for with `max_steps` is taken as meant)."""
    if settings.get("max_steps") is not None:
        return None
    what = "training examples"
    if settings.get("pairs") == "metric" and "max_prompts" in settings:
        # a preference backend trains on at most one pair per sampled train prompt
        n_examples, what = min(n_examples, int(settings["max_prompts"])), "preference pairs at most"
    steps = planned_steps(n_examples, settings)
    if steps >= MIN_STEPS:
        return None
    epochs = epochs_for(n_examples, int(settings.get("batch_size") or 1))
    return (f"{state} will take only {steps} optimizer steps ({n_examples} {what}, batch size "
            f"{settings.get('batch_size')}, {settings.get('epochs'):g} epochs) and may learn nothing; "
            f"--set {backend}.epochs={epochs} makes {planned_steps(n_examples, {**settings, 'epochs': epochs})}")


def loss_not_falling(state: str, curve: list[tuple[int, float]] | list[list]) -> str | None:
    """A warning when the logged training loss did not fall by LOSS_DROP (None otherwise, or with fewer than
    two logged points)."""
    if len(curve) < 2:
        return None
    (first_step, first), (last_step, last) = curve[0], curve[-1]
    if not (math.isfinite(first) and math.isfinite(last)):
        return f"{state}'s training loss is not a number (step {last_step}: {last}); the model learned nothing"
    if last <= first * (1 - LOSS_DROP):
        return None
    return (f"{state}'s training loss did not fall ({first:.4f} at step {first_step}, {last:.4f} at step "
            f"{last_step}): try a higher learning rate or more epochs")
