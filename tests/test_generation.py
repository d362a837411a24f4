"""Generation: batched, greedy, and the same output whatever the batch size."""
from __future__ import annotations

import pytest

from harness.generate import cut_at_stop
from harness.models import load_model
from harness.suite import find_suites, load_suite


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
    from harness.tiny import tiny_model_dir

    suites = [load_suite(p) for p in find_suites([small_suites])]
    first = (tiny_model_dir(suites, seed=3) / "model.safetensors").read_bytes()
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    assert (tiny_model_dir(suites, seed=3) / "model.safetensors").read_bytes() == first


def test_stop_strings_cut_the_output():
    assert cut_at_stop("answer\nQ: next", ["\nQ:"]) == "answer"
    assert cut_at_stop("a END b STOP", ["STOP", "END"]) == "a"
    assert cut_at_stop("plain", []) == "plain"
