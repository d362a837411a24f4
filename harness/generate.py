"""Batched greedy generation whose outputs do not depend on the batch size."""
from __future__ import annotations

import torch


def generate(model, prompts: list[str], max_new_tokens: int, stop: list[str], batch_size: int,
             progress=None) -> list[str]:
    """Greedy outputs for `prompts`, in order; each cut at the first stop string.

    Prompts are batched longest first so that rows in a batch have similar lengths (little
    padding); padding is masked, so the batch a prompt lands in does not change its output.
    """
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    outputs: list[str] = [""] * len(prompts)
    tok = model.tokenizer
    eos = model.model.generation_config.eos_token_id or tok.eos_token_id
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        batch = model.encode([prompts[i] for i in idx]).to(model.model.device)
        with torch.inference_mode():
            out = model.model.generate(
                **batch, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                eos_token_id=eos, pad_token_id=tok.pad_token_id,
                stop_strings=stop or None, tokenizer=tok if stop else None,
            )
        new = out if model.encoder_decoder else out[:, batch["input_ids"].shape[1]:]
        for i, text in zip(idx, tok.batch_decode(new, skip_special_tokens=True)):
            outputs[i] = cut_at_stop(text, stop)
        if progress is not None:
            progress.update(len(idx))
    return outputs


def cut_at_stop(text: str, stop: list[str]) -> str:
    """`text` cut before its first stop string, stripped."""
    cuts = [text.find(s) for s in stop if s and s in text]
    return (text[:min(cuts)] if cuts else text).strip()
