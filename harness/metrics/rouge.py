"""ROUGE-L F1 per example, through Google's `rouge-score` package (the one `evaluate`'s rouge wraps).

Its default tokenizer keeps only [a-z0-9] tokens, so Chinese, Japanese and Korean text would score
0 against anything: for those languages each character that is a letter or digit is a token.
"""
from __future__ import annotations

import unicodedata
from importlib.metadata import version
from typing import Any, Mapping

from .base import NO_FIELDS, Metric, Score

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
        from rouge_score import rouge_scorer

        self.tokenizer = tokenizer or ("char" if language.split("-")[0] in CHARACTER_LANGUAGES else "default")
        if self.tokenizer not in ("char", "default"):
            raise ValueError(f"rouge_l: tokenizer must be 'char' or 'default', not {tokenizer!r}")
        self.stemmer = stemmer
        self._scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=stemmer,
                                                tokenizer=CharTokenizer() if self.tokenizer == "char" else None)

    def score(self, output: str, reference: str, fields: Mapping[str, Any] = NO_FIELDS) -> Score:
        return Score(round(self._scorer.score(reference, output)["rougeL"].fmeasure, 6))

    @property
    def signature(self) -> str:
        """Package version, tokenizer and stemming: what decides the scores."""
        return f"rouge-score {version('rouge-score')}|rougeL|f1|tokenizer:{self.tokenizer}|stemmer:{self.stemmer}"
