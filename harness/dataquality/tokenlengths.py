"""Token lengths of examples as the model being tuned trains on them, and what `max_length` cuts.

A causal LM trains on the prompt rendered by its chat template followed by the completion and the
template's end of turn (or, without a template, prompt + completion + end-of-sequence token), cut
from the end at `max_length` as TRL does (`truncation_mode="keep_start"`); TRL then drops examples
left without a completion token. An encoder-decoder's input and target are each cut to `max_length`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.models.loading import Model
from harness.record import Histogram, Lengths, Truncation
from harness.record.data import MAX_IDS
from harness.suitedef.suite import Example


@dataclass(frozen=True)
class TokenCounts:
    """One example's token counts."""

    prompt: int
    completion: int

    @property
    def total(self) -> int:
        return self.prompt + self.completion


def token_counts(model: Model, examples: list[Example]) -> list[TokenCounts]:
    """Prompt and completion tokens of each example, as training tokenises them."""
    if not examples:
        return []
    tok = model.tokenizer
    prompts = [model.render(ex.messages, ex.tools) for ex in examples]
    if model.encoder_decoder:
        inputs = tok(prompts)["input_ids"]
        targets = tok(text_target=[ex.reference for ex in examples])["input_ids"]
        return [TokenCounts(len(i), len(t)) for i, t in zip(inputs, targets)]
    if model.chat:
        parts = [model.chat_parts(ex.messages, ex.tools) for ex in examples]  # schemas as training sees them
        full = [tok.apply_chat_template(messages + [{"role": "assistant", "content": ex.reference}],
                                        tools=tools, tokenize=False) for (messages, tools), ex in zip(parts, examples)]
    else:
        full = [p + ex.reference + (tok.eos_token or "") for p, ex in zip(prompts, examples)]
    prompt_ids = tok(prompts, add_special_tokens=not model.chat)["input_ids"]
    full_ids = tok(full, add_special_tokens=not model.chat)["input_ids"]
    return [TokenCounts(len(p), len(f) - len(p)) for p, f in zip(prompt_ids, full_ids)]


def truncation(backend: str, max_length: int, examples: list[Example], counts: list[TokenCounts],
               encoder_decoder: bool) -> Truncation:
    """Which training examples `max_length` cuts, and how much of their completions survives."""
    if encoder_decoder:
        cut = [c.prompt > max_length or c.completion > max_length for c in counts]
        into = [c.completion > max_length for c in counts]
        lost = [False] * len(counts)
    else:
        cut = [c.total > max_length for c in counts]
        into = cut  # the completion comes last: any cut takes its end
        lost = [c.prompt >= max_length for c in counts]
    order = sorted((i for i, x in enumerate(cut) if x), key=lambda i: (-counts[i].total, i))
    n = len(examples)
    return Truncation(backend=backend, max_length=max_length, truncated=sum(cut), into_completion=sum(into),
                      completion_lost=sum(lost), fraction=sum(cut) / n if n else 0.0,
                      ids=[examples[i].id for i in order[:MAX_IDS]])


def nice_edges(largest: int, bins: int = 20) -> list[float]:
    """Bin edges from 0 in a round width (1, 2 or 5 × 10^k) so that `largest` falls in at most `bins` bins."""
    raw = max(largest, 1) / bins
    magnitude = 10 ** int(np.floor(np.log10(raw))) if raw >= 1 else 1
    width = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    top = (largest // width + 1) * width
    return [float(e) for e in range(0, int(top) + 1, int(width))]


def histogram(values: list[int], edges: list[float]) -> Histogram:
    """Counts of `values` in the bins `edges` defines."""
    counts, _ = np.histogram(values, bins=edges)
    return Histogram(edges=edges, counts=[int(c) for c in counts])


def lengths(counts: list[TokenCounts], edges: dict[str, list[float]]) -> Lengths | None:
    """Histograms (on shared `edges` by part: prompt, completion, total) and summary of one split."""
    if not counts:
        return None
    totals = [c.total for c in counts]
    return Lengths(prompt=histogram([c.prompt for c in counts], edges["prompt"]),
                   completion=histogram([c.completion for c in counts], edges["completion"]),
                   total=histogram(totals, edges["total"]),
                   median=round(float(np.median(totals)), 1), p95=round(float(np.percentile(totals, 95)), 1),
                   max=max(totals))


def shared_edges(splits: list[list[TokenCounts]]) -> dict[str, list[float]]:
    """Bin edges per part, the same for every split so that their histograms compare."""
    every = [c for counts in splits for c in counts]
    return {part: nice_edges(max((getattr(c, part) for c in every), default=1))
            for part in ("prompt", "completion", "total")}
