"""`qlora`: LoRA adapters over a base model held in 4-bit NF4 (bitsandbytes; Dettmers et al., 2023).

Needs a CUDA GPU and the `bitsandbytes` package (`pip install 'tuning-harness[qlora]'`); elsewhere
it is listed but refuses with one line before anything is made. The base is quantised at load,
non-quantised weights are prepared for k-bit training (PEFT), the adapters train in bf16. The
artefact is a plain PEFT adapter; beside it `base_quantization.json` records how the base was
quantised, so the harness evaluates the adapter over the same 4-bit base it was trained with.
"""
from __future__ import annotations

import ctypes
import importlib.util
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from harness.common.lazy import lazy_module
from harness.models.loading import QUANTIZATION_FILE, load_model
from harness.tuning.contract import TunedModel

from .lora import LoRA, LoraSettings

if TYPE_CHECKING:
    import peft
    import torch
else:  # heavy: imported on first use
    peft = lazy_module("peft")
    torch = lazy_module("torch")


class QLoraSettings(LoraSettings):
    learning_rate: float = Field(2e-4, gt=0)
    """LoRA's rate, as the QLoRA paper uses; every adapter default equals `lora`'s, so `lora` against
    `qlora` compares the 4-bit base alone."""
    quant_type: Literal["nf4", "fp4"] = "nf4"
    """4-bit data type of the base weights: NormalFloat4 (the paper's) or plain FP4."""
    double_quant: bool = True
    """Quantise the quantisation constants too (about 0.4 bits per weight saved)."""


def _cuda_driver() -> bool:
    """Whether this machine has the CUDA driver library: without it there is no GPU to ask torch about, and
    `harness backends` stays clear of importing torch (seconds) on a machine that cannot run qlora anyway."""
    if "torch" in sys.modules:
        return True  # torch is loaded: asking it costs nothing
    try:
        ctypes.CDLL("nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1")
    except OSError:
        return False
    return True


class QLoRA(LoRA):
    name = "qlora"
    settings_class = QLoraSettings

    @classmethod
    def unavailable(cls) -> str | None:
        """A CUDA GPU and bitsandbytes are required."""
        if not _cuda_driver() or not torch.cuda.is_available():
            return "qlora needs a CUDA GPU (its 4-bit base runs through bitsandbytes); this machine has none"
        if importlib.util.find_spec("bitsandbytes") is None:
            return "qlora needs the bitsandbytes package: pip install 'tuning-harness[qlora]'"
        return None

    def quantization(self) -> dict:
        """The base's BitsAndBytesConfig, as a dict (what `base_quantization.json` holds)."""
        assert isinstance(self.settings, QLoraSettings)
        return {"load_in_4bit": True, "bnb_4bit_quant_type": self.settings.quant_type,
                "bnb_4bit_use_double_quant": self.settings.double_quant, "bnb_4bit_compute_dtype": "bfloat16"}

    def load_base(self, base_model: str):
        """The base in 4-bit on the GPU, prepared for k-bit training (norms in fp32, input gradients on)."""
        loaded = load_model(base_model, dtype=torch.bfloat16, quantization=self.quantization())
        loaded.model = peft.prepare_model_for_kbit_training(loaded.model, use_gradient_checkpointing=False)
        return loaded

    def save(self, out_dir: Path) -> TunedModel:
        """The adapter, and how its base was quantised."""
        tuned = super().save(out_dir)
        (Path(out_dir) / QUANTIZATION_FILE).write_text(json.dumps(self.quantization(), indent=2), encoding="utf-8")
        return tuned
