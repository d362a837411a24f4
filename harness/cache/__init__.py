"""Layered, content-addressed caches, so that a repeated run costs almost nothing.

- generations: a model's outputs (reference losses, explanations) for exact inputs (`GenerationCache`);
- tuning: tuned artefacts by exactly what decides them (`TuningCache`);
- scores: the verdicts of metrics that run the output's code (two jails per example), by output, tests,
  preamble and the sandbox's code and limits; and each state's outputs on a suite scored and aggregated,
  by the examples, inputs, outputs, metrics, seed and scoring code;
- comparisons: paired tests of two states' rows (their slowest part is sacrebleu's randomization),
  and data-quality reports (which tokenise every example and compare every pair of prompts);
- under them all, each model file's hash, remembered by (path, size, mtime).

Every key is made in `keys`, from its declaration of what decides each kind of result.

Everything lives in `cache_root()` (`HARNESS_CACHE`, default ~/.cache/harness): a SQLite
database in WAL mode that several processes share safely, a folder of tuned artefacts and one of the
reports' charts (`reports.charts.remember_in`).
`harness run|eval|tune --no-cache` bypasses it; `harness cache info|clear` inspects or empties it.
"""
from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import keys
from .fingerprint import model_fingerprint
from .generations import GenerationCache
from .keys import COMPARISONS, DATA_REPORTS, EVALUATIONS, EXPLANATIONS, JUDGE_ANSWERS, LOSSES, OUTPUTS, SCORES, TUNED
from .store import DB_FILE, NotCached, Store, cache_root, folder_bytes
from .tuning import CachedTuning, TuningCache

KINDS = {"generations": [OUTPUTS, LOSSES, EXPLANATIONS], "scores": [SCORES, EVALUATIONS],
         "comparisons": [COMPARISONS, DATA_REPORTS], "tuning": [TUNED], "judging": [JUDGE_ANSWERS]}
"""What `harness cache clear --only` can name, and the entry kinds behind each."""


class Cache:
    """The caches in one root folder."""

    def __init__(self, root: str | Path | None = None, computing: bool = True):
        self.store = Store(root)
        self.tuning = TuningCache(self.store)
        self.computing = computing
        """False: what a run must generate or train is not computed but raises `NotCached` (scores, comparisons
        and data reports, computed where the run's main process computes them anyway, still are)."""

    def reading_only(self) -> "Cache":
        """These caches, for a run that may only read generations and tuned models from them."""
        other = copy.copy(self)  # the same store and tuning cache
        other.computing = False
        return other

    @property
    def root(self) -> Path:
        """The folder the caches live in."""
        return self.store.root

    def fingerprint(self, model: str) -> str | None:
        """The model's fingerprint (None: not cacheable, e.g. a hub id that does not resolve offline)."""
        return model_fingerprint(self.store, model)

    def generations(self, model: str, adapter: str | None, dtype: str, device: str) -> GenerationCache | None:
        """The generation cache of this model (and adapter) in this dtype on this device kind."""
        fp = self.fingerprint(model)
        adapter_fp = self.fingerprint(adapter) if adapter else None
        if fp is None or (adapter and adapter_fp is None):
            return None
        return GenerationCache(self.store, fp, adapter_fp, dtype, device, self.computing)

    def info(self) -> "CacheInfo":
        """What the caches hold and how much disk they take."""
        counts = self.store.counts()
        db = sum(p.stat().st_size for p in self.root.glob(f"{DB_FILE}*") if p.is_file())
        return CacheInfo(root=self.root, outputs=counts.get(OUTPUTS, 0), losses=counts.get(LOSSES, 0),
                         explanations=counts.get(EXPLANATIONS, 0), scores=counts.get(SCORES, 0),
                         evaluations=counts.get(EVALUATIONS, 0),
                         comparisons=counts.get(COMPARISONS, 0), data_reports=counts.get(DATA_REPORTS, 0),
                         tuned=counts.get(TUNED, 0), judge_answers=counts.get(JUDGE_ANSWERS, 0),
                         file_hashes=counts["file hashes"], database_bytes=db,
                         tuned_bytes=folder_bytes(self.store.tuned_dir))

    def clear(self, only: str | None = None) -> int:
        """Empty the caches (or only one of `KINDS`); returns the entries removed."""
        gone = self.store.clear(KINDS[only] if only else None)
        if only in (None, "tuning") and self.store.tuned_dir.exists():
            shutil.rmtree(self.store.tuned_dir)
        if only is None and self.store.charts_dir.exists():
            shutil.rmtree(self.store.charts_dir)
        return gone


@dataclass
class CacheInfo:
    """A summary of the caches' contents."""

    root: Path
    outputs: int
    losses: int
    explanations: int
    scores: int
    evaluations: int
    comparisons: int
    data_reports: int
    tuned: int
    file_hashes: int
    database_bytes: int
    tuned_bytes: int
    judge_answers: int = 0


CACHED_KINDS = (OUTPUTS, LOSSES, EXPLANATIONS)
"""What a model's generation cache holds, in the order `CacheUse` counts them."""

__all__ = ["CACHED_KINDS", "DATA_REPORTS", "TUNED", "Cache", "CacheInfo", "CachedTuning", "GenerationCache",
           "NotCached", "Store", "TuningCache", "cache_root", "keys"]
