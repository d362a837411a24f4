"""`dora`: weight-decomposed low-rank adaptation (PEFT's `use_dora`), a preset of `lora`.

Each adapted weight is split into a magnitude vector and a direction; the direction gets the
low-rank update, the magnitude trains as is (Liu et al., 2024). The artefact is a plain PEFT
adapter. DoRA costs more time per step than LoRA (it re-normalises the adapted weights on every
forward pass), which the strategy page shows beside what it buys.
"""
from __future__ import annotations

from pydantic import Field

from .lora import LoRA, LoraSettings


class DoraSettings(LoraSettings):
    learning_rate: float = Field(2e-4, gt=0)
    """LoRA's rate: DoRA trains the same adapters plus a magnitude vector per weight. Every default
    equals `lora`'s, so `lora` against `dora` compares the decomposition alone."""


class DoRA(LoRA):
    name = "dora"
    settings_class = DoraSettings
    use_dora = True
