"""`prompt_tuning`: a few trainable "virtual token" embeddings put before every prompt (PEFT;
Lester et al., 2021). The base model stays frozen; the artefact is a plain PEFT adapter.

Works for causal LMs (trained with TRL's `SFTTrainer`) and encoder-decoders (the virtual tokens
go before the encoder input). PEFT ignores position ids for prompt tuning, so a left-padded row's
positions would depend on its batch: the harness generates with such models in batches of
prompts of equal token length, which keeps outputs independent of the batch size.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from harness.common.errors import HarnessError
from harness.common.lazy import lazy_module
from harness.tuning.contract import TuneSettings

from .sft import SFTBackend

if TYPE_CHECKING:
    import peft
else:  # heavy: imported on first use
    peft = lazy_module("peft")


class PromptTuningSettings(TuneSettings):
    learning_rate: float = Field(3e-2, gt=0)
    """Soft prompts need large steps: PEFT's prompt-tuning examples use 3e-2 (the paper, 0.3 with Adafactor)."""
    virtual_tokens: int = Field(20, gt=0, le=512)
    """Trainable embeddings put before every prompt (20 worked well across model sizes in the paper)."""
    init: Literal["sample_vocab", "random", "text"] = "sample_vocab"
    """Start from embeddings of tokens sampled from the vocabulary, random vectors, or `init_text`'s tokens."""
    init_text: str | None = None
    """With `init: text`: a task description whose token embeddings start the virtual tokens."""
    modules_to_save: list[str] | None = None
    """Modules trained in full beside the virtual tokens (e.g. `lm_head`). Not the input embeddings: PEFT
    embeds a prompt-tuned model's input with the frozen ones, so a trained copy would never be used."""


class PromptTuning(SFTBackend):
    name = "prompt_tuning"
    settings_class = PromptTuningSettings
    adapter = True

    def peft_config(self, settings: TuneSettings, encoder_decoder: bool):
        """A `PromptTuningConfig`; text initialisation reads the base model's own tokenizer."""
        assert isinstance(settings, PromptTuningSettings)
        model = self.loaded.model
        embeddings = next(name for name, module in model.named_modules() if module is model.get_input_embeddings())
        if any(embeddings == m or embeddings.endswith(f".{m}") for m in settings.modules_to_save or []):
            raise HarnessError(f"prompt_tuning.modules_to_save names the input embeddings ({embeddings}): PEFT feeds a "
                               "prompt-tuned model through its frozen embeddings, so a trained copy would change "
                               "nothing; leave them out", "prompt_tuning settings")
        if (settings.init == "text") != (settings.init_text is not None):
            raise HarnessError("prompt_tuning.init_text goes with prompt_tuning.init: text (and only with it)",
                               "prompt_tuning settings")
        init = {"sample_vocab": peft.PromptTuningInit.SAMPLE_VOCAB, "random": peft.PromptTuningInit.RANDOM,
                "text": peft.PromptTuningInit.TEXT}[settings.init]
        text = dict(prompt_tuning_init_text=settings.init_text,
                    tokenizer_name_or_path=self.loaded.model.name_or_path) if settings.init == "text" else {}
        task_type = peft.TaskType.SEQ_2_SEQ_LM if encoder_decoder else peft.TaskType.CAUSAL_LM
        return peft.PromptTuningConfig(num_virtual_tokens=settings.virtual_tokens, prompt_tuning_init=init,
                                       modules_to_save=settings.modules_to_save, **text, task_type=task_type)
