"""How many CPU threads torch uses: one fewer than the cores this process may use, shared among the
run's processes on the machine.

torch's default, one thread per core, makes every matrix product wait for its slowest thread: with
a little other load on the machine, generation on CPU measured 5–7× slower. Leaving one core free
costs little when the machine is idle and keeps the run fast when it is not. `--threads N` or the
`OMP_NUM_THREADS` environment variable overrides it; the count used is recorded in the run.
"""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from harness.common.errors import HarnessError
from harness.common.lazy import lazy_module

if TYPE_CHECKING:
    import torch
else:  # heavy: imported on first use
    torch = lazy_module("torch")

ENV = "OMP_NUM_THREADS"


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform tells, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_threads(cores: int, processes: int = 1) -> int:
    """One fewer than `cores`, split among `processes` on the machine; at least 1."""
    return max(1, (cores - 1) // max(1, processes))


def configure(requested: int | None = None, processes: int = 1) -> int:
    """Set torch's thread count once for this process and return it.

    `requested` (a `--threads` option) wins, then `OMP_NUM_THREADS`, then `default_threads`. The count
    is also exported as `OMP_NUM_THREADS`, so child processes and accelerate (which would otherwise
    choose its own) agree.
    """
    if requested is not None and requested < 1:
        raise HarnessError(f"needs at least one thread, got {requested}", "--threads")
    from_env = os.environ.get(ENV, "").strip()
    if requested is not None:
        threads = requested
    elif from_env.isdigit() and int(from_env) > 0:
        threads = int(from_env)
    else:
        threads = default_threads(usable_cores(), processes)
    os.environ[ENV] = str(threads)
    # torch reads the variable when it is imported; only a torch already imported must be told (so that
    # gating a finished run, which never needs torch, does not import it here).
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def current() -> int:
    """The thread count torch uses now (recorded in the run's environment)."""
    return torch.get_num_threads()
