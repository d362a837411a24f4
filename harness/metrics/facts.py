"""Required facts: the share of an example's listed facts that the output mentions."""
from __future__ import annotations

import unicodedata
from typing import Any, Mapping

from .base import NO_FIELDS, Metric, Score


def fold(text: str) -> str:
    """Width, case and spacing folded, so 'ＡＢ 1' and 'ab  1' compare equal."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


class FactsPresent(Metric):
    """Share of the example's required facts (slot values) that the output mentions."""

    name = "facts_present"
    kind = "mean"

    def __init__(self, language: str = "en", field: str = "facts"):
        super().__init__(language)
        self.field = field
        self.reads = (field,)

    def score(self, output: str, reference: str, fields: Mapping[str, Any] = NO_FIELDS) -> Score:
        facts = fields.get(self.field)
        if not isinstance(facts, list) or not all(isinstance(f, (str, int, float)) for f in facts):
            raise ValueError(f"field {self.field!r} must be a list of strings")
        if not facts:
            return Score(1.0)
        text = fold(output)
        missing = [str(f) for f in facts if fold(str(f)) not in text]
        value = 1 - len(missing) / len(facts)
        return Score(value, f"missing: {', '.join(missing)}" if missing else "")
