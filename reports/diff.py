"""Word-level diff of a model output against its reference, as escaped HTML.

Words are runs of letters/digits; punctuation marks are tokens of their own (so a JSON tool call
diffs key by key), and every CJK character is a token (Chinese and Japanese have no spaces, so
"words" would be whole sentences). Whitespace is kept for display but never compared.
"""
from __future__ import annotations

import difflib
import re

from markupsafe import Markup, escape

_CJK = ("\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
        "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0002fa1f")
_TOKEN = re.compile(rf"\s+|[{_CJK}]|[^\W{_CJK}]+|[^\s{_CJK}]", re.UNICODE)

MAX_TOKENS = 3000
"""Longer texts are shown without a diff: difflib is quadratic in the worst case."""


def tokens(text: str) -> list[str]:
    """The text cut into tokens whose concatenation is the text again."""
    return _TOKEN.findall(text)


def _words(toks: list[str]) -> tuple[list[str], list[str]]:
    """(compared words, each word's text including the whitespace after it)."""
    words: list[str] = []
    shown: list[str] = []
    for t in toks:
        if t.isspace():
            if shown:
                shown[-1] += t
            else:  # leading whitespace rides on an empty word that always matches
                words.append("")
                shown.append(t)
        else:
            words.append(t)
            shown.append(t)
    return words, shown


def diff_html(output: str, reference: str) -> Markup:
    """The output with words absent from the reference in <ins> and reference words it lacks in <del>.

    Every piece of text is escaped here; the result is safe to insert as is.
    """
    out_toks, ref_toks = tokens(output), tokens(reference)
    if output == reference or len(out_toks) > MAX_TOKENS or len(ref_toks) > MAX_TOKENS:
        return escape(output)
    out_words, out_shown = _words(out_toks)
    ref_words, ref_shown = _words(ref_toks)
    parts: list[str] = []
    matcher = difflib.SequenceMatcher(None, out_words, ref_words, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            parts.append(str(escape("".join(out_shown[i1:i2]))))
            continue
        if j2 > j1:
            parts.append(f"<del>{escape(''.join(ref_shown[j1:j2]))}</del>")
        if i2 > i1:
            parts.append(f"<ins>{escape(''.join(out_shown[i1:i2]))}</ins>")
    return Markup("".join(parts))
