"""Backends: real TRL/PEFT training on tiny, artefacts loadable by plain transformers and peft."""
from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from harness.common.errors import HarnessError
from harness.tuning.contract import TrainExample
from harness.tuning.registry import available, get_backend
from harness.tuning.settings import parse_overrides, resolve


def tune(name, base, examples, out, **settings):
    backend = get_backend(name)()
    backend.setup(base, examples, get_backend(name).settings_class(**{"learning_rate": 1e-3, **settings}), seed=0)
    stats = backend.train()
    return backend.save(out), stats


def test_registry_lists_builtins_and_rejects_unknown():
    assert {"full", "lora", "dora", "ia3", "prompt_tuning", "freeze", "qlora"} <= set(available())
    with pytest.raises(HarnessError, match="unknown backend 'nope'"):
        get_backend("nope")


def test_lora_adapter_loads_with_plain_peft(base_and_data, tmp_path):
    from peft import PeftModel

    base, examples = base_and_data
    tuned, stats = tune("lora", base, examples, tmp_path / "lora", max_steps=4)
    assert tuned.kind == "adapter"
    assert (tmp_path / "lora" / "adapter_model.safetensors").is_file()
    assert stats.steps == 4 and 0 < stats.trainable_params < stats.total_params and stats.loss_curve
    plain = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), str(tmp_path / "lora"))
    ids = AutoTokenizer.from_pretrained(base)("<|user|>hi<|end|><|assistant|>", return_tensors="pt")
    with torch.no_grad():
        tuned_logits = plain(**ids).logits
        with plain.disable_adapter():
            base_logits = plain(**ids).logits
    assert not torch.allclose(tuned_logits, base_logits)  # the adapter is applied and changes the model


def test_full_model_loads_with_plain_transformers(base_and_data, tmp_path):
    base, examples = base_and_data
    tuned, stats = tune("full", base, examples, tmp_path / "full", max_steps=3)
    assert tuned.kind == "full" and stats.trainable_params == stats.total_params
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "full")
    before = AutoModelForCausalLM.from_pretrained(base)
    assert any(not torch.equal(a, b) for a, b in zip(model.parameters(), before.parameters()))


def test_completion_only_loss_masks_the_prompt(base_and_data):
    base, examples = base_and_data
    backend = get_backend("full")()
    backend.setup(base, examples[:4], get_backend("full").settings_class(max_steps=1), seed=0)
    row = backend.trainer.train_dataset[0]
    prompt_len = next(i for i, label in enumerate(row["labels"]) if label != -100)
    assert all(label == -100 for label in row["labels"][:prompt_len])
    tokens = backend.loaded.tokenizer.convert_ids_to_tokens(row["input_ids"])
    assert tokens[prompt_len - 1] == "<|assistant|>" and tokens[-1] == "<|end|>"


def test_settings_layers_and_errors(base_and_data, tmp_path):
    base, _ = base_and_data
    lora = resolve("lora", base, {})
    assert lora.modules_to_save == ["embed_tokens", "lm_head"]  # tiny's recommendation
    assert get_backend("lora").settings_class.model_fields["learning_rate"].default == pytest.approx(
        10 * get_backend("full").settings_class.model_fields["learning_rate"].default)
    config = tmp_path / "b.yaml"
    config.write_text("lora: {r: 4, epochs: 1}\n")
    overrides = parse_overrides(str(config), ["lora.r=8", "full.learning_rate=0.01"])
    assert resolve("lora", base, overrides).r == 8 and resolve("lora", base, overrides).epochs == 1
    with pytest.raises(HarnessError, match="'lora.r'"):
        resolve("lora", base, parse_overrides(None, ["lora.r=-1"]))
    with pytest.raises(HarnessError, match="'lora.rank'"):
        resolve("lora", base, parse_overrides(None, ["lora.rank=4"]))
    with pytest.raises(HarnessError, match="BACKEND.FIELD=VALUE"):
        parse_overrides(None, ["r=4"])


def test_zero_steps_trains_nothing(base_and_data, tmp_path):
    base, examples = base_and_data
    _, stats = tune("full", base, examples, tmp_path / "z", max_steps=0)
    assert stats.steps == 0 and stats.train_tokens == 0


def test_examples_are_the_union_of_train_splits(base_and_data):
    _, examples = base_and_data
    assert all(isinstance(e, TrainExample) for e in examples) and len(examples) == 160 + 80


def test_lean_loss_is_trls_loss(base_and_data, tmp_path, monkeypatch):
    """Without TRL's per-step entropy and accuracy the losses are TRL's own, step for step."""
    from trl import SFTTrainer

    import backends.sft
    from backends.trainers import rebalanced

    base, examples = base_and_data
    _, lean = tune("lora", base, examples, tmp_path / "lean", max_steps=10)
    monkeypatch.setattr(backends.sft, "lean_sft_trainer", lambda: rebalanced(SFTTrainer))
    _, full_trl = tune("lora", base, examples, tmp_path / "trl", max_steps=10)
    assert [s for s, _ in lean.loss_curve] == [s for s, _ in full_trl.loss_curve] == [1, 5, 10]
    assert [v for _, v in lean.loss_curve] == pytest.approx([v for _, v in full_trl.loss_curve], rel=1e-5)
    assert lean.train_tokens == full_trl.train_tokens


def test_each_step_is_split_into_micro_batches_of_similar_lengths(base_and_data):
    """The same examples per step as random batches of batch_size, with less padding (computed independently)."""
    import torch

    base, examples = base_and_data
    backend = get_backend("full")()
    backend.setup(base, examples, get_backend("full").settings_class(learning_rate=1e-3, batch_size=8), seed=0)
    args = backend.trainer.args
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps) == (4, 2)
    micro = list(backend.trainer.get_train_dataloader())
    masks = [b["attention_mask"] for b in micro]
    padding = sum(int((m == 0).sum()) for m in masks) / sum(m.numel() for m in masks)
    lengths = [len(row["input_ids"]) for row in backend.trainer.train_dataset]
    assert sum(int(m.sum()) for m in masks) == sum(lengths)  # every example once per epoch
    # each optimizer step (two micro-batches) holds the examples a seeded random batch of 8 would
    order = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(0)).tolist()
    rows = backend.trainer.train_dataset["input_ids"]

    def unpadded(batch):
        return sorted(tuple(ids[mask.bool()].tolist()) for ids, mask in zip(batch["input_ids"], batch["attention_mask"]))

    for step, (a, b) in enumerate(zip(micro[::2], micro[1::2])):
        assert sorted(unpadded(a) + unpadded(b)) == sorted(tuple(rows[i]) for i in order[8 * step:8 * step + 8])
    padded = [max(lengths[i] for i in order[s:s + 8]) * len(order[s:s + 8]) for s in range(0, len(order), 8)]
    random_padding = 1 - sum(lengths) / sum(padded)
    assert padding < 0.75 * random_padding
