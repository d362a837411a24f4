"""The built-in model `tiny`: a small Llama-architecture causal LM built from a config.

Its byte-level BPE tokenizer is trained on the suites' training text and it has a chat
template, so from the moment it is saved it is loaded and tuned like any Hugging Face model
directory. Weights are random (seeded): its "before" numbers are near zero by design, and the
report says so. The directory is cached by a hash of everything that determines it.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.cache.dirs import build_atomically, cache_root
from harness.common.lazy import lazy_module
from harness.suitedef.suite import Suite

if TYPE_CHECKING:
    import tokenizers
    import torch
    import transformers
else:  # heavy: imported on first use
    tokenizers = lazy_module("tokenizers")
    torch = lazy_module("torch")
    transformers = lazy_module("transformers")

BUILDER_VERSION = 3
ARCHITECTURE: dict[str, Any] = dict(
    hidden_size=128, intermediate_size=384, num_hidden_layers=2, num_attention_heads=4,
    num_key_value_heads=4, max_position_embeddings=512, rms_norm_eps=1e-6, tie_word_embeddings=False,
)
VOCAB_SIZE = 4096
"""Room for common Chinese characters as single tokens: the suites' text takes half the tokens it
takes with 1,024 entries, for about the same training compute per epoch."""
# Settings this model needs, read by the harness under the user's own (see harness/settings.py).
# A random model has nothing in its embeddings worth freezing, so LoRA trains them in full.
# Three epochs over the eight task suites (about 5,400 examples) learn every skill partly and
# none to saturation, in the demo's time budget.
TUNING_DEFAULTS = {
    "full": {"learning_rate": 3e-3, "epochs": 3},
    "lora": {"learning_rate": 5e-3, "epochs": 3, "modules_to_save": ["embed_tokens", "lm_head"]},
    "dora": {"learning_rate": 5e-3, "epochs": 3, "modules_to_save": ["embed_tokens", "lm_head"]},
    "qlora": {"learning_rate": 5e-3, "epochs": 3, "modules_to_save": ["embed_tokens", "lm_head"]},
    "ia3": {"learning_rate": 5e-3, "epochs": 3, "modules_to_save": ["embed_tokens", "lm_head"]},
    "prompt_tuning": {"learning_rate": 5e-3, "epochs": 3, "modules_to_save": ["lm_head"]},
    "freeze": {"learning_rate": 3e-3, "epochs": 3, "trainable_layers": 1, "extra_modules": ["embed_tokens"]},
}
SPECIAL_TOKENS = ["<|pad|>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>", "<|tool|>"]
# No space or newline between a role marker and its text: the rendered prompt then ends with a
# special token, so the prompt's tokens are always a prefix of prompt + completion's.
# Function schemas, when a suite offers tools, come first as a system turn of one signature per line,
# `name(arg: type, optional?: type, unit?: "c"|"f") Description.` (argument descriptions and bounds left
# out): a fifth of their JSON's tokens, and every prompt of an episode carries them.
CHAT_TEMPLATE = (
    "{% if tools %}<|system|>{% for tool in tools %}{% set f = tool.function if tool.function is defined else tool %}"
    "{{ f.name }}({% if f.parameters is defined and f.parameters.properties is defined %}"
    "{% for name, p in f.parameters.properties.items() %}{{ name }}"
    "{% if name not in f.parameters.get('required', []) %}?{% endif %}: "
    "{% if p.enum is defined %}{{ p.enum | map('tojson') | join('|') }}{% else %}{{ p.type | default('any') }}"
    "{% endif %}{% if not loop.last %}, {% endif %}{% endfor %}{% endif %})"
    "{% if f.description %} {{ f.description }}{% endif %}{{ '\\n' if not loop.last }}{% endfor %}<|end|>{% endif %}"
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def training_text(suites: list[Suite]) -> list[str]:
    """The text the tokenizer learns from: training prompts and references (never test data)."""
    lines: list[str] = []
    for suite in suites:
        for ex in suite.train:
            lines.extend(m["content"] for m in ex.messages)
            lines.append(ex.reference)
    return lines


def tiny_model_dir(suites: list[Suite], seed: int = 0) -> Path:
    """Build `tiny` for these suites (or reuse the cached build) and return its directory."""
    text = training_text(suites)
    blob = json.dumps([BUILDER_VERSION, ARCHITECTURE, VOCAB_SIZE, TUNING_DEFAULTS, seed, text], ensure_ascii=False)
    key = hashlib.sha256(blob.encode())
    return build_atomically(cache_root() / f"tiny-{key.hexdigest()[:16]}", lambda tmp: _build(tmp, text, seed))


def _build(out: Path, text: list[str], seed: int) -> None:
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE())
    bpe.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE, special_tokens=SPECIAL_TOKENS,
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(text or ["hello"], trainer=trainer)
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|end|>", pad_token="<|pad|>", padding_side="left",
        chat_template=CHAT_TEMPLATE, model_max_length=ARCHITECTURE["max_position_embeddings"],
    )
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None, **ARCHITECTURE,
    )
    torch.manual_seed(seed)
    model = transformers.LlamaForCausalLM(config)
    model.generation_config = transformers.GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=False,
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "harness.json").write_text(json.dumps({"tuning_defaults": TUNING_DEFAULTS}, indent=2), encoding="utf-8")
    (out / "README.md").write_text(
        "# tiny\n\nA randomly initialised Llama-architecture model built by the harness for offline "
        "demos and tests. Its tokenizer was trained on the suites' training text. It knows nothing "
        "before tuning.\n", encoding="utf-8")
