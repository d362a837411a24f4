"""Generation: batched, greedy, and the same output whatever the batch size."""
from __future__ import annotations

import pytest

from harness.models.generate import batches, cut_at_stop, length_order, padding_fraction
from harness.models.loading import load_model
from harness.suitedef.suite import find_suites, load_suite


@pytest.fixture(scope="module")
def tiny(small_suites):
    suites = [load_suite(p) for p in find_suites([small_suites])]
    return load_model("tiny", suites=suites), suites


def test_tiny_has_a_chat_template_that_ends_prompts_on_a_special_token(tiny):
    model, _ = tiny
    text = model.render([{"role": "user", "content": "weather Oslo monday"}])
    assert text == "<|user|>weather Oslo monday<|end|><|assistant|>"


def test_outputs_do_not_depend_on_batch_size(tiny):
    model, suites = tiny
    prompts = [model.render(ex.messages) for s in suites for ex in s.test][:20]
    one = model.generate(prompts, max_new_tokens=24, batch_size=1)
    assert model.generate(prompts, max_new_tokens=24, batch_size=6) == one
    assert model.generate(prompts, max_new_tokens=24, batch_size=20) == one
    assert len(set(one)) > 1  # a random model still says different things to different prompts


def test_tiny_build_is_deterministic(small_suites, tmp_path, monkeypatch):
    from harness.models.tiny import tiny_model_dir

    suites = [load_suite(p) for p in find_suites([small_suites])]
    first = (tiny_model_dir(suites, seed=3) / "model.safetensors").read_bytes()
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    assert (tiny_model_dir(suites, seed=3) / "model.safetensors").read_bytes() == first


def test_stop_strings_cut_the_output():
    assert cut_at_stop("answer\nQ: next", ["\nQ:"]) == "answer"
    assert cut_at_stop("a END b STOP", ["STOP", "END"]) == "a"
    assert cut_at_stop("plain", []) == "plain"


def test_batches_are_sorted_by_tokens_and_padding_is_counted_right(tiny):
    """padding_fraction against the attention masks of the batches `encode` actually builds."""
    model, suites = tiny
    prompts = [model.render(ex.messages) for s in suites for ex in s.test]
    lengths = model.token_lengths(prompts)
    assert lengths == [int(m.sum()) for m in model.encode(prompts)["attention_mask"]]
    order = length_order(lengths)
    assert [lengths[i] for i in order] == sorted(lengths, reverse=True)
    for size in (5, 16):
        masks = [model.encode([prompts[i] for i in idx])["attention_mask"] for idx in batches(order, size)]
        padded = sum(int((m == 0).sum()) for m in masks) / sum(m.numel() for m in masks)
        assert padding_fraction(lengths, size) == pytest.approx(padded)
    by_chars = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    assert padding_fraction(lengths, 16) <= padding_fraction(lengths, 16, by_chars)


def test_a_batch_stops_decoding_when_every_row_has_stopped(tiny):
    """transformers ends the batch's loop once each row produced EOS or completed a stop string: the model is
    called once per new token of the longest row, not max_new_tokens times."""
    model, suites = tiny
    prompts = [model.render(ex.messages) for ex in suites[0].test][:6]
    stop = [" ", "e", "a", "o", "t", "\""]  # a random model soon writes one of these
    calls = []
    hook = model.model.register_forward_hook(lambda *_: calls.append(1))
    try:
        batched = model.generate(prompts, max_new_tokens=60, stop=stop, batch_size=6)
    finally:
        hook.remove()
    assert len(calls) < 60
    assert batched == model.generate(prompts, max_new_tokens=60, stop=stop, batch_size=1)


def test_a_stop_string_counts_only_in_the_generated_text(tiny):
    """A prompt that ends with a newline (as SmolLM2's generation prompt does) and a stop string that starts with
    one: transformers' own `stop_strings` would match across the end of the prompt and end the output at its first
    token; the harness matches the generated text alone, so the output is the unstopped one cut at its first stop
    string."""
    import torch
    from transformers.generation.stopping_criteria import StopStringCriteria

    from harness.models.generate import StopInOutput

    model, suites = tiny
    prompt = model.render(suites[0].test[0].messages) + "Answer:\n"
    free = model.generate([prompt], max_new_tokens=12, batch_size=1)[0]
    assert len(free) > 4
    stop = ["\n" + free[:3]]
    assert model.generate([prompt], max_new_tokens=12, stop=stop, batch_size=1) == [cut_at_stop(free, stop)]
    # the same ids, judged by each criterion right after the first generated token
    tok = model.tokenizer
    prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    first = tok(free, add_special_tokens=False)["input_ids"][:1]
    ids = torch.tensor([prompt_ids + first])
    if tok.decode(first).startswith(free[:3]):  # the first token holds the stop string's text after the newline
        assert StopStringCriteria(tok, stop)(ids, None).item()
    assert not StopInOutput(tok, stop, len(prompt_ids))(ids, None).item()
    later = tok(free[:1] + stop[0], add_special_tokens=False)["input_ids"]
    assert StopInOutput(tok, stop, len(prompt_ids))(torch.tensor([prompt_ids + later]), None).item()
