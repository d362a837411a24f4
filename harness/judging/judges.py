"""Judges behind one method, `answer(prompts, decoding, seed)`, and the cache and cost ledger in front of them.

A local judge is any model the harness loads (`harness.models`): prompts are rendered with its chat template
and generated in batches, greedily or, for `samples: K`, by sampling seeded per sample. An endpoint judge asks
an OpenAI-compatible endpoint, a bounded number of requests at a time. `Asker` looks every question up in the
harness cache first (`keys.judge_key`: the judge's fingerprint, the prompt, the decoding, the sample's seed),
asks the judge only for the missing ones, stores the answers it got (never a failure) and counts the cost.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Sequence

from harness.cache import Cache, keys
from harness.cache.store import Store, digest
from harness.common.lazy import lazy_module
from harness.metrics.judge import JudgeSpec
from harness.models.loading import Model, load_model, resolve_model_path
from harness.record import JudgeCost

from .endpoint import Answer, Endpoint

if TYPE_CHECKING:
    import torch
else:  # heavy: imported on first use
    torch = lazy_module("torch")

LOCAL_BATCH = 8
"""Judge prompts generated at once by a local judge."""


class Judge(Protocol):
    name: str
    fingerprint: str

    def answer(self, prompts: list[str], decoding: dict[str, Any], seed: int | None) -> list[Answer]:
        """One answer per prompt, in order."""
        ...


class EndpointJudge:
    """An OpenAI-compatible endpoint; its fingerprint is its URL and model name (its weights cannot be seen)."""

    def __init__(self, spec: JudgeSpec):
        assert spec.endpoint is not None
        self.endpoint = Endpoint(spec.endpoint)
        self.name = spec.judge_name
        self.fingerprint = "endpoint:" + digest(spec.endpoint.base_url.rstrip("/"), spec.endpoint.model)[:32]
        self.concurrency = spec.endpoint.concurrency

    def answer(self, prompts: list[str], decoding: dict[str, Any], seed: int | None) -> list[Answer]:
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="judge") as pool:
            return list(pool.map(lambda p: self.endpoint.ask(p, decoding, seed), prompts))


class LocalJudge:
    """A model the harness loads, as judge; its fingerprint is the model's content fingerprint."""

    def __init__(self, spec: JudgeSpec, suites: Sequence[Any], seed: int, cache: Cache | None):
        assert spec.model is not None
        path = resolve_model_path(spec.model, suites, seed)
        self.name = spec.model
        fingerprint = cache.fingerprint(path) if cache is not None else None
        self.fingerprint = fingerprint or f"model:{path}"
        self._path = path
        self._model: Model | None = None

    @property
    def model(self) -> Model:
        """The judge model, loaded on first use (a judge whose answers are all cached never loads)."""
        if self._model is None:
            self._model = load_model(self._path)
        return self._model

    def answer(self, prompts: list[str], decoding: dict[str, Any], seed: int | None) -> list[Answer]:
        model = self.model
        inputs = [model.render([{"role": "user", "content": p}]) for p in prompts]
        if decoding.get("greedy"):
            texts = model.generate(inputs, decoding["max_new_tokens"], (), LOCAL_BATCH)
        else:
            texts = _sampled(model, inputs, decoding["max_new_tokens"], decoding["temperature"], seed or 0)
        counts = zip(model.token_lengths(inputs), model.token_lengths(texts))
        return [Answer(text, p, c) for text, (p, c) in zip(texts, counts)]


def _sampled(model: Model, inputs: list[str], max_new_tokens: int, temperature: float, seed: int) -> list[str]:
    """Sampled outputs, reproducible for a seed and these inputs in this order."""
    torch.manual_seed(seed)
    tok, out = model.tokenizer, []
    for start in range(0, len(inputs), LOCAL_BATCH):
        batch = model.encode(inputs[start:start + LOCAL_BATCH]).to(model.model.device)
        with torch.inference_mode():
            generated = model.model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=True,
                                             temperature=temperature, top_k=0, top_p=1.0,
                                             pad_token_id=tok.pad_token_id)
        new = generated if model.encoder_decoder else generated[:, batch["input_ids"].shape[1]:]
        out += tok.batch_decode(new, skip_special_tokens=True)
    return out


def make_judge(spec: JudgeSpec, suites: Sequence[Any], seed: int, cache: Cache | None) -> Judge:
    """The judge a metric's `judge:` block names."""
    return EndpointJudge(spec) if spec.endpoint is not None else LocalJudge(spec, suites, seed, cache)


@dataclass
class Asker:
    """Asks a judge through the cache, counting what it cost."""

    judge: Judge
    store: Store | None
    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    started: float = field(default_factory=time.perf_counter)

    def ask(self, prompts: list[str], decoding: dict[str, Any], seed: int | None) -> list[Answer]:
        """One answer per prompt: cached ones looked up, the others asked (identical prompts once)."""
        addresses = [keys.judge_key(self.judge.fingerprint, p, decoding, seed) for p in prompts]
        found = {k: a for k, v in (self.store.get_many(keys.JUDGE_ANSWERS, addresses) if self.store else {}).items()
                 if (a := _cached(v)) is not None}
        missing = list(dict.fromkeys(k for k in addresses if k not in found))
        self.cached_calls += len(prompts) - sum(k not in found for k in addresses)
        if missing:
            prompt_of = dict(zip(addresses, prompts))
            new = self.judge.answer([prompt_of[k] for k in missing], decoding, seed)
            self.calls += len(missing)
            self.prompt_tokens += sum(a.prompt_tokens for a in new)
            self.completion_tokens += sum(a.completion_tokens for a in new)
            got = dict(zip(missing, new))
            if self.store is not None:
                self.store.put_many(keys.JUDGE_ANSWERS, [(k, {"text": a.text, "prompt_tokens": a.prompt_tokens,
                                                              "completion_tokens": a.completion_tokens})
                                                         for k, a in got.items() if a.text is not None])
            found |= got
        return [found[k] for k in addresses]

    def cost(self) -> JudgeCost:
        """What asking cost so far."""
        return JudgeCost(calls=self.calls, prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens,
                         seconds=round(time.perf_counter() - self.started, 3), cached_calls=self.cached_calls)


def _cached(value: Any) -> Answer | None:
    """A cached answer, checked (None: not one, and asked again)."""
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        return None
    prompt_tokens, completion_tokens = value.get("prompt_tokens"), value.get("completion_tokens")
    if not (isinstance(prompt_tokens, int) and isinstance(completion_tokens, int)):
        return None
    return Answer(value["text"], max(prompt_tokens, 0), max(completion_tokens, 0))
