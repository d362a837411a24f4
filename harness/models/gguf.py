"""GGUF checkpoints (llama.cpp's single-file format) as ordinary Hugging Face model directories.

`--model path/to/file.gguf` (or a folder holding exactly one `.gguf` and no `config.json`) is
converted once: transformers reads the file and dequantises it, the weights are copied into a
plain model built from the same config, and the result is saved with safetensors, the tokenizer,
its chat template and a generation config in the model cache, under `gguf-<sha256 prefix>`
(`harness.cache.dirs.models_root()`). The conversion reloads what it saved and compares its logits
with the GGUF-loaded model's before the directory is published. From then on plain transformers,
and plain `peft` for adapters tuned on it, load that directory: nothing downstream knows about GGUF.

Quantised weights are dequantised to float32 exactly (Q4_1 block values are not bf16-exact), so
the directory is larger than the file: about 4 bytes per parameter.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cache.dirs import build_atomically, models_root
from harness.common.errors import HarnessError
from harness.common.lazy import lazy_module

if TYPE_CHECKING:
    import gguf as gguf_lib
    import numpy as np
    import torch
    import transformers
    from gguf import quants as gguf_quants
else:  # heavy: imported on first use
    gguf_lib = lazy_module("gguf")
    gguf_quants = lazy_module("gguf.quants")
    np = lazy_module("numpy")
    torch = lazy_module("torch")
    transformers = lazy_module("transformers")

SUFFIX = ".gguf"
CONVERTER_VERSION = 1
RECORD = "conversion.json"
"""Written into every converted directory: what it was made from and how."""
PROBE = "The quick brown fox jumps over the lazy dog. 1, 2, 3: ok?"
"""Text whose logits the converted model must reproduce."""
MAX_LOGIT_DIFF = 1e-4


def find_gguf(name: str) -> Path | None:
    """The GGUF file `name` points at: a `.gguf` file, or a folder holding exactly one and no
    `config.json` (a folder with a config is an ordinary model directory). None otherwise."""
    path = Path(name).expanduser()
    if path.is_file() and path.suffix.lower() == SUFFIX:
        return path.resolve()
    if path.is_dir() and not (path / "config.json").is_file():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == SUFFIX)
        if len(found) > 1:
            names = ", ".join(p.name for p in found[:4])
            raise HarnessError(f"holds {len(found)} .gguf files ({names}); name the one to use", name)
        if found:
            return found[0].resolve()
    return None


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def converted_dir(sha256: str) -> Path:
    """Where the conversion of the GGUF file with this hash lives (whether or not it exists yet)."""
    return models_root() / f"gguf-{sha256[:16]}"


def gguf_model_dir(gguf: Path, source: dict | None = None, sha256: str | None = None) -> Path:
    """The converted model directory for `gguf`, converting it on first use.

    `source` (where the file came from) is recorded in the directory's `conversion.json`;
    `sha256` skips re-hashing a file whose hash the caller just checked.
    """
    gguf = Path(gguf)
    try:
        sha256 = sha256 or sha256_file(gguf)
    except OSError as e:
        raise HarnessError(f"cannot read the file: {e.strerror}", str(gguf)) from None
    target = converted_dir(sha256)
    if (target / "config.json").is_file():
        return target
    check_gguf(gguf)
    print(f"Converting {gguf.name} into a model directory (once): {target}", file=sys.stderr, flush=True)
    record = {"converter_version": CONVERTER_VERSION, "gguf_file": gguf.name, "gguf_sha256": sha256,
              "source": source or {"path": str(gguf)}}
    return build_atomically(target, lambda tmp: _convert(gguf, tmp, record))


def check_gguf(gguf: Path) -> None:
    """Fail with one line unless the `gguf` package is installed and the file is a GGUF whose
    tensor types it can dequantise. (The architecture is checked by transformers, in `_convert`.)"""
    if importlib.util.find_spec("gguf") is None:
        raise HarnessError("reading GGUF files needs the `gguf` package: pip install gguf", str(gguf))
    with open(gguf, "rb") as f:
        if f.read(4) != b"GGUF":
            raise HarnessError("not a GGUF file (it does not start with the GGUF magic number)", str(gguf))
    try:
        reader = gguf_lib.GGUFReader(gguf)
        types = {t.tensor_type for t in reader.tensors}
    except Exception as e:  # the reader fails in many ways on a damaged file; all mean the same here
        raise HarnessError(f"damaged or truncated GGUF file ({_first_line(e)}); download it again", str(gguf)) from None
    if not types:
        raise HarnessError("the GGUF file holds no tensors", str(gguf))
    unsupported = sorted(gguf_lib.GGMLQuantizationType(t).name for t in types
                         if not _can_dequantize(gguf_quants.dequantize, t))
    if unsupported:
        raise HarnessError(f"unsupported quantisation {', '.join(unsupported)}: the installed `gguf` package cannot "
                           "dequantise it; convert the model with another quantisation (e.g. Q8_0 or F16)", str(gguf))


def _can_dequantize(dequantize, qtype) -> bool:
    try:  # one empty block row costs nothing and asks the package itself
        dequantize(np.zeros((0,), dtype=np.uint8), qtype)
        return True
    except NotImplementedError:
        return False
    except Exception:  # implemented; an empty array just does not reshape for it
        return True


_LOADING = threading.Lock()
"""transformers' loading patches torch globally while it builds a model (weights on the meta device);
two loads in threads of one process can interleave those patches and leave them in place, so
conversions in one process take turns. Separate processes need no lock."""


def _convert(gguf: Path, out: Path, record: dict) -> None:
    with _LOADING:
        _convert_unlocked(gguf, out, record)


def _convert_unlocked(gguf: Path, out: Path, record: dict) -> None:
    start = time.perf_counter()
    folder, name = str(gguf.parent), gguf.name
    try:
        config = transformers.AutoConfig.from_pretrained(folder, gguf_file=name)
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    except (ValueError, KeyError, NotImplementedError) as e:
        raise HarnessError(f"transformers cannot read this GGUF: {_first_line(e)}; pass a model directory "
                           "(safetensors) of the same model instead", str(gguf)) from None
    auto = transformers.AutoModelForSeq2SeqLM if config.is_encoder_decoder else transformers.AutoModelForCausalLM
    try:
        loaded = auto.from_pretrained(folder, gguf_file=name, dtype=torch.float32,
                                      quantization_config=transformers.GgufConfig(dequantize=True))
    except (ValueError, KeyError, NotImplementedError, RuntimeError) as e:
        raise HarnessError(f"transformers cannot load this GGUF's weights: {_first_line(e)}", str(gguf)) from None
    settings = loaded.config.to_dict()
    record["gguf_name"] = settings.pop("_model_name_or_path", None)  # the file's `general.name`
    settings.pop("quantization_config", None)
    plain_config = loaded.config.__class__.from_dict(settings)
    # transformers will not save a model it loaded through a quantizer, so the weights move into a
    # plain model of the same config; every tensor must find its place.
    plain = auto.from_config(plain_config, dtype=torch.float32)
    plain.load_state_dict(loaded.state_dict(), strict=True)
    plain.generation_config = transformers.GenerationConfig(
        bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id if config.pad_token_id is not None else config.eos_token_id)
    plain.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    del plain
    record["max_logit_difference"] = _reproduces(loaded, out, tokenizer, config.is_encoder_decoder, gguf)
    record["parameters"] = sum(p.numel() for p in loaded.parameters())
    record["architecture"] = loaded.config.model_type
    record["convert_seconds"] = round(time.perf_counter() - start, 1)
    (out / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def _reproduces(loaded, out: Path, tokenizer, encoder_decoder: bool, gguf: Path) -> float:
    """The largest logit difference between the GGUF-loaded model and the saved directory on `PROBE`."""
    auto = transformers.AutoModelForSeq2SeqLM if encoder_decoder else transformers.AutoModelForCausalLM
    reloaded = auto.from_pretrained(out, dtype=torch.float32)
    inputs = tokenizer(PROBE, return_tensors="pt")
    if encoder_decoder:
        inputs["decoder_input_ids"] = inputs["input_ids"][:, :4]
    with torch.inference_mode():
        diff = float((loaded(**inputs).logits - reloaded(**inputs).logits).abs().max())
    if not diff <= MAX_LOGIT_DIFF:
        raise HarnessError(f"the converted model does not reproduce the GGUF model (logits differ by {diff:g})",
                           str(gguf))
    return diff


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
