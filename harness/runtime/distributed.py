"""Several processes, one run: the ranks that `accelerate launch` or `torchrun` started.

The launcher sets `WORLD_SIZE` and `RANK`; with one process (no launcher) every function here is a
cheap no-op and nothing distributed is imported. With several, `init` joins them through
accelerate's `PartialState` (gloo on CPU, NCCL on GPU), the same state the Trainer uses for DDP,
FSDP or DeepSpeed. Every process runs the same steps: generation is split between them and gathered,
tuning is data-parallel, and only the main process (rank 0) writes the run directory.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from harness.common.lazy import lazy_module

if TYPE_CHECKING:
    import accelerate
    import torch
    from torch import distributed as dist
else:  # heavy: imported on first use
    accelerate = lazy_module("accelerate")
    torch = lazy_module("torch")
    dist = lazy_module("torch.distributed")


def world_size() -> int:
    """Processes in this run (1 without a launcher)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


_STANDING_IN_FOR: int | None = None


def results_world_size() -> int:
    """The processes whose results this process reads from the caches (a tuned model trained data-parallel is
    keyed by their number): `world_size()`, or, inside `standing_in_for(n)`, n."""
    return _STANDING_IN_FOR or world_size()


@contextmanager
def standing_in_for(processes: int) -> Iterator[None]:
    """Within the block this lone process reads from the caches what `processes` processes would have
    computed (a command whose every result is cached runs alone instead of launching them)."""
    global _STANDING_IN_FOR
    before, _STANDING_IN_FOR = _STANDING_IN_FOR, processes
    try:
        yield
    finally:
        _STANDING_IN_FOR = before


def rank() -> int:
    """This process's index among them (0 without a launcher)."""
    return int(os.environ.get("RANK", "0") or 0)


def local_world_size() -> int:
    """Processes of this run on this machine (they share its cores)."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size())) or 1)


def is_main() -> bool:
    """Whether this process writes the run directory and prints."""
    return rank() == 0


def active() -> bool:
    """Whether several processes share the work."""
    return world_size() > 1


def init() -> None:
    """Join the other processes (no-op alone). Call before any collective step."""
    if active():
        _state()


def _state():
    # accelerate's default (cpu=False) does not recognise a CPU-only launch as distributed.
    return accelerate.PartialState(cpu=not torch.cuda.is_available())


def barrier() -> None:
    """Wait until every process reaches this point."""
    if active():
        _state().wait_for_everyone()


@contextmanager
def main_first() -> Iterator[None]:
    """The main process runs the block first (e.g. to build a cache), then the others."""
    if active():
        with _state().main_process_first():
            yield
    else:
        yield


def share(n: int) -> list[int]:
    """The indices of `n` items this process handles: every world_size-th, starting at its rank, so each
    process gets a similar mix of short and long examples."""
    return list(range(rank(), n, world_size()))


def all_gather(obj: Any) -> list[Any]:
    """Every process's `obj`, in rank order, on every process."""
    if not active():
        return [obj]

    _state()
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def unshare(n: int, mine: Sequence[Any]) -> list[Any]:
    """The whole list of `n` items from each process's share (`mine`, in `share(n)` order), on every process."""
    if not active():
        return list(mine)
    whole: list[Any] = [None] * n
    for r, part in enumerate(all_gather(list(mine))):
        for i, item in zip(range(r, n, world_size()), part):
            whole[i] = item
    return whole


def broadcast(obj: Any) -> Any:
    """The main process's `obj`, on every process."""
    if not active():
        return obj

    _state()
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def finish() -> None:
    """Leave the process group (when one was joined), so the processes exit cleanly."""
    if active():
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
