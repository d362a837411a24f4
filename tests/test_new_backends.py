"""DoRA, (IA)³, prompt tuning, freeze and QLoRA: real training of tiny for a few steps; adapters reload
with plain peft, and the reloaded artefact reproduces the model as trained (the reload check)."""
from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from harness.cli import main
from harness.models.loading import load_model
from harness.suitedef.suite import load_suite
from harness.tuning.registry import get_backend
from harness.tuning.settings import resolve
from harness.tuning.tune import training_examples

from .conftest import cut_suite, tiny_t5

PROMPT = "<|user|>hi<|end|><|assistant|>"


def tune(name, base, examples, out, **settings):
    """Tune with tiny's recommended settings (and `settings`); returns (tuned, stats, in-memory model)."""
    backend = get_backend(name)()
    backend.setup(base, examples, resolve(name, base, {name: {"max_steps": 3, **settings}}), seed=0)
    stats = backend.train()
    tuned = backend.save(out)
    return tuned, stats, backend.tuned_in_memory()


def same_outputs_reloaded(in_memory, out_dir, examples) -> None:
    """The reload check and the batch check, as the harness runs them."""
    prompts = [in_memory.render(ex.messages, ex.tools) for ex in examples[:6]]
    expected = in_memory.generate(prompts, 10, batch_size=6)
    reloaded = load_model(str(out_dir))
    assert reloaded.generate(prompts, 10, batch_size=6) == expected
    assert [reloaded.generate([p], 10)[0] for p in prompts] == expected  # batch invariance


@pytest.mark.parametrize("name, peft_type", [("dora", "LORA"), ("ia3", "IA3"), ("prompt_tuning", "PROMPT_TUNING")])
def test_adapter_backends_reload_with_plain_peft(name, peft_type, base_and_data, tmp_path):
    from peft import PeftModel

    base, examples = base_and_data
    tuned, stats, in_memory = tune(name, base, examples, tmp_path / name)
    assert tuned.kind == "adapter" and stats.steps == 3 and 0 < stats.trainable_params < stats.total_params
    config = json.loads((tmp_path / name / "adapter_config.json").read_text())
    assert config["peft_type"] == peft_type
    if name == "dora":
        assert config["use_dora"] is True
    if name == "ia3":  # PEFT's choice for Llama: keys, values and the feed-forward output
        assert sorted(config["target_modules"]) == ["down_proj", "k_proj", "v_proj"]
        assert config["feedforward_modules"] == ["down_proj"] or set(config["feedforward_modules"]) == {"down_proj"}
    if name == "prompt_tuning":
        assert config["num_virtual_tokens"] == 20
    plain = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), str(tmp_path / name))
    ids = AutoTokenizer.from_pretrained(base)(PROMPT, return_tensors="pt")
    with torch.no_grad():
        tuned_logits = plain(**ids).logits[:, -ids["input_ids"].shape[1]:]
        with plain.disable_adapter():
            base_logits = plain(**ids).logits
    assert not torch.allclose(tuned_logits, base_logits)  # the adapter is applied and changes the model
    same_outputs_reloaded(in_memory, tmp_path / name, examples)


def test_prompt_tuning_token_loss_skips_the_virtual_tokens(base_and_data, tmp_path):
    base, examples = base_and_data
    _, _, in_memory = tune("prompt_tuning", base, examples, tmp_path / "pt", max_steps=1)
    prompts = [in_memory.render(ex.messages, ex.tools) for ex in examples[:2]]
    loss = load_model(str(tmp_path / "pt")).token_loss(prompts, [ex.completion for ex in examples[:2]])
    assert 0 < loss < 20


def test_freeze_trains_only_the_top_layers_the_head_and_what_it_names(base_and_data, tmp_path):
    base, examples = base_and_data
    tuned, stats, in_memory = tune("freeze", base, examples, tmp_path / "freeze")  # tiny: top 1 of 2 + embeddings
    assert tuned.kind == "full"
    before = dict(AutoModelForCausalLM.from_pretrained(base).named_parameters())
    after = dict(AutoModelForCausalLM.from_pretrained(tmp_path / "freeze").named_parameters())
    changed = {n for n in after if not torch.equal(after[n], before[n])}
    assert changed and all(n.startswith(("model.layers.1.", "lm_head.", "model.embed_tokens.")) for n in changed)
    assert any(n.startswith("model.layers.1.") for n in changed) and "lm_head.weight" in changed
    trainable = sum(p.numel() for n, p in before.items()
                    if n.startswith(("model.layers.1.", "lm_head.", "model.embed_tokens.")))
    assert stats.trainable_params == trainable
    same_outputs_reloaded(in_memory, tmp_path / "freeze", examples)
    with pytest.raises(Exception, match="no module named 'nope'"):
        tune("freeze", base, examples, tmp_path / "bad", extra_modules=["nope"])


def test_encoder_decoder_prompt_tuning_and_ia3(tmp_path):
    tiny_t5(tmp_path / "t5")
    suite = load_suite(cut_suite("agent_tools", tmp_path / "s" / "agent_tools", 16, 2))
    examples = training_examples([suite])
    for name in ("prompt_tuning", "ia3"):
        backend = get_backend(name)()
        backend.setup(str(tmp_path / "t5"), examples, get_backend(name).settings_class(max_steps=2, batch_size=8),
                      seed=0)
        assert backend.train().steps == 2
        assert backend.save(tmp_path / name).kind == "adapter"
        same_outputs_reloaded(backend.tuned_in_memory(), tmp_path / name, examples)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")
def test_qlora_is_listed_but_refuses_without_a_gpu(small_suites, tmp_path, capsys):
    assert main(["backends"]) == 0
    assert "qlora  (backends.qlora:QLoRA)  UNAVAILABLE HERE: qlora needs a CUDA GPU" in capsys.readouterr().out
    out = tmp_path / "runs"
    assert main(["run", "--suite", str(small_suites), "--backend", "qlora", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "backend qlora: qlora needs a CUDA GPU" in err and not out.exists()
    assert main(["tune", "--backend", "qlora", "--model", "tiny", "--suite", str(small_suites),
                 "--out", str(tmp_path / "q")]) == 2
    assert not (tmp_path / "q").exists()


@pytest.mark.skipif(get_backend("qlora").unavailable() is not None, reason="needs a CUDA GPU and bitsandbytes")
def test_qlora_trains_over_a_4bit_base_and_reloads_over_the_same(base_and_data, tmp_path):
    from peft import PeftModel

    base, examples = base_and_data
    tuned, stats, in_memory = tune("qlora", base, examples, tmp_path / "qlora")
    assert tuned.kind == "adapter" and stats.steps == 3
    assert json.loads((tmp_path / "qlora" / "base_quantization.json").read_text())["load_in_4bit"] is True
    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), str(tmp_path / "qlora"))  # plain peft
    same_outputs_reloaded(in_memory, tmp_path / "qlora", examples)
