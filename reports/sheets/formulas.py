"""Formula injection: a CSV cell a spreadsheet would run as a formula is written as text, and read back as written.

Model output such as `=HYPERLINK("http://…","click")` or `@SUM(A1)` in a CSV cell runs as a
formula when a rater opens the file in a spreadsheet program. OWASP's defence is a single quote
before such a cell, which makes it text. So that the importer gets back exactly what the model
wrote, a cell that already starts with quotes followed by such a character gets one more quote
too, and `restore` removes exactly one: restore(neutralise(text)) == text for every text.
"""
from __future__ import annotations

FORMULA_START = "=+-@\t\r"
"""First characters that make spreadsheet programs read a cell as a formula (OWASP's list)."""


def neutralise(text: str) -> str:
    """`text` as a CSV cell a spreadsheet shows as text: a `'` before it when it could start a formula."""
    return "'" + text if _could_run(text) else text


def restore(text: str) -> str:
    """What was neutralised, as it was: one leading `'` removed from cells `neutralise` would have quoted."""
    return text[1:] if text.startswith("'") and _could_run(text) else text


def _could_run(text: str) -> bool:
    body = text.lstrip("'")
    return bool(body) and body[0] in FORMULA_START
