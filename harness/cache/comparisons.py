"""Run-level caches: paired comparisons and data-quality reports, by exactly what decides them.

A comparison (delta, its bootstrap interval, the paired test and its p-values) is a pure
function of the paired examples' outputs, references and scores, the metric (its options and
code), the seed, and the statistics code and packages. Sacrebleu's randomization tests make it
the slowest step of analysing a run whose outputs all came from the generation cache.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .fingerprint import class_sources, package_versions, source_hash
from .store import digest

COMPARISONS = "comparisons"
STATS_PACKAGES = ("numpy", "scipy", "sacrebleu")


def comparison_key(metric: Any, info: Any, baseline: str, state: str, base_rows: list, state_rows: list,
                   seed: int, alpha: float = 0.05) -> str:
    """The address of one comparison: metric (record info and code), both sides' rows, seed, alpha (it sets
    the one-sided bounds), code."""
    here = Path(__file__).resolve().parents[1]
    code = source_hash([here / "stats" / "compare.py", here / "stats" / "methods.py", *class_sources(type(metric))])
    name = info.name

    def side(rows):
        return [[r.id, r.output, r.reference, r.scores.get(name)] for r in rows]

    return digest(code, package_versions(STATS_PACKAGES), info.model_dump(mode="json"), baseline, state,
                  side(base_rows), side(state_rows), seed, alpha)


DATA_REPORTS = "data reports"
DATA_PACKAGES = ("transformers", "tokenizers")


def data_report_key(suites: list, model: str, fingerprint: str, max_lengths: dict[str, int]) -> str:
    """The address of a data-quality report: each suite's content hash (its YAML and data) and test sample,
    the model's name and fingerprint (its tokenizer counts the lengths), the backends' max_length, and
    the code and packages that measure."""
    here = Path(__file__).resolve().parents[1]
    code = source_hash([here / name for name in ("dataquality/report.py", "dataquality/similarity.py",
                                                 "dataquality/tokenlengths.py", "models/loading.py",
                                                 "record/data.py")])
    return digest(code, package_versions(DATA_PACKAGES), suites, model, fingerprint, max_lengths)
