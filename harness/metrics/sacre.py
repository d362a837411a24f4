"""BLEU and chrF through sacrebleu, with the tokenizer chosen by the suite's language."""
from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, Mapping

from harness.common.lazy import lazy_module

from .base import NO_FIELDS, Metric, Score

if TYPE_CHECKING:
    import numpy as np
    import sacrebleu.metrics as sacrebleu_metrics
else:  # a suite names its metrics without paying for sacrebleu: it loads when the first output is scored
    np = lazy_module("numpy")
    sacrebleu_metrics = lazy_module("sacrebleu.metrics")

_TOKENIZE_BY_LANGUAGE = {"zh": "zh", "ja": "char", "ko": "char"}
TOKENIZERS = ("none", "zh", "13a", "intl", "char", "ja-mecab", "ko-mecab", "spm", "flores101", "flores200",
              "spBLEU-1K")
"""sacrebleu's BLEU tokenizers (a test keeps this list equal to sacrebleu's own), checked when a suite loads."""


class _Sacre(Metric):
    kind = "corpus"
    scale = 100.0
    digits = 2

    def _make(self, effective_order: bool = False):
        raise NotImplementedError

    def __init__(self, language: str = "en", **options):
        super().__init__(language)
        self.options = options

    @cached_property
    def _sentence(self):
        return self._make(effective_order=True)

    @cached_property
    def _corpus(self):
        return self._make()

    def score(self, output: str, reference: str, fields: Mapping[str, Any] = NO_FIELDS) -> Score:
        return Score(round(self._sentence.sentence_score(output, [reference]).score, 4))

    def corpus_score(self, outputs: list[str], references: list[str]) -> float:
        return round(self._corpus.corpus_score(outputs, [references]).score, 4)

    # Sentence statistics let bootstrap resamples re-score a corpus by summing rows, without
    # re-tokenising (the same trick sacrebleu's own significance tests use).
    def sentence_stats(self, outputs: list[str], references: list[str]):
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

    def __init__(self, language: str = "en", tokenize: str | None = None):
        tokenize = tokenize or _TOKENIZE_BY_LANGUAGE.get(language.split("-")[0], "13a")
        if tokenize not in TOKENIZERS:
            raise ValueError(f"bleu: tokenize must be one of {', '.join(TOKENIZERS)}, not {tokenize!r}")
        super().__init__(language, tokenize=tokenize)

    def _make(self, effective_order: bool = False):
        return sacrebleu_metrics.BLEU(tokenize=self.options["tokenize"], effective_order=effective_order)


class Chrf(_Sacre):
    """Corpus chrF (0–100); `word_order: 2` gives chrF++."""

    name = "chrf"

    def __init__(self, language: str = "en", word_order: int = 0):
        super().__init__(language, word_order=int(word_order))

    def _make(self, effective_order: bool = False):
        return sacrebleu_metrics.CHRF(word_order=self.options["word_order"])
