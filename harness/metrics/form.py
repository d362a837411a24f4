"""Format of a written piece: a title line, a body within length bounds, in the expected script."""
from __future__ import annotations

import re
from typing import Any, Mapping

from .base import NO_FIELDS, Metric, Score

SCRIPTS = {"zh": re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")}
"""Characters that count as the script: CJK unified ideographs (with extension A and compatibility)."""


class Format(Metric):
    """Passes when the output has a title line, a body of bounded length, and is in the expected script."""

    name = "format"

    def __init__(self, language: str = "en", title: bool = True, min_chars: int = 1, max_chars: int = 10_000,
                 script: str | None = None, min_script_share: float = 0.5, max_title_chars: int = 40):
        super().__init__(language)
        if script is not None and script not in SCRIPTS:
            raise ValueError(f"format: script must be one of {sorted(SCRIPTS)}, not {script!r}")
        if not 0 <= min_chars <= max_chars:
            raise ValueError("format: needs 0 <= min_chars <= max_chars")
        self.title, self.min_chars, self.max_chars = title, min_chars, max_chars
        self.script, self.min_script_share, self.max_title_chars = script, min_script_share, max_title_chars

    def score(self, output: str, reference: str, fields: Mapping[str, Any] = NO_FIELDS) -> Score:
        lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
        if self.title:
            if len(lines) < 2:
                return Score(0.0, "no title line followed by a body")
            if len(lines[0]) > self.max_title_chars or lines[0].endswith(("。", ".", "！", "!", "？", "?")):
                return Score(0.0, "the first line is not a title (too long, or a sentence)")
        body = "".join(lines[1:] if self.title else lines)
        if not self.min_chars <= len(body) <= self.max_chars:
            return Score(0.0, f"body of {len(body)} characters (bounds {self.min_chars}–{self.max_chars})")
        if self.script:
            letters = [c for c in body if not c.isspace() and c.isalnum()]
            share = sum(bool(SCRIPTS[self.script].match(c)) for c in letters) / max(1, len(letters))
            if share < self.min_script_share:
                return Score(0.0, f"only {share:.0%} of the body is in the {self.script} script")
        return Score(1.0)
