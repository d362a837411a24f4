"""Progress bars: redrawn often on a terminal, rarely in a log, and always drawn at their end."""
from __future__ import annotations

import io
import itertools

import tqdm.std

from harness.common.progress import LOG_INTERVAL, progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def redraws(stream: io.StringIO, monkeypatch, seconds: int = 600) -> list[str]:
    """The lines a bar draws over `seconds` one-step updates, one a second (a fake clock)."""
    clock = itertools.count()
    monkeypatch.setattr(tqdm.std, "time", lambda: float(next(clock)))
    with progress_bar(file=stream, total=seconds, desc="train") as bar:
        for _ in range(seconds):
            bar.update(1)
    return [line for line in stream.getvalue().split("\r") if line.strip()]


def test_a_log_gets_a_line_every_interval_and_the_last_state(monkeypatch):
    monkeypatch.delenv("TQDM_MININTERVAL", raising=False)
    lines = redraws(io.StringIO(), monkeypatch)
    assert len(lines) <= 600 / LOG_INTERVAL + 2  # the start, every 30 s, the end
    assert "0/600" in lines[0] and "600/600" in lines[-1]


def test_a_terminal_is_redrawn_at_every_step(monkeypatch):
    monkeypatch.delenv("TQDM_MININTERVAL", raising=False)
    assert len(redraws(Terminal(), monkeypatch)) > 500


def test_the_users_own_interval_wins(monkeypatch):
    monkeypatch.setenv("TQDM_MININTERVAL", "0")
    assert len(redraws(io.StringIO(), monkeypatch)) > 500
