"""Exact match, as text or as JSON extracted from the output (key order and spacing ignored, types strict);
the answer anywhere in the output."""
from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, Mapping

from .base import NO_FIELDS, Metric, Score
from .facts import fold
from .toolcalls.compare import Expected, as_call, expected_calls, is_possible_answer, pairs_up, same
from .toolcalls.extract import extract
from .toolcalls.extract import signature as extract_signature


def parse_json(text: str):
    """The JSON value in `text`, or None when it is not valid JSON."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return None


class ExactMatch(Metric):
    """The output equals the reference: as text (spaces trimmed), or as the JSON found in it with `parse: json`.

    With `parse: json`, `extract` (`auto`, the default, or `whole`) finds the JSON; types are strict, and a BFCL
    possible answer accepts its alternatives (`harness.metrics.toolcalls`)."""

    name = "exact_match"

    def __init__(self, language: str = "en", parse: str = "text", extract: str | None = None):
        super().__init__(language)
        if parse not in ("text", "json"):
            raise ValueError(f"exact_match: parse must be 'text' or 'json', not {parse!r}")
        if extract is not None and parse != "json":
            raise ValueError("exact_match: extract applies to parse: json only")
        self.parse = parse
        self.extract = extract or "auto"
        if parse == "json":
            extract_signature(self.extract)

    @property
    def signature(self) -> str | None:
        return extract_signature(self.extract) if self.parse == "json" else None

    def score(self, output: str, reference: str, fields: Mapping[str, Any] = NO_FIELDS) -> Score:
        if self.parse == "json":
            found, want = extract(output, self.extract), parse_json(reference)
            if not found.found:
                return Score(0.0, found.failure)
            if is_possible_answer(want):  # BFCL's accepted alternatives: name and arguments, calls in any order
                got = [as_call(v) for v in (found.value if isinstance(found.value, list) else [found.value])]
                expected = expected_calls(want) or []
                ok = all(c is not None for c in got) and pairs_up(got, expected, _call_fits)
            else:
                ok = same(found.value, want)
            return Score(1.0) if ok else Score(0.0, "JSON differs from the reference")
        return Score(1.0) if output.strip() == reference.strip() else Score(0.0, "text differs from the reference")


def _call_fits(call: dict, expected: Expected) -> bool:
    return call.get("name") == expected.name and expected.arguments_fit(call.get("arguments", {}))


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
