"""The generation cache: a model's outputs (and reference losses and explanations) for exact inputs.

An output is addressed (`keys.output_key`) by the model's and adapter's fingerprints, dtype and
device kind, the versions of the packages and of our own code that generate it, the exact model
input and the generation settings. Greedy decoding makes that a function, and the batch-invariance check
keeps it one: outputs do not depend on which batch computed them. The check's second outputs are
cached apart (`keys.AGAIN`), so a warm run still compares outputs that were generated in two different
batchings rather than one cached output with itself.
"""
from __future__ import annotations

from typing import Callable, Sequence

from .keys import LOSSES, OUTPUTS, loss_key, model_key, output_key
from .store import NotCached, Store


class GenerationCache:
    """One model's cached outputs, reference losses and explanations; counts, by kind, what it served and
    what it had to compute."""

    def __init__(self, store: Store, model: str, adapter: str | None, dtype: str, device: str,
                 computing: bool = True):
        self.store = store
        self.model_key = model_key(model, adapter, dtype, device)
        self.computing = computing
        """False: a missing value raises `NotCached` instead of being computed (nothing loads the weights)."""
        self.used: dict[str, list[int]] = {}
        """Kind → [values read from the cache, values computed]."""

    def use(self, kind: str) -> tuple[int, int]:
        """(read from the cache, computed) for values of `kind` so far."""
        hits, computed = self.used.get(kind, (0, 0))
        return hits, computed

    def values(self, kind: str, keys: list[str], compute: Callable[[list[int]], list], progress=None,
               counted: int | None = None) -> list:
        """One JSON value per key (made by `keys.py` from this cache's `model_key`): cached ones looked up, the
        rest computed together (`compute` gets their indices, ascending) and stored. `progress` advances by the
        hits among the first `counted` keys (default: all)."""
        found = self.store.get_many(kind, keys)
        missing = [i for i, k in enumerate(keys) if k not in found]
        if progress is not None:
            counted = len(keys) if counted is None else counted
            progress.update(counted - sum(1 for i in missing if i < counted))
        if missing and not self.computing:
            raise NotCached(f"{len(missing)} {kind} of {self.model_key[:12]}")
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
        keys = [output_key(self.model_key, p, max_new_tokens, stop, again=False) for p in prompts]
        keys += [output_key(self.model_key, p, max_new_tokens, stop, again=True) for p in again]

        def missing(indices: list[int]) -> list[str]:  # ascending: the prompts' first, as compute returns them
            return compute([prompts[i] for i in indices if i < n], [again[i - n] for i in indices if i >= n])

        return self.values(OUTPUTS, keys, missing, progress, counted=n)

    def losses(self, prompts: list[str], references: list[str],
               compute: Callable[[list[str], list[str]], list[tuple[float, int]]]) -> list[tuple[float, int]]:
        """(summed negative log-likelihood, token count) per reference."""
        values = self.values(LOSSES, [loss_key(self.model_key, p, r) for p, r in zip(prompts, references)],
                             lambda idx: [list(v) for v in compute([prompts[i] for i in idx],
                                                                   [references[i] for i in idx])])
        return [(float(nll), int(n)) for nll, n in values]
