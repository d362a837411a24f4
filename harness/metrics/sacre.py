"""BLEU and chrF through sacrebleu, with the tokenizer chosen by the suite's language."""
from __future__ import annotations

from typing import Any, Mapping

from sacrebleu.metrics import BLEU, CHRF

from .base import NO_FIELDS, Metric, Score

_TOKENIZE_BY_LANGUAGE = {"zh": "zh", "ja": "char", "ko": "char"}


class _Sacre(Metric):
    kind = "corpus"
    scale = 100.0
    digits = 2

    def _make(self, effective_order: bool = False):
        raise NotImplementedError

    def __init__(self, language: str = "en", **options):
        super().__init__(language)
        self.options = options
        self._sentence = self._make(effective_order=True)
        self._corpus = self._make()

    def score(self, output: str, reference: str, fields: Mapping[str, Any] = NO_FIELDS) -> Score:
        return Score(round(self._sentence.sentence_score(output, [reference]).score, 4))

    def corpus_score(self, outputs: list[str], references: list[str]) -> float:
        return round(self._corpus.corpus_score(outputs, [references]).score, 4)

    # Sentence statistics let bootstrap resamples re-score a corpus by summing rows, without
    # re-tokenising (the same trick sacrebleu's own significance tests use).
    def sentence_stats(self, outputs: list[str], references: list[str]):
        import numpy as np

        return np.array(self._corpus._extract_corpus_statistics(outputs, [references]), dtype="float64")

    def score_from_stats(self, summed) -> float:
        return float(self._corpus._compute_score_from_stats(summed).score)

    @property
    def sacrebleu_metric(self):
        return self._make()

    @property
    def signature(self) -> str:
        """sacrebleu's reproducibility signature (one reference per example, as scored here)."""
        self._corpus.corpus_score(["x"], [["x"]])  # sacrebleu signs only a metric that has scored
        return str(self._corpus.get_signature())


class Bleu(_Sacre):
    """Corpus BLEU (0–100); `tokenize` defaults to `zh` for Chinese, `13a` otherwise."""

    name = "bleu"

    def _make(self, effective_order: bool = False):
        tokenize = self.options.get("tokenize", _TOKENIZE_BY_LANGUAGE.get(self.language.split("-")[0], "13a"))
        return BLEU(tokenize=tokenize, effective_order=effective_order)


class Chrf(_Sacre):
    """Corpus chrF (0–100); `word_order: 2` gives chrF++."""

    name = "chrf"

    def _make(self, effective_order: bool = False):
        return CHRF(word_order=int(self.options.get("word_order", 0)))
