"""Metrics by name. A suite lists them in `metrics:`; options after the name go to the class."""
from __future__ import annotations

from .base import Metric, Score
from .match import ExactMatch
from .sacre import Bleu, Chrf
from .tools import ToolArguments, ToolName

METRICS: dict[str, type[Metric]] = {m.name: m for m in (ExactMatch, ToolName, ToolArguments, Bleu, Chrf)}


def make_metric(name: str, language: str, options: dict) -> Metric:
    try:
        return METRICS[name](language=language, **options)
    except TypeError as e:
        raise ValueError(f"metric {name!r}: bad options {sorted(options)}") from e


__all__ = ["METRICS", "Metric", "Score", "make_metric"]
