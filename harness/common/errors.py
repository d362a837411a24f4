"""The one error type users see: it names where the problem is."""
from __future__ import annotations


class HarnessError(Exception):
    """A problem with the user's input, reported as one clear line and a non-zero exit.

    `where` names the file and, when known, the line or field (``suite.yaml: metrics[1].name``).
    """

    def __init__(self, message: str, where: str | None = None):
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


def quoted(value: object, keep: int = 40) -> str:
    """A value from the user's input as an error message shows it: quoted, escaped, cut to `keep` characters.

    Keeps the message one short line whatever the input holds (newlines, a megabyte of text).
    """
    text = str(value)
    return repr(text) if len(text) <= keep else repr(text[:keep]) + "…"
