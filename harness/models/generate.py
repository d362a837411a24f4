"""Batched greedy generation whose outputs do not depend on the batch size."""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from harness.common.lazy import lazy_module

if TYPE_CHECKING:
    import torch
    import transformers
else:  # heavy: imported on first use
    torch = lazy_module("torch")
    transformers = lazy_module("transformers")


def generate(model, prompts: list[str], max_new_tokens: int, stop: list[str], batch_size: int,
             progress=None, again: Sequence[str] = ()) -> list[str]:
    """Greedy outputs for `prompts`, in order, then for `again`; each cut at the first stop string.

    Prompts are batched longest first by token count, so rows in a batch have nearly the same
    length and little of each batch is padding; padding is masked, so the batch a prompt lands in
    does not change its output. transformers ends a batch's decoding as soon as every row has
    produced EOS or a stop string (finished rows are padded, not extended). A stop string counts only
    within the generated text (`StopInOutput`), never across the end of the prompt.

    `again` are prompts generated a second time for the batch-invariance check, as extra rows of
    batches made of other lengths (see `plan_batches`).
    """
    texts = list(prompts) + list(again)
    lengths = model.token_lengths(texts)
    plan = equal_length_batches(lengths, batch_size) if unpadded_only(model) else \
        plan_batches(lengths, batch_size, len(again))
    outputs: list[str] = [""] * len(texts)
    tok = model.tokenizer
    eos = model.model.generation_config.eos_token_id or tok.eos_token_id
    for idx in plan:
        batch = model.encode([texts[i] for i in idx]).to(model.model.device)
        with torch.inference_mode():
            out = model.model.generate(
                **batch, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                eos_token_id=eos, pad_token_id=tok.pad_token_id,
                stopping_criteria=stop_criteria(model, stop, batch["input_ids"].shape[1]),
                # Each process generates its own share with its own full model: never wait for the others'
                # decoding steps (transformers would under a ZeRO-3 or FSDP launch).
                synced_gpus=False,
            )
        new = out if model.encoder_decoder else out[:, batch["input_ids"].shape[1]:]
        for i, text in zip(idx, tok.batch_decode(new, skip_special_tokens=True)):
            outputs[i] = cut_at_stop(text, stop)
        if progress is not None:
            progress.update(sum(i < len(prompts) for i in idx))
    return outputs


def sample(model, prompts: list[str], n: int, max_new_tokens: int, stop: list[str], temperature: float,
           top_p: float, seed: int, progress=None, positions: Sequence[int] | None = None) -> list[list[str]]:
    """`n` sampled outputs for each prompt, in order, each cut at the first stop string. One prompt at a time
    (no padding), the generator seeded by `seed` and the prompt's position (`positions[k]` when given: a share
    of a longer list sampled as the whole list would be): the same prompts and seed give the same samples."""
    tok = model.tokenizer
    eos = model.model.generation_config.eos_token_id or tok.eos_token_id
    outputs: list[list[str]] = []
    for k, prompt in enumerate(prompts):
        batch = model.encode([prompt]).to(model.model.device)
        torch.manual_seed(seed * 1_000_003 + (k if positions is None else positions[k]))
        with torch.inference_mode():
            out = model.model.generate(
                **batch, max_new_tokens=max_new_tokens, do_sample=True, temperature=temperature, top_p=top_p,
                top_k=0, num_return_sequences=n, eos_token_id=eos, pad_token_id=tok.pad_token_id,
                stopping_criteria=stop_criteria(model, stop, batch["input_ids"].shape[1]), synced_gpus=False)
        new = out if model.encoder_decoder else out[:, batch["input_ids"].shape[1]:]
        outputs.append([cut_at_stop(text, stop) for text in tok.batch_decode(new, skip_special_tokens=True)])
        if progress is not None:
            progress.update(1)
    return outputs


def length_order(lengths: Sequence[int]) -> list[int]:
    """Indices longest first; equal lengths keep their input order (so the batching is reproducible)."""
    return sorted(range(len(lengths)), key=lambda i: -lengths[i])


def plan_batches(lengths: Sequence[int], batch_size: int, n_again: int = 0) -> list[list[int]]:
    """The batches (lists of indices into `lengths`) that generate runs, longest first.

    The last `n_again` lengths are repeats of prompts among the others, for the batch-invariance
    check; each is padded differently than its first copy. Repeats shorter than every row of the
    first batch go to the front, into the first batch, padded up to the longest prompt; the others
    (as long as the first batch's rows) go to the end, into the last batch of the shortest prompts,
    where only the longest repeat is unpadded. The repeats shift the other batches' boundaries, not
    their order, and add at most one batch. When all prompts fit in one batch, the repeats make a
    batch of their own. (With batches smaller than twice the repeats, repeats fill the first batches
    among themselves and some may meet the padding they had.)
    """
    n = len(lengths) - n_again
    order = length_order(lengths[:n])
    if not n_again:
        return batches(order, batch_size)
    repeats = list(range(n, len(lengths)))
    plain = batches(order, batch_size)
    if len(plain) <= 1:
        return plain + batches([n + i for i in length_order(lengths[n:])], batch_size)
    shortest_first = min(lengths[i] for i in plain[0])
    front = [i for i in repeats if lengths[i] < shortest_first]
    back = [i for i in repeats if lengths[i] >= shortest_first]
    return batches(front + order + back, batch_size)


def batches(order: list[int], batch_size: int) -> list[list[int]]:
    """`order` cut into consecutive batches of `batch_size` (the last may be smaller)."""
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def padding_fraction(lengths: Sequence[int], batch_size: int, order: list[int] | None = None) -> float:
    """Share of the prompt positions that are padding when `order` (default: `length_order`) is batched."""
    order = length_order(lengths) if order is None else order
    padded = real = 0
    for idx in batches(order, batch_size):
        longest = max(lengths[i] for i in idx)
        padded += longest * len(idx)
        real += sum(lengths[i] for i in idx)
    return (padded - real) / padded if padded else 0.0


def unpadded_only(model) -> bool:
    """Whether the model must generate without padding: a prompt-learning adapter (PEFT prompt tuning)
    puts its virtual tokens before the padding and ignores position ids, so a padded row's positions,
    and so its output, would depend on its batch. Encoder-decoders pad after the text and are unaffected."""
    config = getattr(model.model, "active_peft_config", None)
    return bool(getattr(config, "is_prompt_learning", False)) and not model.encoder_decoder


def equal_length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Batches of prompts of one token length each (no padding), longest first."""
    out: list[list[int]] = []
    for i in length_order(lengths):
        if out and len(out[-1]) < batch_size and lengths[out[-1][0]] == lengths[i]:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def stop_criteria(model, stop: Sequence[str], prompt_tokens: int):
    """The criteria that end a row at its first stop string (None without stop strings)."""
    if not stop:
        return None
    start = 0 if model.encoder_decoder else prompt_tokens  # an encoder-decoder's output holds no prompt
    return transformers.StoppingCriteriaList([StopInOutput(model.tokenizer, stop, start)])


class StopInOutput:
    """A row is done once its generated text holds a stop string.

    transformers' own `stop_strings` match the end of the whole sequence, prompt included, so a stop
    string starting with a newline ends the output at its first token when the prompt ends with one
    (SmolLM2's generation prompt does: `<|im_start|>assistant\n`, and "\nprint(" would then stop a
    reply that begins with `print(`). Each step decodes only the newest tokens that can hold a stop string
    completed at that step: every token is at least one byte and a character at most four, so a stop string of
    L characters lies within the last 4L + 1 tokens (an earlier occurrence ended the row at an earlier step).
    """

    def __init__(self, tokenizer, stop: Sequence[str], start: int):
        self.tokenizer, self.stop, self.start = tokenizer, list(stop), start
        self.window = 4 * max(len(s) for s in self.stop) + 1

    def __call__(self, input_ids, scores, **kwargs):
        newest = input_ids[:, max(self.start, input_ids.shape[1] - self.window):]
        texts = self.tokenizer.batch_decode(newest, skip_special_tokens=True)
        return torch.tensor([any(s in text for s in self.stop) for text in texts], device=input_ids.device)


def cut_at_stop(text: str, stop: list[str]) -> str:
    """`text` cut before its first stop string, stripped."""
    cuts = [text.find(s) for s in stop if s and s in text]
    return (text[:min(cuts)] if cuts else text).strip()
