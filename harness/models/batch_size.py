"""The generation batch size: fixed on CPU, the largest that fits on a GPU (searched once, cached).

On CPU a bigger batch buys little and memory is rarely the limit, so the default is fixed. On a GPU
the best batch is the largest whose worst case fits in memory: the longest prompt of the suite padded
to full length, decoding every one of `max_new_tokens`. It is found by doubling then bisection (a few
trial generations) and remembered in the cache directory per architecture, device, prompt length and
output length, so a model is measured once. Outputs do not depend on the batch size, so none of this changes a result.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from harness.cache.dirs import cache_root
from harness.cache.keys import batch_size_key
from harness.common.errors import HarnessError
from harness.common.files import write_json
from harness.common.lazy import lazy_module

if TYPE_CHECKING:
    import torch
else:  # heavy: imported on first use
    torch = lazy_module("torch")

CPU_BATCH_SIZE = 32
LIMIT = 512
"""Never more rows than this in one batch, however much memory there is."""


def largest_fitting(fits: Callable[[int], bool], limit: int, start: int = 8) -> int:
    """The largest batch size in [1, limit] for which `fits` is true, assuming that whatever fits, a smaller
    batch fits too. Doubles from `start` until a size fails, then bisects between the last fit and that failure:
    about 2·log2(limit) calls at most. Raises HarnessError when not even 1 fits."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    good, bad = 0, limit + 1  # fits(good) is known true (0 trivially), fits(bad) false or beyond the limit
    size = max(1, min(start, limit))
    while True:
        if fits(size):
            good = size
            if size == limit:
                return size
            size = min(size * 2, limit)
        else:
            bad = size
            break
    while bad - good > 1:
        mid = (good + bad) // 2
        if fits(mid):
            good = mid
        else:
            bad = mid
    if good == 0:
        raise HarnessError("not even one example fits in GPU memory at this length", "--batch-size")
    return good


def _cache_file() -> Path:
    return cache_root() / "batch-sizes.json"


def cached_search(key: str, search: Callable[[], int], path: Path | None = None) -> int:
    """The batch size remembered under `key`, else `search()`'s answer, remembered."""
    path = path or _cache_file()
    try:
        known = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    if isinstance(known.get(key), int) and known[key] > 0:
        return known[key]
    size = search()
    write_json(path, {**known, key: size})  # last writer wins; both wrote a correct answer
    return size


def generation_batch_size(model, prompts: list[str], max_new_tokens: int) -> int:
    """The batch size for generating `prompts`: CPU_BATCH_SIZE on CPU, on a GPU the largest that fits."""
    device = model.model.device
    if device.type != "cuda" or not prompts:
        return CPU_BATCH_SIZE
    lengths = model.token_lengths(prompts)
    longest = max(lengths)
    props = torch.cuda.get_device_properties(device)
    key = batch_size_key(architecture(model.model), props.name, props.total_memory, str(model.model.dtype), longest,
                         max_new_tokens)
    probe = prompts[lengths.index(longest)]
    return cached_search(key, lambda: largest_fitting(lambda b: _fits(model, probe, max_new_tokens, b),
                                                      min(LIMIT, len(prompts))))


def architecture(module) -> str:
    """What decides a model's memory, not where it came from: its config (without names and versions) and its
    class (a PEFT wrapper adds its adapters). A tuned copy of a model shares its base's search."""
    config = {k: v for k, v in module.config.to_dict().items() if k not in ("_name_or_path", "transformers_version")}
    return json.dumps([type(module).__name__, config], sort_keys=True, default=str)


def _fits(model, prompt: str, max_new_tokens: int, batch_size: int) -> bool:
    """Whether `batch_size` copies of `prompt` generate `max_new_tokens` each without running out of memory."""
    try:
        batch = model.encode([prompt] * batch_size).to(model.model.device)
        with torch.inference_mode():
            model.model.generate(**batch, max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens,
                                 do_sample=False, num_beams=1, pad_token_id=model.tokenizer.pad_token_id,
                                 synced_gpus=False)
        return True
    except torch.cuda.OutOfMemoryError:
        return False
    finally:
        torch.cuda.empty_cache()
