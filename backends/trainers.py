"""The two trainers as the backends use them: grouped by length over each whole step, and, for TRL,
without the per-step extras the run record does not read.

- Length grouping: transformers forms its length-sorted megabatches from 50 per-device batches, so
  with N processes each step would see other examples than with one. Grouping over the global batch
  (per-device batch × accumulation × processes) gives every step the same examples whatever N is:
  process r takes the r-th per-device slice of it.
- TRL's SFTTrainer computes, on every step, the entropy and top-1 accuracy of each token's
  distribution (in its fused LM head) and gathers them across processes to log them. The record
  keeps the loss and the token count only, so its lean path asks the fused head for log-probabilities
  alone and computes TRL's own loss from them (measured ~5% more tokens per CPU-second on a 135M
  model; identical losses). Any other loss configuration goes through TRL unchanged.
"""
from __future__ import annotations

from typing import Any


def grouped(trainer_class: type) -> type:
    """`trainer_class` (a transformers Trainer) grouping lengths over each optimizer step's examples."""
    class Grouped(trainer_class):
        def _get_train_sampler(self, train_dataset=None):
            from transformers.trainer_pt_utils import LengthGroupedSampler

            sampler = super()._get_train_sampler(train_dataset)
            if isinstance(sampler, LengthGroupedSampler):
                sampler.batch_size = (self.args.train_batch_size * self.args.gradient_accumulation_steps
                                      * self.args.world_size)
            return sampler

    Grouped.__name__ = Grouped.__qualname__ = trainer_class.__name__
    return Grouped


def lean_sft_trainer() -> type:
    """TRL's SFTTrainer, grouped, computing the plain NLL loss without entropy and accuracy."""
    from trl import SFTTrainer
    from trl.trainer.utils import add_fused_lm_head

    class LeanSFTTrainer(grouped(SFTTrainer)):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.lean = (self.args.loss_type == "nll" and self.compute_loss_func is None
                         and self.label_smoother is None and not self.aux_loss_enabled)
            if self.lean:  # replaces the head TRL added (same kernel, fewer outputs)
                model = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
                add_fused_lm_head(model, outputs=("log_probs",))

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if not self.lean:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            # TRL's loss for this configuration: summed token NLL over the step's tokens on all processes,
            # scaled by the process count because DDP averages the gradients.
            inputs["use_cache"] = False
            outputs = model(**inputs, fused_lm_head=True)
            tokens = outputs.label_mask.sum() if num_items_in_batch is None else num_items_in_batch
            import torch

            loss = -outputs.log_probs.sum() / torch.as_tensor(tokens).clamp(min=1)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * (self.accelerator.num_processes // self.get_tp_size())
            return (loss, outputs) if return_outputs else loss

    LeanSFTTrainer.__name__ = LeanSFTTrainer.__qualname__ = "SFTTrainer"
    return LeanSFTTrainer
