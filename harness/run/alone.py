"""A run whose every generation and tuned model is cached runs in the one process that planned it.

`harness run --processes N` (and `eval`) starts N processes, each of which imports torch, joins the others
and plans the run again: seconds of work when nothing is left to compute. So the command first executes
the run it planned here, alone, with caches that may only read (`Cache.reading_only`) and that key tuned
models as N processes would have trained them (`distributed.standing_in_for`). When something must be
generated or trained, the attempt stops at its first miss (`NotCached`), its run directory is removed, and
the processes are launched as before; what it computed on the way (scores, comparisons, the data report)
is in the caches for them. What it printed is held back and shown only when it finished.
"""
from __future__ import annotations

import contextlib
import io
import shutil
import sys
from dataclasses import replace
from pathlib import Path

from harness.cache import NotCached
from harness.record import RunRecord
from harness.runtime import distributed

from .dirs import discard_if_empty, new_run_dir
from .orchestrate import Plan, execute


class Held:
    """What a command wrote to standard output and error, in order, until it is `shown`."""

    def __init__(self) -> None:
        self.chunks: list[tuple[str, str]] = []

    def stream(self, name: str) -> io.StringIO:
        """A stream whose writes are held as `name`'s (`stdout` or `stderr`); not a terminal."""
        held = self

        class Stream(io.StringIO):
            def write(self, text: str) -> int:
                held.chunks.append((name, text))
                return len(text)

        return Stream()

    def show(self) -> None:
        """Write what was held to the streams it was written to."""
        for name, text in self.chunks:
            getattr(sys, name).write(text)
        self.chunks = []


def execute_alone(p: Plan, out: Path, processes: int) -> tuple[Path, RunRecord, Held] | None:
    """Execute a planned run in this process from the caches, as `processes` processes would have run it:
    (its run directory, record, what it printed); None, leaving no run directory, when something must be
    generated or trained (or the model cannot be fingerprinted, so nothing about it is cached)."""
    if p.cache is None or p.cache.fingerprint(p.model_path) is None or (
            p.request.adapter is not None and p.cache.fingerprint(p.request.adapter) is None):
        return None
    run_dir = new_run_dir(out, p.config_key)
    held = Held()
    try:
        with distributed.standing_in_for(processes), contextlib.redirect_stdout(held.stream("stdout")), \
                contextlib.redirect_stderr(held.stream("stderr")):
            record = execute(replace(p, cache=p.cache.reading_only()), run_dir)
    except NotCached:
        shutil.rmtree(run_dir, ignore_errors=True)
        return None
    except BaseException:
        held.show()  # whatever went wrong, said as a run in several processes would have said it
        discard_if_empty(run_dir)
        raise
    return run_dir, record, held
