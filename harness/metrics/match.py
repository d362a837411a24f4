"""Exact match, as text or as parsed JSON (key order and spacing ignored); the answer anywhere in the output."""
from __future__ import annotations

import json
import re
import unicodedata
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
    ends with a Latin letter or digit must stand as a whole word there ('600' is not in '6000'), and a number
    as a whole number ('4' is not in '4.5', '-4' or '14'; '10,000' is 10000).

    An answer the prompt already contains proves nothing when the output repeats it ('Spell "river" in capital
    letters' answered 'The word "river" is…' contains "river"): the output must then hold the reference in a
    form the prompt does not (case kept: 'RIVER'), or be the answer alone.

    Lenient on purpose: a pretrained chat model answers 'The capital of Iran is Tehran.' where `exact_match`
    wants 'Tehran'. Paired with `exact_match`, it tells a wrong answer from a right one in the wrong form.
    """

    name = "contains_answer"
    reads_prompt = True

    def score(self, output: str, reference: str, fields: Mapping[str, Any] = NO_FIELDS) -> Score:
        want = fold(reference)
        if not want:
            raise ValueError("contains_answer needs a non-empty reference")
        if not _contains(fold(output), want):
            return Score(0.0, "the reference is not in the output")
        prompt = str(fields.get(PROMPT, ""))
        if not _contains(fold(prompt), want):
            return Score(1.0)
        exact = _spaced(reference)
        if _spaced(output) == exact or (_contains(_spaced(output), exact) and not _contains(_spaced(prompt), exact)):
            return Score(1.0)
        return Score(0.0, "the output only repeats the reference as the prompt already contains it")


PROMPT = "prompt"
"""The field under which metrics with `reads_prompt` receive the example's last user turn."""
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_GROUPED = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def _spaced(text: str) -> str:
    """Width and spacing folded, case kept."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _contains(text: str, want: str) -> bool:
    """`want` in `text`: a number as a whole number, a word as a whole word, other text anywhere."""
    if _NUMBER.fullmatch(_GROUPED.sub("", want)):
        value = float(_GROUPED.sub("", want))
        numbers = re.finditer(r"(?<![0-9A-Za-z.])" + _NUMBER.pattern + r"(?![0-9A-Za-z]|\.\d)", _GROUPED.sub("", text))
        return any(float(m.group()) == value for m in numbers)
    head = r"(?<![0-9A-Za-z])" if re.match(r"[0-9A-Za-z]", want) else ""
    tail = r"(?![0-9A-Za-z])" if re.search(r"[0-9A-Za-z]$", want) else ""
    return re.search(head + re.escape(want) + tail, text) is not None
