"""Where a state's results come from: each suite's primary metric per label, and its failures by kind."""
from __future__ import annotations

from .outcome import IntervalMethod
from .spec import Record


class LabelResult(Record):
    """One state's value of a suite's primary metric on the test examples of one label."""

    state: str
    """`base` or a tuned state."""
    suite: str
    """The suite."""
    metric: str
    """The suite's primary (first) metric."""
    label: str
    """The label: the value of the suite's `labels:` field, or the tool name of a JSON tool call."""
    n: int
    """Test examples with this label that the metric scored."""
    value: float
    """The metric's value over them."""
    ci_low: float
    """Lower end of the 95% interval."""
    ci_high: float
    """Upper end of the 95% interval."""
    ci_method: IntervalMethod
    """`wilson` for pass/fail metrics, a seeded `bootstrap` over these examples otherwise."""


class FailureKinds(Record):
    """How one state's examples fell short on one metric of one suite, by kind of failure."""

    state: str
    """`base` or a tuned state."""
    suite: str
    """The suite."""
    metric: str
    """The metric."""
    scored: int
    """Examples the metric scored."""
    kinds: dict[str, int]
    """Kind of failure → examples: the head of the metric's per-example reason (`output is not valid JSON`,
    `wrong 'name'`, `missing`, `SyntaxError`, `AssertionError`, …) for every example below the metric's best
    score; `(no reason given)` when the metric gave none."""
