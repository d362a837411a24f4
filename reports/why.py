"""The "why did this example change" view of an example page, from the explanations beside the predictions.

Per state a heat strip over the reference's tokens (each token's probability under that state, teacher-
forced), per tuned state a strip of its change against base (log-probability gained or lost), the top
next tokens of every state where an output first leaves the reference, and the attention view where the
run recorded one. Everything is escaped HTML and inline SVG: no script is needed to read it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

from harness.record import BASE, Explanation, load_explanations

from .charts import attention_svg

PROB_BINS = 10
"""Probability strips use classes p0 … p9 (p < 0.1 … p ≥ 0.9)."""
DELTA_EDGES = (-2.0, -0.5, -0.1, 0.1, 0.5, 2.0)
"""Change strips use classes d0 … d6 on these log-probability differences (d3: no change)."""


@dataclass
class TokenView:
    strips: list[tuple[str, str, Markup]]
    """(label, kind `p` or `d`, the strip's HTML) in display order."""
    next_tokens: list[dict]
    """One table per divergence position: position, reference token, who left there, each state's top tokens."""
    attention: list[tuple[str, Markup]]
    """(state, SVG) for the example selected for the attention view."""


def load_views(run_dir, suite: str, states: list[str]) -> dict[str, TokenView]:
    """Example id → its token view, for every example the run explained (empty when it explained none)."""
    by_state = {s: {e.id: e for e in load_explanations(run_dir, s, suite)} for s in states}
    ids = dict.fromkeys(i for s in states for i in by_state[s])
    return {i: view({s: by_state[s][i] for s in states if i in by_state[s]}, states) for i in ids}


def view(explained: dict[str, Explanation], states: list[str]) -> TokenView:
    """The token view of one example from its explanations by state."""
    shown = [s for s in states if s in explained]
    base = explained.get(BASE)
    strips = [(s, "p", _prob_strip(explained[s])) for s in shown]
    if base is not None:
        strips += [(f"{s} − base", "d", _delta_strip(explained[s], base)) for s in shown
                   if s != BASE and explained[s].tokens == base.tokens]
    return TokenView(strips=strips, next_tokens=_next_tokens(explained, shown),
                     attention=[(s, attention_svg(e.attention, f"{s}: attention from output to prompt tokens"))
                                for s, e in ((s, explained[s]) for s in shown) if e.attention is not None])


def _token(text: str) -> str:
    return text.replace("\n", "⏎").replace("\t", "⇥") or "∅"


def _prob_strip(e: Explanation) -> Markup:
    cells = []
    for i, (tok, lp) in enumerate(zip(e.tokens, e.logprobs)):
        p = math.exp(lp)
        mark = " x" if i == e.divergence else ""
        cells.append(f'<i class="p{min(PROB_BINS - 1, int(p * PROB_BINS))}{mark}" title="{i}: p {p:.3f}">'
                     f"{escape(_token(tok))}</i>")
    return Markup("".join(cells))


def _delta_strip(e: Explanation, base: Explanation) -> Markup:
    cells = []
    for i, (tok, lp, blp) in enumerate(zip(e.tokens, e.logprobs, base.logprobs)):
        d = lp - blp
        cls = sum(d > edge for edge in DELTA_EDGES)
        cells.append(f'<i class="d{cls}" title="{i}: log p {d:+.2f} (p {math.exp(blp):.3f} → {math.exp(lp):.3f})">'
                     f"{escape(_token(tok))}</i>")
    return Markup("".join(cells))


def _next_tokens(explained: dict[str, Explanation], shown: list[str]) -> list[dict]:
    """Where each state's output first leaves the reference; per position every state's top tokens there."""
    positions: dict[int, list[str]] = {}
    for s in shown:
        k = explained[s].divergence
        if k is not None:
            positions.setdefault(k, []).append(s)
    tables = []
    for k in sorted(positions):
        ref = next((e.tokens[k] for e in explained.values() if k < len(e.tokens)), "")
        left = [(s, explained[s].generated) for s in positions[k]]
        columns = []
        for s in shown:
            top = explained[s].next_tokens(k)
            columns.append((s, [(_token(t), p) for t, p in zip(top.tokens, top.probs)] if top else None))
        tables.append({"position": k, "reference": _token(ref), "left": [(s, _token(g) if g is not None else None)
                                                                       for s, g in left], "columns": columns})
    return tables
