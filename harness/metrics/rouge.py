"""ROUGE-L F1 per example, through Google's `rouge-score` package (the one `evaluate`'s rouge wraps).

Its default tokenizer keeps only [a-z0-9] tokens, so Chinese, Japanese and Korean text would score
0 against anything: for those languages each character that is a letter or digit is a token.
"""
from __future__ import annotations

import unicodedata
from functools import cached_property
from importlib.metadata import version
from typing import TYPE_CHECKING, Any, Mapping

from harness.common.lazy import lazy_module

from .base import NO_FIELDS, Metric, Score

if TYPE_CHECKING:
    from rouge_score import rouge_scorer
else:  # rouge-score pulls nltk and scipy.stats (seconds): a suite names the metric without paying for them
    rouge_scorer = lazy_module("rouge_score.rouge_scorer")

CHARACTER_LANGUAGES = ("zh", "ja", "ko")


class CharTokenizer:
    """One token per letter or digit; spaces and punctuation dropped (rouge-score's Tokenizer interface)."""

    def tokenize(self, text: str) -> list[str]:
        """The text's letters and digits, NFKC- and case-folded, one per token."""
        return [c for c in unicodedata.normalize("NFKC", text).casefold()
                if unicodedata.category(c)[0] in ("L", "N")]


class RougeL(Metric):
    """ROUGE-L F1 (longest common subsequence) of the output against the reference."""

    name = "rouge_l"
    kind = "mean"

    def __init__(self, language: str = "en", tokenizer: str | None = None, stemmer: bool = False):
        super().__init__(language)
        self.tokenizer = tokenizer or ("char" if language.split("-")[0] in CHARACTER_LANGUAGES else "default")
        if self.tokenizer not in ("char", "default"):
            raise ValueError(f"rouge_l: tokenizer must be 'char' or 'default', not {tokenizer!r}")
        self.stemmer = stemmer

    @cached_property
    def _scorer(self):
        return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=self.stemmer,
                                        tokenizer=CharTokenizer() if self.tokenizer == "char" else None)

    def score(self, output: str, reference: str, fields: Mapping[str, Any] = NO_FIELDS) -> Score:
        return Score(round(self._scorer.score(reference, output)["rougeL"].fmeasure, 6))

    @property
    def signature(self) -> str:
        """Package version, tokenizer and stemming: what decides the scores."""
        return f"rouge-score {version('rouge-score')}|rougeL|f1|tokenizer:{self.tokenizer}|stemmer:{self.stemmer}"
