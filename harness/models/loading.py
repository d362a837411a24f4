"""Loading models and rendering prompts: the model contract the rest of the harness uses.

A `Model` does three things: render chat messages to the prompt text it is trained and
evaluated on, generate outputs for prompts, and score references (token loss). Anything
transformers loads as a causal LM or an encoder-decoder fits, plus PEFT adapters over either.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from harness.common.errors import HarnessError
from harness.common.lazy import lazy_module
from harness.models import gguf, zoo

from .batch_size import generation_batch_size
from .generate import generate
from .toolprompt import ToolRendering, template_renders_tools, with_system_turn

if TYPE_CHECKING:
    import peft
    import torch
    import transformers
    from huggingface_hub import utils as hf_utils

    from harness.cache import Cache, GenerationCache
    from harness.models import tiny
else:  # heavy: imported on first use
    hf_utils = lazy_module("huggingface_hub.utils")
    peft = lazy_module("peft")
    torch = lazy_module("torch")
    transformers = lazy_module("transformers")
    tiny = lazy_module("harness.models.tiny")  # it loads the suites' code, which inspecting a model does not need

TINY = "tiny"
QUANTIZATION_FILE = "base_quantization.json"
"""Beside an adapter trained over a quantised base (`qlora`): that base's BitsAndBytesConfig, so the
adapter is evaluated over the same base it was trained with."""


def device() -> str:
    """`cuda` when a GPU is usable, else `cpu`."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def compute_dtype():
    """fp32 on CPU (bf16 is emulated there and far slower), bf16 on GPU."""
    return torch.bfloat16 if device() == "cuda" else torch.float32


class Model:
    """A model with its tokenizer. With a generation cache its weights load on first use: a run
    whose outputs are all cached never loads them."""

    def __init__(self, model: Any = None, tokenizer: Any = None, encoder_decoder: bool = False, name: str = "", *,
                 load: Callable[[], Any] | None = None, cache: GenerationCache | None = None):
        self._model, self._load = model, load
        self.tokenizer = tokenizer
        self.encoder_decoder = encoder_decoder
        self.name = name
        """How the user named it: a hub id, a directory, or `tiny`."""
        self.cache = cache
        """Its generation cache (None: everything is computed)."""
        self._tool_rendering: ToolRendering | None = None

    @property
    def model(self) -> Any:
        """The transformers model (loaded now if it was not yet)."""
        if self._model is None and self._load is not None:
            self._model, self._load = self._load(), None
        return self._model

    @model.setter
    def model(self, value: Any) -> None:
        self._model, self._load = value, None

    @property
    def chat(self) -> bool:
        return not self.encoder_decoder and bool(getattr(self.tokenizer, "chat_template", None))

    @property
    def tool_rendering(self) -> ToolRendering:
        """How function schemas reach this model's prompt (`harness.models.toolprompt`), probed once."""
        if self._tool_rendering is None:
            self._tool_rendering = ("prompt head" if not self.chat else
                                    "template" if template_renders_tools(self.tokenizer) else "system turn")
        return self._tool_rendering

    def chat_parts(self, messages: list[dict], tools: list[dict] | None) -> tuple[list[dict], list[dict] | None]:
        """The messages and tools given to the chat template: a template that ignores `tools` gets the schemas
        in a system turn instead (`harness.models.toolprompt`)."""
        if tools and self.tool_rendering == "system turn":
            return with_system_turn(messages, tools), None
        return messages, tools or None

    def render(self, messages: list[dict], tools: list[dict] | None = None) -> str:
        """The prompt text for chat `messages` (and the function schemas in `tools`), identical in
        training and evaluation.

        Models with a chat template get it (with the generation prompt, and the schemas as `tools=` when
        the template renders them, else in a system turn); others, such as T5, get the tools as JSON and
        the turns' text, joined by blank lines.
        """
        if self.chat:
            messages, tools = self.chat_parts(messages, tools)
            return self.tokenizer.apply_chat_template(messages, tools=tools, tokenize=False,
                                                      add_generation_prompt=True)
        head = [json.dumps(tools, ensure_ascii=False)] if tools else []
        return "\n\n".join(head + [m["content"] for m in messages])

    def encode(self, texts: list[str], **kwargs):
        # A chat template already writes the special tokens it wants.
        return self.tokenizer(texts, add_special_tokens=not self.chat, return_tensors="pt", padding=True, **kwargs)

    def token_lengths(self, texts: list[str]) -> list[int]:
        """How many tokens `encode` makes of each text, without padding."""
        return [len(ids) for ids in self.tokenizer(texts, add_special_tokens=not self.chat)["input_ids"]]

    def token_loss(self, prompts: list[str], references: list[str]) -> float:
        """Mean negative log-likelihood per reference token, given each prompt (teacher-forced)."""
        if self.cache is None:
            losses = self._token_losses(prompts, references)
        else:
            losses = self.cache.losses(prompts, references, self._token_losses)
        total, count = 0.0, 0
        for nll, n in losses:
            total, count = total + nll, count + n
        return total / count if count else float("nan")

    def _token_losses(self, prompts: list[str], references: list[str]) -> list[tuple[float, int]]:
        """(summed negative log-likelihood, token count) of each reference."""
        out = []
        device = self.model.device
        for prompt, reference in zip(prompts, references):
            with torch.inference_mode():
                if self.encoder_decoder:
                    enc = self.tokenizer(prompt, return_tensors="pt").to(device)
                    labels = self.tokenizer(text_target=reference, return_tensors="pt")["input_ids"].to(device)
                    logits = self.model(**enc, labels=labels).logits[0]
                    targets = labels[0]
                else:
                    tail = reference + (self.tokenizer.eos_token or "")
                    prompt_ids = self.encode([prompt])["input_ids"][0]
                    full = self.encode([prompt + tail])["input_ids"].to(device)
                    # [-len:] drops the logits of virtual tokens a prompt-tuning adapter puts first
                    logits = self.model(input_ids=full).logits[0, -full.shape[1]:][len(prompt_ids) - 1:-1]
                    targets = full[0, len(prompt_ids):]
                nll = torch.nn.functional.cross_entropy(logits.float(), targets, reduction="sum")
            out.append((float(nll), int(targets.numel())))
        return out

    def generate(self, prompts: list[str], max_new_tokens: int, stop: Sequence[str] = (),
                 batch_size: int | None = 32, progress=None, again: Sequence[str] = ()) -> list[str]:
        """Greedy outputs for `prompts`, then for `again` (see `harness.generate.generate`). With a generation
        cache only the missing ones are generated (`again`, the batch-invariance check's second outputs, are
        cached apart from evaluation's), and a batch size of None is chosen (`harness.batch_size`) only then."""
        def compute(batch: list[str], repeats: list[str]) -> list[str]:
            size = batch_size
            if size is None:
                size = generation_batch_size(self, batch + repeats, max_new_tokens)
            return generate(self, batch, max_new_tokens, list(stop), size, progress, repeats)

        if self.cache is None:
            return compute(list(prompts), list(again))
        return self.cache.outputs(prompts, again, max_new_tokens, stop, compute, progress)


def is_adapter_dir(path: Path) -> bool:
    """Whether `path` holds a PEFT adapter."""
    return (path / "adapter_config.json").is_file()


def resolve_model_path(name: str, suites=(), seed: int = 0) -> str:
    """Where `name` loads from: `tiny` is built for these suites (or found in the cache), a named
    model comes from the model cache, a GGUF file is converted once, a local path becomes
    absolute, anything else is a hub id."""
    if name == TINY:
        return str(tiny.tiny_model_dir(list(suites), seed))
    if name in zoo.MODELS:
        return str(zoo.local_model_dir(name))
    if (gguf_file := gguf.find_gguf(name)) is not None:
        return str(gguf.gguf_model_dir(gguf_file))
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser().resolve())
    if name.lower().endswith(gguf.SUFFIX) or not _is_hub_id(name):
        raise HarnessError("no such file or directory", name)
    return name


def _is_hub_id(name: str) -> bool:
    """Whether `name` can be a model id on the hub (`name` or `owner/name`), not only a path."""
    try:
        hf_utils.validate_repo_id(name)
    except hf_utils.HFValidationError:
        return False
    return True


def check_loadable(path: str, name: str) -> None:
    """Fail with one line, before any work, unless transformers can read the model's config.

    A local folder is checked by reading its `config.json` (an adapter folder: its base's) without
    importing transformers, so that planning a run, which gating a finished one does, stays free of
    torch; anything deeper fails, with one line, when the model loads. Hub ids, and configs without a
    `model_type`, are left to transformers.
    """
    try:
        base, _ = _base_and_adapter(path, None)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise HarnessError("cannot load model: adapter_config.json names no base model", str(name)) from None
    folder = Path(base)
    if folder.is_dir():
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise HarnessError(f"cannot load model: no config.json in {folder}", str(name)) from None
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise HarnessError(f"cannot load model: config.json is not readable JSON ({e})", str(name)) from None
        if isinstance(config, dict) and isinstance(config.get("model_type"), str):
            return

    try:
        transformers.AutoConfig.from_pretrained(base, trust_remote_code=False)
    except (OSError, ValueError) as e:
        raise HarnessError(f"cannot load model: {str(e).splitlines()[0]}", str(name)) from None


def _base_and_adapter(path: str, adapter: str | Path | None) -> tuple[str, str | Path | None]:
    """A directory that holds an adapter loads its base from the adapter's config."""
    if Path(path).is_dir() and is_adapter_dir(Path(path)) and adapter is None:
        return json.loads((Path(path) / "adapter_config.json").read_text())["base_model_name_or_path"], path
    return path, adapter


def load_model(name: str, adapter: str | Path | None = None, suites=None, seed: int = 0, dtype=None,
               quantization: dict | None = None, cache: Cache | None = None) -> Model:
    """Load `name` (see `resolve_model_path`), with an optional PEFT adapter on top.

    A directory that holds an adapter loads its base from the adapter's config. `dtype` defaults
    to `compute_dtype()`. `quantization` (BitsAndBytesConfig fields; read from the adapter's
    QUANTIZATION_FILE when it has one) loads the base quantised onto the GPU. With a `cache`,
    outputs are looked up before they are generated and the weights load only when one is missing.
    """
    path, adapter = _base_and_adapter(resolve_model_path(name, suites or (), seed), adapter)
    text = load_text_side(path, name)
    tokenizer, encoder_decoder = text.tokenizer, text.encoder_decoder
    dtype = dtype or compute_dtype()
    if quantization is None and adapter is not None and (Path(adapter) / QUANTIZATION_FILE).is_file():
        quantization = json.loads((Path(adapter) / QUANTIZATION_FILE).read_text(encoding="utf-8"))

    def weights() -> Any:
        auto = transformers.AutoModelForSeq2SeqLM if encoder_decoder else transformers.AutoModelForCausalLM
        placed = dict(quantization_config=transformers.BitsAndBytesConfig(**quantization),
                      device_map={"": device()}) if quantization else {}
        model: Any = auto.from_pretrained(path, dtype=dtype, trust_remote_code=False, **placed)
        if adapter is not None:
            model = peft.PeftModel.from_pretrained(model, str(adapter))
        if not quantization:  # a quantised model is placed at load and cannot be moved
            model.to(device())
        return model.eval()

    # A quantised base computes differently: its settings are part of what decides the outputs.
    numerics = str(dtype) + (f"+{json.dumps(quantization, sort_keys=True)}" if quantization else "")
    generations = cache.generations(path, str(adapter) if adapter else None, numerics, device()) if cache else None
    if generations is None:
        return Model(model=weights(), tokenizer=tokenizer, encoder_decoder=encoder_decoder, name=name)
    return Model(tokenizer=tokenizer, encoder_decoder=encoder_decoder, name=name, load=weights, cache=generations)


def load_text_side(path: str, name: str | None = None) -> Model:
    """A model's tokenizer and prompt rendering without its weights (`Model.model` is None): enough to
    count tokens as training and evaluation see them. `path` is a resolved model path."""
    path, _ = _base_and_adapter(path, None)
    try:
        config = transformers.AutoConfig.from_pretrained(path, trust_remote_code=False)
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    except (OSError, ValueError) as e:
        raise HarnessError(f"cannot load model: {str(e).splitlines()[0]}", str(name or path)) from None
    encoder_decoder = bool(getattr(config, "is_encoder_decoder", False))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # Left padding keeps every prompt's last token at the end of the batch row for decoder-only
    # generation; encoder-decoders attend with a mask and keep their own side.
    if not encoder_decoder:
        tokenizer.padding_side = "left"
    return Model(model=None, tokenizer=tokenizer, encoder_decoder=encoder_decoder, name=name or path)
