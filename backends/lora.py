"""`lora`: low-rank adapters (PEFT) on a frozen base; the saved artefact is the adapter alone."""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from harness.common.lazy import lazy_module
from harness.tuning.contract import TuneSettings

from .sft import SFTBackend

if TYPE_CHECKING:
    import peft
else:  # heavy: imported on first use
    peft = lazy_module("peft")


class LoraSettings(TuneSettings):
    learning_rate: float = Field(2e-4, gt=0)
    """About 10× full fine-tuning's: only the adapters move."""
    r: int = Field(16, gt=0)
    """Adapter rank."""
    alpha: int = Field(32, gt=0)
    """Scaling numerator (the update is scaled by alpha / r)."""
    dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: str | list[str] = "all-linear"
    modules_to_save: list[str] | None = None
    """Modules trained in full beside the adapters (e.g. embeddings for new tokens)."""


class LoRA(SFTBackend):
    name = "lora"
    settings_class = LoraSettings
    adapter = True
    use_dora: ClassVar[bool] = False
    """DoRA (`dora`) is LoRA with the weight split into magnitude and direction."""

    def peft_config(self, settings: TuneSettings, encoder_decoder: bool):
        """A `LoraConfig` from the settings."""
        assert isinstance(settings, LoraSettings)
        return peft.LoraConfig(
            r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
            target_modules=settings.target_modules, modules_to_save=settings.modules_to_save,
            task_type=peft.TaskType.SEQ_2_SEQ_LM if encoder_decoder else peft.TaskType.CAUSAL_LM,
            use_dora=self.use_dora,
        )
