"""`ia3`: (IA)³, learned vectors that rescale activations (PEFT; Liu et al., 2022).

Far fewer trainable parameters than LoRA: one vector per targeted module. Keys, values and the
feed-forward output are rescaled; PEFT knows where those are for each architecture (Llama:
`k_proj`, `v_proj`, `down_proj` with `down_proj` as the feed-forward module; T5: `k`, `v`, `wo`
with `wo`). The artefact is a plain PEFT adapter.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from harness.common.errors import HarnessError
from harness.common.lazy import lazy_module
from harness.tuning.contract import TuneSettings

from .sft import SFTBackend

if TYPE_CHECKING:
    import peft
    from peft.utils import constants as peft_constants
else:  # heavy: imported on first use
    peft = lazy_module("peft")
    peft_constants = lazy_module("peft.utils.constants")


class IA3Settings(TuneSettings):
    learning_rate: float = Field(3e-3, gt=0)
    """The (IA)³ paper's rate (T-Few): scaling vectors start at 1 and need larger steps than LoRA's matrices."""
    target_modules: list[str] | None = None
    """Modules whose activations are rescaled; None: PEFT's choice for the architecture."""
    feedforward_modules: list[str] | None = None
    """Those of `target_modules` rescaled at their input (feed-forward layers). None: PEFT's choice when
    `target_modules` is also left to PEFT, else none."""
    modules_to_save: list[str] | None = None
    """Modules trained in full beside the vectors (e.g. embeddings for new tokens)."""


class IA3(SFTBackend):
    name = "ia3"
    settings_class = IA3Settings
    adapter = True

    def peft_config(self, settings: TuneSettings, encoder_decoder: bool):
        """An `IA3Config`; one clear line when PEFT has no default modules for the architecture."""
        assert isinstance(settings, IA3Settings)
        model_type = self.loaded.model.config.model_type
        defaults = peft_constants.TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING
        if settings.target_modules is None and model_type not in defaults:
            raise HarnessError(f"PEFT has no default (IA)³ modules for model type {model_type!r}; "
                               "set ia3.target_modules and ia3.feedforward_modules", "ia3 settings")
        feedforward = settings.feedforward_modules
        if feedforward is None and settings.target_modules is not None:
            feedforward = []
        if feedforward and settings.target_modules and not set(feedforward) <= set(settings.target_modules):
            raise HarnessError("ia3.feedforward_modules must be a subset of ia3.target_modules", "ia3 settings")
        return peft.IA3Config(target_modules=settings.target_modules, feedforward_modules=feedforward,
                              modules_to_save=settings.modules_to_save,
                              task_type=peft.TaskType.SEQ_2_SEQ_LM if encoder_decoder else peft.TaskType.CAUSAL_LM)
