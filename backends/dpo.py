"""`dpo`: direct preference optimisation (TRL's `DPOTrainer`) on pairs the harness builds from the run's own
evidence (`harness/tuning/pairs.py`: raters' A/B choices, or sampled outputs scored by the suite's metric).

LoRA adapters on a frozen base by default (the reference model is then the base itself, adapters disabled, so no
second copy is held); `method: full` trains every weight against a frozen copy. The training machinery (arguments,
devices, checkpoints, the progress bar, saving) is the supervised backends' (`sft.py`); only the trainer differs.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from harness.common.errors import HarnessError
from harness.common.lazy import lazy_module
from harness.tuning.contract import PreferenceSettings, TrainExample, TuneSettings

from .checkpoints import checkpointed
from .lora import LoRA, LoraSettings

if TYPE_CHECKING:
    import datasets
    import trl
else:  # heavy: imported on first use
    datasets = lazy_module("datasets")
    trl = lazy_module("trl")


class DpoSettings(LoraSettings, PreferenceSettings):
    learning_rate: float = Field(5e-5, gt=0)
    """Lower than LoRA's supervised 2e-4: the preference loss moves the policy away from its reference fast."""
    epochs: float = Field(2.0, gt=0)
    """Passes over the pairs (ignored when max_steps is set)."""
    batch_size: int = Field(8, gt=0)
    """Pairs per optimizer step."""
    warmup_steps: int = Field(2, ge=0)
    """Linear warm-up steps: few, since a default run has few pairs (at most one per sampled prompt)."""
    beta: float = Field(0.1, gt=0)
    """Strength of the pull towards the reference model (TRL's default); lower lets the policy move further."""
    loss_type: Literal["sigmoid", "ipo", "hinge"] = "sigmoid"
    """The preference loss: DPO's `sigmoid`, IPO, or the hinge of SLiC."""
    method: Literal["lora", "full"] = "lora"
    """`lora`: adapters over the frozen base, which is also the reference; `full`: every weight, against a copy."""


class DPO(LoRA):
    name = "dpo"
    settings_class = DpoSettings
    uses_pairs = True

    def peft_config(self, settings: TuneSettings, encoder_decoder: bool):
        assert isinstance(settings, DpoSettings)
        self.adapter = settings.method == "lora"
        return super().peft_config(settings, encoder_decoder) if self.adapter else None

    def make_trainer(self, examples: list[TrainExample], common: dict, peft_config):
        if self.pairs is None:
            raise HarnessError("dpo learns from preference pairs, which `harness run --backend dpo` builds "
                               "(metric-verified, or from --pairs-from RUN_DIR)", "dpo")
        if self.loaded.encoder_decoder:
            raise HarnessError("dpo tunes causal language models only (TRL's DPOTrainer)", "dpo")
        settings = self.settings
        assert isinstance(settings, DpoSettings)
        if self.loaded.chat:
            # Conversational pairs: TRL renders them with the model's chat template exactly as evaluation does.
            with_tools = any(p.tools for p in self.pairs)
            rows = [{"prompt": p.messages, "chosen": [{"role": "assistant", "content": p.chosen}],
                     "rejected": [{"role": "assistant", "content": p.rejected}]}
                    | ({"tools": json.dumps(p.tools) if p.tools else None} if with_tools else {})
                    for p in self.pairs]
        else:  # TRL appends EOS to both sides
            rows = [{"prompt": self.loaded.render(p.messages, p.tools), "chosen": p.chosen, "rejected": p.rejected}
                    for p in self.pairs]
        # Pairs of similar lengths need no rebalancing: plain random order.
        args = trl.DPOConfig(**(common | {"train_sampling_strategy": "random"}), max_length=settings.max_length,
                             beta=settings.beta, loss_type=[settings.loss_type], precompute_ref_log_probs=False)
        return checkpointed(trl.DPOTrainer)(model=self.loaded.model, args=args,
                                            train_dataset=datasets.Dataset.from_list(rows),
                                            processing_class=self.loaded.tokenizer, peft_config=peft_config)
