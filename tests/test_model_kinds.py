"""`harness run --model DIR` on directories saved by `save_pretrained`: a causal LM without a
chat template, and an encoder-decoder (T5 config, byte-level tokenizer) tuned via Seq2SeqTrainer."""
from __future__ import annotations

import pytest
import torch

from harness.cli import main
from harness.models.loading import load_model
from harness.record import load_explanations, load_predictions, load_record

from .conftest import cut_suite, tiny_t5


@pytest.fixture(scope="module")
def one_suite(tmp_path_factory):
    return cut_suite("agent_tools", tmp_path_factory.mktemp("s") / "agent_tools", 24, 6)


def run_on(model_dir, suite, out):
    assert main(["run", "--model", str(model_dir), "--suite", str(suite), "--out", str(out),
                 "--set", "full.max_steps=3", "--set", "lora.max_steps=3", "--set", "full.learning_rate=1e-3",
                 "--set", "lora.learning_rate=1e-3"]) == 0
    (run,) = out.iterdir()
    return run, load_record(run)


def test_causal_directory_without_chat_template(one_suite, tmp_path):
    from transformers import ByT5Tokenizer, GPT2Config, GPT2LMHeadModel

    tok = ByT5Tokenizer()
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=1, n_head=2, n_positions=512,
                                       eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id))
    model.save_pretrained(tmp_path / "gpt")
    tok.save_pretrained(tmp_path / "gpt")
    assert not load_model(str(tmp_path / "gpt")).chat
    run, record = run_on(tmp_path / "gpt", one_suite, tmp_path / "runs")
    assert record.status == "complete" and {r.state for r in record.results} == {"base", "full", "lora"}
    assert record.backends[1].kind == "adapter" and record.backends[1].cost.steps == 3
    assert not record.explanations.attention["agent_tools"].startswith("not shown")  # GPT-2 switches to eager
    assert len(load_explanations(run, "base", "agent_tools")) == 6  # the seeded sample: every test example


def test_encoder_decoder_directory(one_suite, tmp_path):
    tiny_t5(tmp_path / "t5")
    loaded = load_model(str(tmp_path / "t5"))
    assert loaded.encoder_decoder and loaded.render([{"role": "user", "content": "hi"}]) == "hi"
    run, record = run_on(tmp_path / "t5", one_suite, tmp_path / "runs")
    assert record.status == "complete" and [b.name for b in record.backends] == ["full", "lora"]
    assert all(b.cost.steps == 3 and b.cost.train_tokens > 0 for b in record.backends)
    assert (run / "models" / "lora" / "adapter_model.safetensors").is_file()
    # explanations score the target as the model's own loss does; attention views are for causal LMs
    assert record.explanations.attention["agent_tools"].startswith("not shown")
    (first, *_) = load_explanations(run, "base", "agent_tools")
    row = next(r for r in load_predictions(run, "base", "agent_tools") if r.id == first.id)
    enc = loaded.tokenizer(row.model_input, return_tensors="pt")
    labels = loaded.tokenizer(text_target=row.reference, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        loss = float(loaded.model(**enc, labels=labels).loss)
    assert -sum(first.logprobs) / len(first.logprobs) == pytest.approx(loss, abs=2e-3)
    assert len(first.tokens) == labels.shape[1]
