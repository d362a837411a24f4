"""The metric contract: a pure per-example scorer plus how a suite's scores aggregate."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Score:
    value: float
    """1.0/0.0 for pass/fail metrics; the sentence-level score for corpus metrics."""
    reason: str = ""
    """Why, in a few words, when it failed."""


class Metric:
    """A scorer is stateless: `score` sees one output and its reference, nothing else.

    Pass/fail metrics (`passfail = True`) aggregate as the mean of their 0/1 scores; corpus
    metrics such as BLEU override `aggregate`, since a corpus score is not a mean of sentences.
    """

    name: ClassVar[str]
    passfail: ClassVar[bool] = True
    scale: ClassVar[float] = 1.0
    """The value of a perfect score: 1 for fractions, 100 for BLEU and chrF."""

    def __init__(self, language: str = "en", **options):
        if options:
            raise TypeError(f"metric {self.name!r} takes no options {sorted(options)}")
        self.language = language

    def score(self, output: str, reference: str) -> Score:
        raise NotImplementedError

    def aggregate(self, outputs: list[str], references: list[str], scores: list[float]) -> float:
        return sum(scores) / len(scores) if scores else float("nan")
