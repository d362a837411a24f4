"""The two trainers as the backends use them: each step split into micro-batches of similar lengths,
and, for TRL, without the per-step extras the run record does not read.

- Padding: a step's examples are drawn at random as before, then split into micro-batches of
  similar lengths (transformers' `batch_rebalance` sampler with gradient accumulation): on the
  shipped suites padding falls from 34% to 20% of positions on tiny and from 18% to 9% with the
  SmolLM2 tokenizer, for the same examples per step and the same loss (token-summed over the
  step). The sampler's own shuffle seed is fixed; here it is the run's seed. Two alternatives were
  measured and left out: grouping by length (`group_by_length`) leaves 2% padding but orders each
  megabatch longest first, so steps come in blocks of one task, and full fine-tuning of tiny then
  failed the demo's agent_tools gates (exact match 0.09 instead of 0.8); TRL's `padding_free`
  gives identical losses but, without a variable-length attention kernel (flash attention, GPU
  only), attends over the whole packed row: 1.2x on tiny, 5% slower on a 135M model on CPU.
- TRL's SFTTrainer computes, on every step, the entropy and top-1 accuracy of each token's
  distribution (in its fused LM head) and gathers them across processes to log them. The record
  keeps the loss and the token count only, so its lean path asks the fused head for log-probabilities
  alone and computes TRL's own loss from them (measured ~5% more tokens per CPU-second on a 135M
  model; identical losses). Any other loss configuration goes through TRL unchanged.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.common.lazy import lazy_module

if TYPE_CHECKING:
    import torch
    import trl
    from transformers import trainer_pt_utils
    from trl.trainer import utils as trl_utils
else:  # heavy: imported on first use
    torch = lazy_module("torch")
    trainer_pt_utils = lazy_module("transformers.trainer_pt_utils")
    trl = lazy_module("trl")
    trl_utils = lazy_module("trl.trainer.utils")


def rebalanced(trainer_class: type) -> type:
    """`trainer_class` (a transformers Trainer) whose `batch_rebalance` sampler shuffles with the run's seed."""
    class Rebalanced(trainer_class):
        def _get_train_sampler(self, train_dataset=None):
            sampler = super()._get_train_sampler(train_dataset)
            if isinstance(sampler, trainer_pt_utils.BatchRebalanceSampler):
                sampler.seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            return sampler

    Rebalanced.__name__ = Rebalanced.__qualname__ = trainer_class.__name__
    return Rebalanced


def lean_sft_trainer() -> type:
    """TRL's SFTTrainer, rebalanced, computing the plain NLL loss without entropy and accuracy."""
    class LeanSFTTrainer(rebalanced(trl.SFTTrainer)):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.lean = (self.args.loss_type == "nll" and self.compute_loss_func is None
                         and self.label_smoother is None and not self.aux_loss_enabled)
            if self.lean:  # replaces the head TRL added (same kernel, fewer outputs)
                model = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
                trl_utils.add_fused_lm_head(model, outputs=("log_probs",))

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if not self.lean:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            # TRL's loss for this configuration: summed token NLL over the step's tokens on all processes,
            # scaled by the process count because DDP averages the gradients.
            inputs["use_cache"] = False
            outputs = model(**inputs, fused_lm_head=True)
            tokens = outputs.label_mask.sum() if num_items_in_batch is None else num_items_in_batch

            loss = -outputs.log_probs.sum() / torch.as_tensor(tokens).clamp(min=1)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * (self.accelerator.num_processes // self.get_tp_size())
            return (loss, outputs) if return_outputs else loss

    LeanSFTTrainer.__name__ = LeanSFTTrainer.__qualname__ = "SFTTrainer"
    return LeanSFTTrainer
