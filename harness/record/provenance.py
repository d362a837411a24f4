"""What a run took from the caches instead of computing it."""
from __future__ import annotations

from .spec import Record


class CacheUse(Record):
    """One state's use of the generation cache: how many model outputs (reference losses, explanations)
    were read from it and how many were computed in this run."""

    outputs_from_cache: int = 0
    """Outputs read from the cache (test examples under every prompt variant, and the batch-invariance
    check's sample)."""
    outputs_generated: int = 0
    """Outputs generated in this run (and stored in the cache)."""
    losses_from_cache: int = 0
    """Retention-suite reference losses read from the cache."""
    losses_computed: int = 0
    """Retention-suite reference losses computed in this run."""
    explanations_from_cache: int = 0
    """Explained examples (token probabilities, next tokens, attention) read from the cache."""
    explanations_computed: int = 0
    """Explained examples computed in this run."""


class TunedFromCache(Record):
    """A tuned state whose artefact was restored from the tuning cache instead of trained: its
    `cost` is the original training's."""

    key: str
    """The tuning key: sha256 of the base model's fingerprint, the rendered training examples, the
    resolved settings, seed, backend code and package versions."""
    trained: str
    """When the artefact was originally trained (ISO-8601 UTC)."""
    trained_in: str
    """The run (or `harness tune` output folder) that trained it."""
    restore_seconds: float
    """What restoring it cost this run."""
