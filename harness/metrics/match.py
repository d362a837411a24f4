"""Exact match, as text or as parsed JSON (key order and spacing ignored); the answer anywhere in the output."""
from __future__ import annotations

import json
import re
from typing import Any, Mapping

from .base import NO_FIELDS, Metric, Score
from .facts import fold


def parse_json(text: str):
    """The JSON value in `text`, or None when it is not valid JSON."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return None


class ExactMatch(Metric):
    """The output equals the reference: as text (spaces trimmed), or as parsed JSON with `parse: json`."""

    name = "exact_match"

    def __init__(self, language: str = "en", parse: str = "text"):
        super().__init__(language)
        if parse not in ("text", "json"):
            raise ValueError(f"exact_match: parse must be 'text' or 'json', not {parse!r}")
        self.parse = parse

    def score(self, output: str, reference: str, fields: Mapping[str, Any] = NO_FIELDS) -> Score:
        if self.parse == "json":
            got, want = parse_json(output), parse_json(reference)
            if got is None:
                return Score(0.0, "output is not valid JSON")
            return Score(1.0) if got == want else Score(0.0, "JSON differs from the reference")
        return Score(1.0) if output.strip() == reference.strip() else Score(0.0, "text differs from the reference")


class ContainsAnswer(Metric):
    """The reference appears in the output, after folding width, case and spacing; a reference that starts or
    ends with a Latin letter or digit must stand as a whole word there ('600' is not in '6000').

    Lenient on purpose: a pretrained chat model answers 'The capital of Iran is Tehran.' where `exact_match`
    wants 'Tehran'. Paired with `exact_match`, it tells a wrong answer from a right one in the wrong form.
    """

    name = "contains_answer"

    def score(self, output: str, reference: str, fields: Mapping[str, Any] = NO_FIELDS) -> Score:
        want = fold(reference)
        if not want:
            raise ValueError("contains_answer needs a non-empty reference")
        head = r"(?<![0-9a-z])" if re.match(r"[0-9a-z]", want) else ""
        tail = r"(?![0-9a-z])" if re.search(r"[0-9a-z]$", want) else ""
        if re.search(head + re.escape(want) + tail, fold(output)):
            return Score(1.0)
        return Score(0.0, "the reference is not in the output")
