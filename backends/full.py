"""`full`: every weight trains."""
from __future__ import annotations

from pydantic import Field

from harness.tuning.contract import TuneSettings

from .sft import SFTBackend


class FullSettings(TuneSettings):
    learning_rate: float = Field(2e-5, gt=0)
    """Suits pretrained models; a model directory can recommend its own (`tiny` does)."""


class FullFineTune(SFTBackend):
    name = "full"
    settings_class = FullSettings
