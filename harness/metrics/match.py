"""Exact match, as text or as parsed JSON (key order and spacing ignored)."""
from __future__ import annotations

import json
from typing import Any, Mapping

from .base import NO_FIELDS, Metric, Score


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
