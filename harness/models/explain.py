"""Teacher-forced views of one model on references: per-token log-probabilities, the most probable next
tokens where an output leaves the reference, and last-layer attention.

One forward pass over prompt + reference gives every reference token's log-probability given the prompt
and the reference before it (for causal LMs the reference is followed by the end-of-sequence token, as
`Model.token_loss` scores it; encoder-decoders score their target). Rows of a batch are right-padded, so
every real token sees exactly the positions and context it would see alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.common.lazy import lazy_module
from harness.record import Attention, Explanation, NextTokens

from .loading import Model
from .training_tokens import common_prefix_length

if TYPE_CHECKING:
    import torch
else:  # heavy: imported on first use
    torch = lazy_module("torch")

TOP_K = 5
ATTENTION_ROWS = 24
ATTENTION_COLUMNS = 48


@dataclass
class Item:
    """One example to explain in one state."""

    id: str
    prompt: str
    """The exact model input (the rendered prompt)."""
    reference: str
    output: str
    """This state's output."""
    other_outputs: list[str] = field(default_factory=list)
    """Other states' outputs: where they leave the reference, this state's next tokens are recorded too."""
    attention: bool = False
    """Whether to record the attention view for this example."""


@dataclass
class Encoded:
    prompt_ids: list[int]
    target_ids: list[int]
    """The reference's tokens (ending with end of sequence)."""


def encode(model: Model, prompt: str, reference: str) -> Encoded:
    """The prompt's and the reference's token ids: prompt + reference + end of sequence, tokenised whole and
    split where it stops agreeing with the prompt alone (as TRL splits a prompt from its completion: a
    tokenizer that ends every text with a special token, or a merge across the boundary, moves the split)."""
    tok = model.tokenizer
    if model.encoder_decoder:
        return Encoded(tok(prompt)["input_ids"], tok(text_target=reference)["input_ids"])
    prompt_ids = model.encode([prompt])["input_ids"][0].tolist()
    full = model.encode([prompt + reference + (tok.eos_token or "")])["input_ids"][0].tolist()
    n = common_prefix_length(prompt_ids, full)
    return Encoded(full[:n], full[n:])


def continuation_ids(model: Model, prompt: str, prompt_ids: list[int], text: str) -> list[int]:
    """`text`'s tokens as a continuation of the prompt (no end-of-sequence token)."""
    tok = model.tokenizer
    if model.encoder_decoder:
        ids = tok(text_target=text)["input_ids"]
        return ids[:-1] if ids and ids[-1] == tok.eos_token_id else ids
    ids = model.encode([prompt + text])["input_ids"][0].tolist()[len(prompt_ids):]
    # outputs are decoded without special tokens: an end of sequence here is one the tokenizer appends
    return ids[:-1] if ids and ids[-1] == tok.eos_token_id else ids


def divergence(reference_ids: list[int], output_ids: list[int], eos_id: int | None) -> tuple[int | None, int | None]:
    """(first reference position the output does not reproduce, the output's token there); (None, None)
    when the output reproduces the reference. The token is None when the output ended there."""
    content = reference_ids[:-1] if reference_ids and reference_ids[-1] == eos_id else reference_ids
    if output_ids == content:
        return None, None
    for i, ref in enumerate(content):
        if i >= len(output_ids):
            return i, None
        if output_ids[i] != ref:
            return i, output_ids[i]
    return len(content), output_ids[len(content)]  # the output goes on where the reference ends


def _forward_logits(model: Model, batch: list[Encoded]) -> list[torch.Tensor]:
    """Per example, logits (float32) predicting each target token."""
    device = model.model.device
    pad = model.tokenizer.pad_token_id or 0
    with torch.inference_mode():
        if model.encoder_decoder:
            inputs = _right_padded([e.prompt_ids for e in batch], pad, device)
            labels = _right_padded([e.target_ids for e in batch], -100, device)
            logits = model.model(input_ids=inputs[0], attention_mask=inputs[1], labels=labels[0]).logits.float()
            return [logits[i, :len(e.target_ids)] for i, e in enumerate(batch)]
        ids, mask = _right_padded([e.prompt_ids + e.target_ids for e in batch], pad, device)
        logits = model.model(input_ids=ids, attention_mask=mask).logits.float()
        return [logits[i, len(e.prompt_ids) - 1:len(e.prompt_ids) + len(e.target_ids) - 1] for i, e in enumerate(batch)]


def _right_padded(rows: list[list[int]], pad: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], device=device)
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=device)
    return ids, mask


def explain(model: Model, items: list[Item], state: str, suite: str, batch_size: int = 16) -> list[Explanation]:
    """One `Explanation` per item: teacher-forced log-probabilities of its reference, the top next tokens
    where this state's (and the other states') outputs leave it, and the attention view where asked."""
    tok = model.tokenizer
    eos = tok.eos_token_id
    out: list[Explanation] = []
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        encoded = [encode(model, it.prompt, it.reference) for it in chunk]
        for it, enc, logits in zip(chunk, encoded, _forward_logits(model, encoded)):
            target = torch.tensor(enc.target_ids, device=logits.device)
            logprobs = torch.log_softmax(logits, dim=-1)
            token_lp = logprobs[torch.arange(len(enc.target_ids), device=logits.device), target]
            own_ids = continuation_ids(model, it.prompt, enc.prompt_ids, it.output)
            own, generated = divergence(enc.target_ids, own_ids, eos)
            positions = {own} | {divergence(enc.target_ids, continuation_ids(model, it.prompt, enc.prompt_ids, o),
                                            eos)[0] for o in it.other_outputs}
            top = [_top(logprobs[p], p, tok) for p in sorted(p for p in positions if p is not None)]
            out.append(Explanation(
                id=it.id, state=state, suite=suite, tokens=[tok.decode([i]) for i in enc.target_ids],
                logprobs=[round(float(v), 3) for v in token_lp], divergence=own,
                generated=None if generated is None else tok.decode([generated]), top=top,
                attention=attention(model, enc.prompt_ids, own_ids) if it.attention else None))
    return out


def _top(logprobs: torch.Tensor, position: int, tok) -> NextTokens:
    values, ids = torch.topk(logprobs.exp(), TOP_K)
    return NextTokens(position=position, tokens=[tok.decode([int(i)]) for i in ids],
                      probs=[round(float(v), 4) for v in values])


def attention_note(model: Model) -> str | None:
    """Why this model can give no attention view (None when it can)."""
    if model.encoder_decoder:
        return "not shown: attention views are drawn for causal LMs only"
    return None


def attention(model: Model, prompt_ids: list[int], output_ids: list[int]) -> Attention | None:
    """Last-layer attention, heads averaged, from the position that produced each output token to the prompt's
    tokens; computed with eager attention (switched on for this pass only). None when the model gives none."""
    if attention_note(model) or not output_ids:
        return None
    inner = model.model
    before = getattr(inner.config, "_attn_implementation", None)
    switch = before != "eager" and hasattr(inner, "set_attn_implementation")
    try:
        if switch:
            inner.set_attn_implementation("eager")
        ids = torch.tensor([prompt_ids + output_ids], device=inner.device)
        with torch.inference_mode():
            result = inner(input_ids=ids, output_attentions=True)
    except (ValueError, NotImplementedError, RuntimeError):
        return None
    finally:
        if switch:
            inner.set_attn_implementation(before)
    if not result.attentions:
        return None
    weights = result.attentions[-1][0].float().mean(dim=0)  # heads averaged: (sequence, sequence)
    n_prompt = len(prompt_ids)
    rows = list(range(n_prompt - 1, n_prompt - 1 + min(len(output_ids), ATTENTION_ROWS)))
    columns = list(range(max(0, n_prompt - ATTENTION_COLUMNS), n_prompt))
    tok = model.tokenizer
    return Attention(rows=[tok.decode([i]) for i in output_ids[:len(rows)]],
                     columns=[tok.decode([prompt_ids[c]]) for c in columns],
                     weights=[[round(1000 * float(weights[r, c])) for c in columns] for r in rows])
