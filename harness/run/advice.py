"""A run's warnings and hints, noticed as it runs, printed once and recorded (`RunRecord.advice`) for the
report: too few training steps (before training), a loss that did not fall (after it), and a base model
whose zero-shot outputs score 0 where few-shot prompts could show it the format."""
from __future__ import annotations

from typing import Callable

from harness.record import BASE, Advice, BackendRun, RunRecord
from harness.suitedef.suite import Suite
from harness.tuning import advice
from harness.tuning.tune import training_examples

PREFIX = {"few_steps": "WARNING", "loss_flat": "WARNING", "fewshot": "hint"}
"""How each kind of advice is printed."""


def before_training(tunings: list, settings: dict[str, dict], suites: list[Suite]) -> list[Advice]:
    """A warning for each state whose training will take fewer than `advice.MIN_STEPS` optimizer steps."""
    n = len(training_examples(suites))
    found = [(t.state, advice.few_steps(t.state, t.backend, n, settings[t.state])) for t in tunings]
    return [Advice(kind="few_steps", state=state, message=m) for state, m in found if m]


def after_training(run: BackendRun) -> list[Advice]:
    """A warning when the state's logged training loss did not fall (not for a reward-trained state: its loss is a
    policy-gradient surrogate that need not fall; its reward is checked against held-out results instead)."""
    if run.cost.curves.get("reward"):
        return []
    message = advice.loss_not_falling(run.name, run.cost.loss_curve)
    return [Advice(kind="loss_flat", state=run.name, message=message)] if message else []


def after_base(record: RunRecord, suites: list[Suite], chat: bool, fewshot_flag: int | None) -> list[Advice]:
    """A hint for each suite where a chat model, prompted zero-shot, scores 0 on the suite's first metric
    although the suite has train examples to show it (its outputs likely miss the expected format)."""
    if not chat or fewshot_flag == 0:
        return []  # --fewshot 0 asks for zero-shot on purpose
    hints = []
    for s in suites:
        if not s.train or s.spec.fewshot is not None or s.environment is not None:
            continue
        metric = s.spec.metrics[0].id
        if record.value(BASE, s.name, metric) == 0:
            hints.append(Advice(kind="fewshot", state=BASE, suite=s.name, message=(
                f"base scores 0 on {s.name}'s {metric} zero-shot: its outputs may not follow the references' "
                f"format; `--fewshot 3` shows it three train examples before each test prompt")))
    return hints


def advise(record: RunRecord, found: list[Advice], log: Callable[[str], object]) -> None:
    """Record each piece of advice not recorded yet, and print it."""
    for a in found:
        if record.advise(a):
            log(f"{PREFIX[a.kind]}: {a.message}")
