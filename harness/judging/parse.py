"""Reading a judge's answer: a strict two-line format, or a reason why it is not that.

Pointwise: `Score: N` (a whole number 1–5), then `Reason: one sentence`. Pairwise: `Winner: A`, `B` or `tie`,
then `Reason: …`. Case and surrounding blank space are forgiven; anything else (prose around it, a score of
4.5, a missing reason, a third line) is unparsable, and the reason says what was expected and what came.
"""
from __future__ import annotations

import re

REASON_MAX_CHARS = 500
"""A longer reason is cut to this (it is shown in reports, one per item)."""
_SHOWN = 80
"""Characters of an unparsable answer quoted in its reason."""

_POINTWISE = re.compile(r"score:[ \t]*([1-5])[ \t]*\r?\nreason:[ \t]*(\S[^\r\n]*)", re.IGNORECASE)
_PAIRWISE = re.compile(r"winner:[ \t]*(a|b|tie)[ \t]*\r?\nreason:[ \t]*(\S[^\r\n]*)", re.IGNORECASE)


def parse_pointwise(answer: str) -> tuple[float | None, str]:
    """(the score 1–5, the judge's reason), or (None, why the answer is unparsable)."""
    found = _POINTWISE.fullmatch(answer.strip())
    if found is None:
        return None, _unparsable(answer, "'Score: <1-5>' then 'Reason: <one sentence>'")
    return float(found.group(1)), _reason(found.group(2))


def parse_pairwise(answer: str) -> tuple[str | None, str]:
    """(`A`, `B` or `tie`, the judge's reason), or (None, why the answer is unparsable)."""
    found = _PAIRWISE.fullmatch(answer.strip())
    if found is None:
        return None, _unparsable(answer, "'Winner: <A, B or tie>' then 'Reason: <one sentence>'")
    winner = found.group(1).lower()
    return ("tie" if winner == "tie" else winner.upper()), _reason(found.group(2))


def _reason(text: str) -> str:
    text = text.strip()
    return text if len(text) <= REASON_MAX_CHARS else text[:REASON_MAX_CHARS - 1] + "…"


def _unparsable(answer: str, expected: str) -> str:
    shown = answer.strip()
    if not shown:
        return f"unparsable judge answer: expected {expected}; got an empty answer"
    cut = shown[:_SHOWN] + ("…" if len(shown) > _SHOWN else "")
    return f"unparsable judge answer: expected {expected}; got {cut!r}"
