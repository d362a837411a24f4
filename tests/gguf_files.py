"""Tiny GGUF files written in the tests from a random Llama, the way llama.cpp's converter lays them out."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

SPECIALS = ["<|pad|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
TEXT = ["Book a train from Paris to Berlin tomorrow morning.", "What is the weather in Tokyo?",
        '{"name": "weather", "arguments": {"city": "Tokyo"}}', "Set an alarm for 7:30.", "Hello, world! 你好，世界！"]


@dataclass
class TinyGGUF:
    path: Path
    model: object
    """The torch model holding exactly the weights the file holds (quantised ones as dequantised)."""
    tokenizer: object


def tiny_tokenizer():
    """A byte-level BPE (GPT-2 style, as the GGUF 'gpt2' tokenizer model describes) with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(TEXT * 20, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   pad_token="<|pad|>", chat_template=CHAT_TEMPLATE)


def _permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's row order for q/k projections (transformers undoes it when it reads the file)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_tiny_gguf(path: Path, seed: int = 0, architecture: str = "llama", extra_tensor=None) -> TinyGGUF:
    """A random 2-layer Llama written as GGUF: F32 tensors, the MLP projections in Q8_0.

    `extra_tensor` = (name, raw array, raw GGML type) appends one more tensor as given.
    """
    import gguf
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tiny_tokenizer()
    heads, kv_heads, hidden = 4, 2, 64
    config = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=128,
                         rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=False,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # norms away from 1, so a mixed-up tensor would show in the logits
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)

    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_name("tiny test llama")
    writer.add_context_length(128)
    writer.add_embedding_length(hidden)
    writer.add_block_count(2)
    writer.add_feed_forward_length(128)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(hidden // heads)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_vocab_size(len(tok))
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([t for t, _ in vocab])
    writer.add_token_types([gguf.TokenType.CONTROL if t in SPECIALS else gguf.TokenType.NORMAL for t, _ in vocab])
    merges = json.loads(tok.backend_tokenizer.to_str())["model"]["merges"]
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    writer.add_bos_token_id(tok.bos_token_id)
    writer.add_eos_token_id(tok.eos_token_id)
    writer.add_pad_token_id(tok.pad_token_id)
    writer.add_chat_template(CHAT_TEMPLATE)

    def add(name: str, param: torch.nn.Parameter, quantise: bool = False) -> None:
        w = param.detach().numpy().astype(np.float32)
        if quantise:
            packed = gguf.quants.quantize(w, gguf.GGMLQuantizationType.Q8_0)
            with torch.no_grad():  # the reference model holds what the file holds
                param.copy_(torch.from_numpy(gguf.quants.dequantize(packed, gguf.GGMLQuantizationType.Q8_0)))
            writer.add_tensor(name, packed, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(name, w)

    m = model.model
    add("token_embd.weight", m.embed_tokens.weight)
    for i, layer in enumerate(m.layers):
        a, f = layer.self_attn, layer.mlp
        writer.add_tensor(f"blk.{i}.attn_q.weight", _permute(a.q_proj.weight.detach().numpy(), heads))
        writer.add_tensor(f"blk.{i}.attn_k.weight", _permute(a.k_proj.weight.detach().numpy(), kv_heads))
        add(f"blk.{i}.attn_v.weight", a.v_proj.weight)
        add(f"blk.{i}.attn_output.weight", a.o_proj.weight)
        add(f"blk.{i}.attn_norm.weight", layer.input_layernorm.weight)
        add(f"blk.{i}.ffn_norm.weight", layer.post_attention_layernorm.weight)
        add(f"blk.{i}.ffn_gate.weight", f.gate_proj.weight, quantise=True)
        add(f"blk.{i}.ffn_up.weight", f.up_proj.weight, quantise=True)
        add(f"blk.{i}.ffn_down.weight", f.down_proj.weight, quantise=True)
    add("output_norm.weight", m.norm.weight)
    add("output.weight", model.lm_head.weight)
    if extra_tensor is not None:
        name, raw, raw_type = extra_tensor
        writer.add_tensor(name, raw, raw_dtype=raw_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return TinyGGUF(Path(path), model, tok)
