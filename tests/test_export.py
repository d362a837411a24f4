"""Merged export of a run's LoRA adapter: a full model plain transformers loads, checked on reload."""
from __future__ import annotations

import json

import pytest
import torch
import yaml
from huggingface_hub import ModelCard
from transformers import AutoModelForCausalLM, AutoTokenizer

from harness.cli import main
from harness.common.errors import HarnessError
from harness.record import load_predictions, load_record
from harness.tuning.card import model_card
from harness.tuning.export import export_merged

from .conftest import ROOT

V2_RUN = ROOT / "tests" / "data" / "run_v2"


@pytest.fixture(scope="module")
def exported(small_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "merged"
    assert main(["export", str(small_run), "--backend", "lora", "--out", str(out)]) == 0
    return out


def test_export_record_says_what_was_merged_and_that_the_check_passed(small_run, exported):
    record = json.loads((exported / "export.json").read_text())
    run = load_record(small_run)
    assert record["source_run"] == str(small_run.resolve()) and record["backend"] == "lora"
    assert record["base_model"] == "tiny" and record["base_model_path"] == run.model_path
    per_suite = {s.name: min(8, len(load_predictions(small_run, "lora", s.name))) for s in run.suites}
    assert record["check"]["checked"] == sum(per_suite.values()) == 16
    assert record["check"]["ok"] is True and record["check"]["mismatches"] == []


def test_merged_model_loads_plainly_and_equals_base_plus_adapter(small_run, exported):
    from peft import PeftModel

    run = load_record(small_run)
    merged = AutoModelForCausalLM.from_pretrained(exported)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    tok = AutoTokenizer.from_pretrained(exported)
    prompt = load_predictions(small_run, "lora", run.suites[0].name)[0].model_input
    ids = tok(prompt, return_tensors="pt", add_special_tokens=False)
    adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(run.model_path),
                                        str(small_run / "models" / "lora"))
    with torch.no_grad():
        expected = adapted(**ids).logits
        assert torch.allclose(merged(**ids).logits, expected, atol=1e-4, rtol=0)
        with adapted.disable_adapter():  # and the merge is not simply the base model
            assert not torch.allclose(adapted(**ids).logits, expected, atol=1e-4, rtol=0)


def test_export_errors_are_one_line(small_run, exported, tmp_path):
    with pytest.raises(HarnessError, match="backend 'full' saved a full model, which loads as it is"):
        export_merged(small_run, "full", tmp_path / "x")
    with pytest.raises(HarnessError, match=r"this run has no backend 'qlora' \(it has: full, lora\)"):
        export_merged(small_run, "qlora", tmp_path / "x")
    with pytest.raises(HarnessError, match="already exists and is not an empty directory"):
        export_merged(small_run, "lora", exported)
    with pytest.raises(HarnessError, match="not a run directory"):
        export_merged(tmp_path, "lora", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_a_mismatch_is_reported_not_hidden(small_run, tmp_path, monkeypatch, capsys):
    import harness.tuning.export as export

    real = export._generate
    calls = []

    def drifting(model, sample):  # the second pass (the reloaded merged model) differs on one prompt
        outputs = real(model, sample)
        calls.append(1)
        if len(calls) == 2:
            first = next(iter(outputs))
            outputs[first] += " (drift)"
        return outputs

    monkeypatch.setattr(export, "_generate", drifting)
    assert main(["export", str(small_run), "--out", str(tmp_path / "m")]) == 1
    record = json.loads((tmp_path / "m" / "export.json").read_text())
    assert record["check"]["ok"] is False and len(record["check"]["mismatches"]) == 1
    assert "reload check FAILED: 1 of 16" in capsys.readouterr().err


def _card_parts(text: str) -> tuple[dict, str]:
    """The card's YAML front matter, parsed independently of huggingface_hub, and its body."""
    _, front, body = text.split("---\n", 2)
    return yaml.safe_load(front), body


def test_the_model_card_reads_back_with_every_result_and_interval(tmp_path):
    record = load_record(V2_RUN)
    check = {"ok": True, "checked": 16, "mismatches": []}
    text = model_card(record, "lora", "tiny-lora-merged", check)
    card = ModelCard(text)  # huggingface_hub's own parser: raises on a malformed model-index
    mine = [r for r in record.results if r.state == "lora"]
    got = {(e.dataset_name, e.metric_type): e for e in card.data.eval_results}
    assert sorted(got) == sorted((r.suite, r.metric) for r in mine) and len(mine) == 6
    for r in mine:
        e = got[(r.suite, r.metric)]
        assert e.metric_value == pytest.approx(r.value, abs=1e-3) and e.dataset_split == "test"
        assert e.task_type == "text-generation" and f"[{r.ci_low:.4f}, {r.ci_high:.4f}]" in e.metric_name
    front, body = _card_parts(text)
    assert front["model-index"][0]["name"] == "tiny-lora-merged" and front["library_name"] == "transformers"
    # read without huggingface_hub: one result per suite (task and dataset), one metric per suite metric
    index = {(res["dataset"]["name"], m["type"]): m["value"] for res in front["model-index"][0]["results"]
             for m in res["metrics"]}
    assert index == {(r.suite, r.metric): pytest.approx(r.value, abs=1e-3) for r in mine}
    # the body: data, strategy with its settings, results against base, gates and validity checks
    for s in record.suites:
        assert f"| {s.name} | {s.version} | {s.role} |" in body
    lora = next(b for b in record.backends if b.name == "lora")
    assert f"| r | {lora.settings['r']} |" in body and f"{lora.cost.steps} optimizer steps" in body
    c = next(c for c in record.comparisons if (c.state, c.baseline) == ("lora", "base"))
    assert f"{c.delta:+.3f}" in body or f"{c.delta:+.2f}" in body
    assert "every validity check passed" in body or "cannot be trusted" in body
    assert "reproduces base+adapter on 16 sampled test prompts" in body


def test_export_writes_a_model_card_the_hub_parser_reads(small_run, exported):
    card = ModelCard.load(exported / "README.md")
    run = load_record(small_run)
    assert len(card.data.eval_results) == len([r for r in run.results if r.state == "lora"]) > 0
    assert card.data.model_name == "merged" and "The merged model, reloaded with plain transformers, reproduces" \
        in card.text
