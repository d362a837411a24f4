"""The metric contract: a pure per-example scorer that declares how its scores aggregate.

A metric scores one output against its reference (and, when it needs them, the example's own
fields such as required facts or hidden tests) and returns a value with a reason. It declares its
`kind`, which decides everything statistical downstream (see `harness.record.MetricKind`):

- `passfail`: scores are 0 or 1; the value is their mean.
- `mean`: scores lie in [lowest, scale]; the value is their mean.
- `corpus`: the value is computed from the whole corpus (`corpus_score`), not as a mean.

Plugins register a Metric subclass, or a function wrapped with `metric(...)`, under the
`harness.metrics` entry-point group.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, ClassVar, Mapping

from harness.record import MetricInfo, MetricKind

NO_FIELDS: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Score:
    """One example's score."""

    value: float
    """0/1 for pass/fail metrics; the example's score for mean metrics; the sentence score for corpus ones."""
    reason: str = ""
    """Why, in a few words, when it is not perfect."""
    repeatable: bool = True
    """False when more than the inputs decided it (a run the wall-clock limit ended: the machine's load did):
    such a score is never cached."""


class Metric:
    """A stateless scorer: `score` sees one output, its reference and the example's fields, nothing else."""

    name: ClassVar[str]
    kind: ClassVar[MetricKind] = "passfail"
    scale: ClassVar[float] = 1.0
    """The value of a perfect score."""
    lowest: ClassVar[float] = 0.0
    """The value of the worst score."""
    higher_is_better: ClassVar[bool] = True
    digits: ClassVar[int] = 3
    """Decimals a value is shown with."""
    reads: tuple[str, ...] = ()
    """Example fields `score` reads besides the reference; evaluation checks every example has them."""
    deferred: ClassVar[bool] = False
    """Scored after every state is generated, by something other than `score` (a judge model: `harness.judging`);
    evaluation leaves it out of each example's scores until then."""
    episodic: ClassVar[bool] = False
    """Scores a whole episode (an episode suite's transcript and end state: `harness.episodes.metrics`), not an
    output string; an episode suite takes only such metrics, and other suites none."""
    cached: ClassVar[bool] = False
    """Whether its scores are kept in the harness cache (`harness.cache.keys.score_keys`: by its code, options and
    signature, the output, reference and fields it reads): for metrics that cost more than a lookup, such as
    running the output's code, so that a repeated run scores without running anything."""
    reads_prompt: ClassVar[bool] = False
    """Whether `score` also receives the example's last user turn, as the field `prompt` (to tell an answer
    from an echo of the question)."""

    def __init__(self, language: str = "en", **options):
        if options:
            raise TypeError(f"metric {self.name!r} takes no options {sorted(options)}")
        self.language = language

    def score(self, output: str, reference: str, fields: Mapping[str, Any] = NO_FIELDS) -> Score:
        """Score one output against its reference."""
        raise NotImplementedError

    def reference_problem(self, reference: str) -> str | None:
        """Why this metric cannot score against `reference`, or None; a suite's every test example the metric
        scores is checked when it loads."""
        return None

    def aggregate(self, outputs: list[str], references: list[str], scores: list[float]) -> float:
        """The suite-level value: the mean score, or the corpus score for corpus metrics."""
        if self.kind == "corpus":
            return self.corpus_score(outputs, references)
        return sum(scores) / len(scores) if scores else float("nan")

    def corpus_score(self, outputs: list[str], references: list[str]) -> float:
        """Corpus metrics only: the score of the whole corpus."""
        raise NotImplementedError(f"{self.name} is not a corpus metric")

    @property
    def signature(self) -> str | None:
        """How to reproduce the scores exactly (tokenizer, version), when there is more to say than the name."""
        return None

    def info(self, name: str, options: Mapping[str, Any], when: Mapping[str, Any] | None = None,
             source: str = "builtin", signed: bool = True) -> MetricInfo:
        """What the run record says about this metric (without `signed`, no signature: finding it may load the
        metric's library)."""
        return MetricInfo(name=name, kind=self.kind, scale=self.scale, lowest=self.lowest,
                          higher_is_better=self.higher_is_better, digits=self.digits, options=dict(options),
                          when=dict(when) if when else None, signature=self.signature if signed else None,
                          source=source,
                          description=(type(self).__doc__ or "").strip().split("\n")[0])


def metric(name: str | None = None, *, kind: MetricKind = "mean", scale: float = 1.0, lowest: float = 0.0,
           higher_is_better: bool = True, digits: int = 3) -> Callable[[Callable], type[Metric]]:
    """Turn a function `(output, reference) -> float | Score` into a Metric class.

    For plugins that need no options: `@metric(kind="mean")` above `def overlap(output, reference)`,
    then register `overlap` under the `harness.metrics` entry-point group.
    """

    def wrap(fn: Callable) -> type[Metric]:
        def score(self, output: str, reference: str, fields: Mapping[str, Any] = NO_FIELDS) -> Score:
            got = fn(output, reference)
            return got if isinstance(got, Score) else Score(float(got))

        attrs = dict(name=name or fn.__name__, kind=kind, scale=scale, lowest=lowest,
                     higher_is_better=higher_is_better, digits=digits, score=score, __doc__=fn.__doc__)
        return type(fn.__name__, (Metric,), attrs)

    return wrap
