"""Why a sandboxed run ended, in the one line a prediction's reason holds."""
from __future__ import annotations

import signal

MAX_REASON = 300
"""Characters in an outcome's reason."""


def death_reason(code: int | None, cpu: float, output: str, cpu_seconds: float, memory_mb: int, jailed: bool) -> str:
    """Why a solution's process that answered no more calls ended: a limit's signal, a crash or an exit."""
    sig = -code if code is not None and code < 0 else (code - 128 if jailed and code and code > 128 else None)
    if sig is not None:
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= cpu_seconds):
            return f"killed: CPU time limit ({cpu_seconds} s)"
        return f"killed by {signal.Signals(sig).name}" if sig in signal.valid_signals() else f"killed by signal {sig}"
    last = last_line(output)
    if "MemoryError" in last:
        return f"killed: memory limit ({memory_mb} MB)"
    return f"exited with code {code} before the tests finished" + (f": {last}" if last else "")


def last_line(text: str) -> str:
    """The last line that is not blank ('' when none is)."""
    return next((line for line in reversed(text.splitlines()) if line.strip()), "")


def one_line(text: str) -> str:
    """Whitespace and control characters collapsed to single spaces, cut to MAX_REASON characters."""
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= MAX_REASON else text[:MAX_REASON - 1] + "…"
