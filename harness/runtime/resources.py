"""Measuring what tuning costs: wall time and peak memory, outside the backend's control."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.common.lazy import lazy_module

if TYPE_CHECKING:
    import psutil
    import torch
else:  # heavy: imported on first use
    psutil = lazy_module("psutil")
    torch = lazy_module("torch")


@dataclass
class Usage:
    seconds: float = 0.0
    peak_memory_mb: float = 0.0
    memory_kind: str = "rss"


@contextmanager
def measure(interval: float = 0.05):
    """Wall seconds and peak memory of the block: the torch allocator's peak on GPU, else the
    process's resident set size sampled every `interval` seconds."""
    usage = Usage()
    cuda = torch.cuda.is_available()
    stop = threading.Event()
    process = psutil.Process()

    def sample():
        while not stop.is_set():
            usage.peak_memory_mb = max(usage.peak_memory_mb, process.memory_info().rss / 2**20)
            stop.wait(interval)

    if cuda:
        torch.cuda.reset_peak_memory_stats()
        usage.memory_kind = "cuda"
    else:
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
    start = time.perf_counter()
    try:
        yield usage
    finally:
        usage.seconds = time.perf_counter() - start
        if cuda:
            usage.peak_memory_mb = torch.cuda.max_memory_allocated() / 2**20
        else:
            stop.set()
            sampler.join()
