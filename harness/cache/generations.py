"""The generation cache: a model's outputs (and reference losses and explanations) for exact inputs.

An output is addressed by the model's and adapter's fingerprints, dtype and device kind, the
versions of the packages and of our own code that generate it, the exact model input and the
generation settings. Greedy decoding makes that a function, and the batch-invariance check
keeps it one: outputs do not depend on which batch computed them. The check's second outputs are
cached apart (`AGAIN`), so a warm run still compares outputs that were generated in two different
batchings rather than one cached output with itself.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from .fingerprint import MODEL_PACKAGES, package_versions, source_hash
from .store import Store, digest

GENERATION_VERSION = 1
"""Bump when generation changes in a way its source files do not show (they are hashed too)."""
OUTPUTS = "outputs"
LOSSES = "losses"
EXPLANATIONS = "explanations"
AGAIN = "batch-invariance check"
"""Marks the check's second outputs: same input and settings, another batching."""


def generation_code() -> str:
    """Version of the code between a model input and its output: the constant and the sources."""
    here = Path(__file__).resolve().parents[1]
    return f"{GENERATION_VERSION}:{source_hash([here / 'models' / 'generate.py', here / 'models' / 'loading.py'])[:16]}"


class GenerationCache:
    """One model's cached outputs, reference losses and explanations; counts, by kind, what it served and
    what it had to compute."""

    def __init__(self, store: Store, model: str, adapter: str | None, dtype: str, device: str):
        self.store = store
        self.model_key = digest(model, adapter, dtype, device, generation_code(), package_versions(MODEL_PACKAGES))
        self.used: dict[str, list[int]] = {}
        """Kind → [values read from the cache, values computed]."""

    def use(self, kind: str) -> tuple[int, int]:
        """(read from the cache, computed) for values of `kind` so far."""
        hits, computed = self.used.get(kind, (0, 0))
        return hits, computed

    def values(self, kind: str, inputs: list[list], compute: Callable[[list[int]], list], progress=None,
               counted: int | None = None) -> list:
        """One JSON value per input: cached ones looked up, the rest computed together (`compute` gets their
        indices, ascending) and stored. An input lists everything besides the model that decides its value.
        `progress` advances by the hits among the first `counted` inputs (default: all)."""
        keys = [digest(self.model_key, kind, *parts) for parts in inputs]
        found = self.store.get_many(kind, keys)
        missing = [i for i, k in enumerate(keys) if k not in found]
        if progress is not None:
            counted = len(keys) if counted is None else counted
            progress.update(counted - sum(1 for i in missing if i < counted))
        if missing:
            new = {keys[i]: value for i, value in zip(missing, compute(missing))}
            self.store.put_many(kind, new.items())
            found.update(new)
        use = self.used.setdefault(kind, [0, 0])
        use[0] += len(keys) - len(missing)
        use[1] += len(missing)
        return [found[k] for k in keys]

    def outputs(self, prompts: Sequence[str], again: Sequence[str], max_new_tokens: int, stop: Sequence[str],
                compute: Callable[[list[str], list[str]], list[str]], progress=None) -> list[str]:
        """Outputs for `prompts`, then for `again` (the batch-invariance check's second outputs, generated in
        other batches and cached apart, so that a warm run compares outputs of two batchings, not one output
        with itself). `compute(prompts, again)` generates the missing ones together; `progress` counts
        `prompts` only (generation advances it for the ones it makes)."""
        n = len(prompts)
        inputs = [[p, max_new_tokens, list(stop), ""] for p in prompts]
        inputs += [[p, max_new_tokens, list(stop), AGAIN] for p in again]

        def missing(indices: list[int]) -> list[str]:  # ascending: the prompts' first, as compute returns them
            return compute([prompts[i] for i in indices if i < n], [again[i - n] for i in indices if i >= n])

        return self.values(OUTPUTS, inputs, missing, progress, counted=n)

    def losses(self, prompts: list[str], references: list[str],
               compute: Callable[[list[str], list[str]], list[tuple[float, int]]]) -> list[tuple[float, int]]:
        """(summed negative log-likelihood, token count) per reference."""
        values = self.values(LOSSES, [[p, r] for p, r in zip(prompts, references)],
                             lambda idx: [list(v) for v in compute([prompts[i] for i in idx],
                                                                   [references[i] for i in idx])])
        return [(float(nll), int(n)) for nll, n in values]
