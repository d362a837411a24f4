"""Progress bars that suit where they are read: redrawn often on a terminal, rarely in a log.

Written to a file or a CI log, every redraw of a bar is a line of its own; a demo's training
would fill about 1,400 of them. Off a terminal a bar is therefore drawn when it starts, at most
every `LOG_INTERVAL` seconds, and when it ends. `TQDM_MININTERVAL` in the environment still
decides, where a user has set it.
"""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from harness.common.lazy import lazy_module

if TYPE_CHECKING:
    from tqdm import auto as tqdm_auto
else:  # heavy: imported on first use
    tqdm_auto = lazy_module("tqdm.auto")

LOG_INTERVAL = 30.0  # seconds between a bar's lines in a log
TERMINAL_INTERVAL = 0.1  # tqdm's own default


def progress_bar(file: TextIO | None = None, **options: Any) -> Any:
    """A tqdm bar on `file` (default: standard error), redrawn as suits a terminal or a log, whose finished
    state is drawn once: by `close`, not also by the update that completed it (in a log each redraw is a line,
    and a slow stage printed its final count two or three times)."""
    class OneFinalLine(tqdm_auto.tqdm):
        def update(self, n: float | None = 1) -> bool | None:
            if self.total is not None and not self.disable and self.n + (n or 0) >= self.total:
                self.n += n or 0  # the finished count: `close` draws it
                return None
            return super().update(n)

    stream = sys.stderr if file is None else file
    if "TQDM_MININTERVAL" not in os.environ:
        interactive = hasattr(stream, "isatty") and stream.isatty()
        options.setdefault("mininterval", TERMINAL_INTERVAL if interactive else LOG_INTERVAL)
    return OneFinalLine(file=stream, **options)
