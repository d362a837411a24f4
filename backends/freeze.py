"""`freeze`: only the top N layers and the output head train; everything below stays as it was.

A middle way between `full` and adapters (LLaMA-Factory's `finetuning_type: freeze`): the
artefact is a complete model directory that plain transformers loads. Layers are the model's
stack of transformer blocks (`model.layers` in Llama, `transformer.h` in GPT-2, `block` in each
of T5's encoder and decoder: there the top N of each stack train). A head tied to the input
embeddings trains them too: they are one tensor.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from harness.common.errors import HarnessError
from harness.common.lazy import lazy_module
from harness.tuning.contract import TuneSettings

from .sft import SFTBackend

if TYPE_CHECKING:
    import torch
else:  # heavy: imported on first use
    torch = lazy_module("torch")

STACK_NAMES = ("layers", "h", "block", "blocks")
"""Names transformers gives a model's list of transformer blocks."""


class FreezeSettings(TuneSettings):
    learning_rate: float = Field(2e-5, gt=0)
    """Full fine-tuning's rate: the layers that train are ordinary weights, updated in full."""
    trainable_layers: int = Field(2, ge=0)
    """Top layers of each block stack that train (LLaMA-Factory's default is 2); 0 trains the head alone."""
    train_head: bool = True
    """Whether the output head (LM head) trains."""
    extra_modules: list[str] = []
    """Further modules trained in full, by name or name suffix (e.g. `embed_tokens`, `norm`)."""


def layer_stacks(model) -> list[tuple[str, list]]:
    """(name, blocks) of each transformer-block stack in the model: a ModuleList with a stack's name
    that is not inside another stack."""
    stacks: list[tuple[str, list]] = []
    for name, module in model.named_modules():
        if (isinstance(module, torch.nn.ModuleList) and len(module) and name.rsplit(".", 1)[-1] in STACK_NAMES
                and not any(name.startswith(f"{outer}.") for outer, _ in stacks)):
            stacks.append((name, list(module)))
    return stacks


class Freeze(SFTBackend):
    name = "freeze"
    settings_class = FreezeSettings

    def prepare_model(self, model, settings: TuneSettings) -> None:
        """Every weight frozen, then the top layers, the head and the extra modules set to train."""
        assert isinstance(settings, FreezeSettings)
        stacks = layer_stacks(model)
        if not stacks:
            raise HarnessError("freeze finds no stack of transformer layers in this model "
                               f"(looked for ModuleLists named {', '.join(STACK_NAMES)})", "freeze")
        for p in model.parameters():
            p.requires_grad_(False)
        chosen = [block for _, blocks in stacks for block in blocks[len(blocks) - settings.trainable_layers:]
                  ] if settings.trainable_layers else []
        if settings.train_head and model.get_output_embeddings() is not None:
            chosen.append(model.get_output_embeddings())
        modules = dict(model.named_modules())
        for wanted in settings.extra_modules:
            found = [m for name, m in modules.items() if name == wanted or name.endswith(f".{wanted}")]
            if not found:
                raise HarnessError(f"freeze.extra_modules: the model has no module named {wanted!r}", "freeze")
            chosen.extend(found)
        for module in chosen:
            for p in module.parameters():
                p.requires_grad_(True)
        if not any(p.requires_grad for p in model.parameters()):
            raise HarnessError("freeze would train nothing: raise trainable_layers or set train_head", "freeze")
