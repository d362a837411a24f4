"""Validity checks fire when they should, runs are deterministic, retention is gated."""
from __future__ import annotations

import pytest

from harness.evaluation import checks
from harness.evaluation.gates import decide, decide_all
from harness.models.generate import length_order, plan_batches
from harness.record import GateSpec, load_record
from harness.run.dirs import new_run_dir
from harness.run.orchestrate import RunRequest, execute, plan
from harness.tuning.tune import training_examples

from .conftest import cut_suite


@pytest.fixture(scope="module")
def suite_dir(tmp_path_factory):
    return cut_suite("agent_tools", tmp_path_factory.mktemp("s") / "agent_tools", 64, 12)


def run(tmp_path, suites, backends=("lora",), cache=True, **overrides):
    p = plan(RunRequest(suites=[str(s) for s in suites], backends=list(backends), overrides=overrides, cache=cache))
    run_dir = new_run_dir(tmp_path, p.config_key)
    return run_dir, execute(p, run_dir, log=lambda *_: None)


def test_zero_steps_fires_the_model_changed_check(suite_dir, tmp_path):
    run_dir, record = run(tmp_path, [suite_dir], backends=("full",), full={"max_steps": 0})
    assert record.checks.model_changed["full"].model_dump() == {"differ": 0, "compared": 12, "ok": False}
    checks = decide_all(record, str(run_dir))
    assert [g.model_dump() for g in record.gates] == [g.model_copy(update={"decided_by": "harness run"}).model_dump()
                                                       for g in checks]  # recorded as decided
    assert checks and not any(c.passed for c in checks)
    assert "tuning changed nothing" in checks[0].message


def test_corrupted_adapter_fires_the_reload_check(suite_dir, tmp_path, monkeypatch):
    import torch
    from safetensors.torch import load_file, save_file

    from backends.lora import LoRA

    original = LoRA.save

    def save_then_corrupt(self, out_dir):
        tuned = original(self, out_dir)
        path = out_dir / "adapter_model.safetensors"
        tensors = {k: v + torch.randn_like(v) for k, v in load_file(path).items()}
        save_file(tensors, path)
        return tuned

    monkeypatch.setattr(LoRA, "save", save_then_corrupt)
    run_dir, record = run(tmp_path, [suite_dir], cache=False, lora={"max_steps": 20})  # nor is this one
    reload = record.checks.reload_equivalence["lora"]
    assert reload.ok is False and reload.mismatches and reload.checked == 8
    gate = GateSpec(metric="exact_match", min=0.0)
    check = decide(record, "agent_tools", "lora", gate, str(run_dir))
    assert not check.passed and "reloaded, differs from the trained one" in check.message


def test_same_seed_same_results_and_checks_pass(suite_dir, tmp_path):
    translate = cut_suite("translate_en_zh", tmp_path / "translate_en_zh", 40, 12)
    steps = dict(full={"max_steps": 15}, lora={"max_steps": 15})
    # Without the caches, so that the second run really trains and generates again.
    _, first = run(tmp_path / "a", [suite_dir, translate], backends=("full", "lora"), cache=False, **steps)
    _, second = run(tmp_path / "b", [suite_dir, translate], backends=("full", "lora"), cache=False, **steps)
    # corpus-metric comparisons between different outputs ran sacrebleu's seeded randomization test
    assert any(c.test == "approximate-randomization" for c in first.comparisons)
    assert [r.model_dump() for r in first.results] == [r.model_dump() for r in second.results]
    assert [c.model_dump() for c in first.comparisons] == [c.model_dump() for c in second.comparisons]
    for state in ("full", "lora"):
        assert first.checks.reload_equivalence[state].ok is True
        assert first.checks.batch_invariance[state].ok is True
        assert first.checks.model_changed[state].ok is True
    assert first.checks.batch_invariance["base"].model_dump() == {"checked": 16, "mismatches": [], "ok": True,
                                                                  "note": ""}
    assert first.checks == second.checks


def test_retention_suite_is_not_trained_on_and_is_gated(suite_dir, tmp_path):
    retention = cut_suite("translate_en_zh", tmp_path / "general", 30, 10, role="retention", gates=[])
    p = plan(RunRequest(suites=[str(suite_dir), str(retention)], backends=["lora"]))
    assert len(training_examples(p.suites)) == 64  # the retention suite's train split is left out
    spec = next(s for s in p.suites if s.name == "translate_en_zh").spec
    assert [g.label for g in spec.gates] == [f"{m.name}:no_significant_regression" for m in spec.metrics]
    run_dir, record = run(tmp_path, [suite_dir, retention], lora={"max_steps": 10})
    losses = record.retention["translate_en_zh"]
    assert set(losses) == {"base", "lora"} and all(v > 0 for v in losses.values())
    checks = [c for c in decide_all(record, str(run_dir)) if c.suite == "translate_en_zh"]
    assert len(checks) == 3 and all("Holm p" in c.message for c in checks)


def test_contamination_is_counted_and_gated(tmp_path):
    suite = cut_suite("agent_tools", tmp_path / "leaky", 20, 6, gates=[{"max_overlap": 0.0}])
    test = (suite / "test.jsonl").read_text().splitlines()
    train = (suite / "train.jsonl").read_text().splitlines()
    # two test prompts copied into train: one verbatim, one with case and punctuation changed
    leaked = [test[0].replace('"id": "test-00001"', '"id": "leak-1"'),
              test[1].replace('"id": "test-00002"', '"id": "leak-2"').replace("?", "").replace(".", "").lower()]
    (suite / "train.jsonl").write_text("\n".join(train + leaked) + "\n")
    p = plan(RunRequest(suites=[str(suite)], backends=[]))
    run_dir = new_run_dir(tmp_path / "runs", p.config_key)
    record = execute(p, run_dir, log=lambda *_: None)
    info = record.data.suite("agent_tools").overlap
    assert (info.exact, info.near, info.n_test) == (1, 2, 6) and record.checks.contamination == {}
    assert [(t, r) for t, r, _ in info.pairs] == [("test-00001", "leak-1"), ("test-00002", "leak-2")]
    (check,) = decide_all(record)
    assert check.state == "data" and not check.passed and "2 of 6 test prompts occur in train" in check.message
    assert [f.kind for f in record.data.suite("agent_tools").findings] == ["overlap", "near_overlap"]


def test_significance_gates(small_run):
    record = load_record(small_run)
    gain = GateSpec(metric="tool_name", significant_gain=True)
    no_loss = GateSpec(metric="tool_name", no_significant_regression=True)
    c = next(c for c in record.comparisons if (c.suite, c.metric, c.baseline, c.state) == ("agent_tools", "tool_name", "base", "lora"))
    assert decide(record, "agent_tools", "lora", gain).passed == (c.verdict == "gain")
    assert decide(record, "agent_tools", "lora", no_loss).passed == (c.verdict != "loss")
    # against itself as the baseline run nothing changed: never a regression
    against_self = decide(record, "agent_tools", "lora", no_loss, str(small_run), (str(small_run), record))
    assert against_self.passed and "no detectable change" in against_self.message
    # a forged significant loss must fail the regression gate
    record.comparisons = [c.model_copy(update={"verdict": "loss", "delta": -0.5}) if
                          (c.suite, c.metric, c.state, c.baseline) == ("agent_tools", "tool_name", "lora", "base") else c
                          for c in record.comparisons]
    assert not decide(record, "agent_tools", "lora", no_loss).passed


def _attends_to_padding(model, texts, **kwargs):
    batch = model.tokenizer(texts, add_special_tokens=not model.chat, return_tensors="pt", padding=True, **kwargs)
    batch["attention_mask"][:] = 1  # the bug: padding is attended like text
    return batch


def _pads_on_the_right(model, texts, **kwargs):
    model.tokenizer.padding_side = "right"  # the bug: a decoder-only model continues after its padding
    return model.tokenizer(texts, add_special_tokens=not model.chat, return_tensors="pt", padding=True, **kwargs)


@pytest.mark.parametrize("bug", [_attends_to_padding, _pads_on_the_right])
def test_batch_invariance_check_fires_when_outputs_depend_on_batching(suite_dir, tmp_path, monkeypatch, bug):
    from harness.models.loading import Model

    monkeypatch.setattr(Model, "encode", bug)
    _, record = run(tmp_path, [suite_dir], backends=(), cache=False)  # the bug is not in any cache key
    check = record.checks.batch_invariance["base"]
    assert check.checked == checks.SAMPLE and check.ok is False and check.mismatches
    assert "outputs depend on the batch" in record.checks.failures("base")[0]


@pytest.mark.parametrize("n, batch_size", [(240, 32), (120, 32), (120, 16), (12, 32), (12, 7), (40, 4), (500, 256)])
def test_every_sampled_row_meets_other_padding_the_second_time(n, batch_size):
    """The argument of `checks.invariance_sample` on prompt lengths like the shipped suites': each repeat is
    padded differently than its first copy, in batches no larger than asked: k rows more, not k generations."""
    import random

    rng = random.Random(n)
    lengths = [rng.randint(30, 90) for _ in range(n)]
    pick = checks.invariance_sample(lengths)
    assert len(pick) == min(checks.SAMPLE, n) and max(lengths) not in [lengths[i] for i in pick]
    everything = lengths + [lengths[i] for i in pick]
    plan = plan_batches(everything, batch_size, len(pick))
    assert sorted(i for b in plan for i in b) == list(range(len(everything)))  # each prompt and repeat once
    assert all(len(b) <= batch_size for b in plan) and len(plan) <= -(-len(everything) // batch_size) + 1
    padding = {i: max(everything[j] for j in b) - everything[i] for b in plan for i in b}
    differ = sum(padding[n + r] != padding[i] for r, i in enumerate(pick))
    if batch_size >= 2 * len(pick) or n <= batch_size:
        assert differ == len(pick)
    else:  # batches smaller than twice the sample: repeats share the first batches, some padding may coincide
        assert differ >= len(pick) // 2
    assert [i for b in plan for i in b if i < n] == length_order(lengths)  # the evaluation's order is kept


def test_reload_check_compares_only_outputs_generated_alike():
    from harness.cache.keys import reload_check_key
    from harness.evaluation.checks import compare_reloaded

    key = reload_check_key("prompt a", 16, ["\n"])
    rows = {"s/1": (key, "out"), "s/2": (reload_check_key("prompt b", 16, []), "other"), "s/3": ("k", "x")}
    expected = {"s/1": {"output": "out", "key": key},
                "s/2": {"output": "other!", "key": reload_check_key("prompt b", 32, [])},  # settings changed since
                "s/4": {"output": "gone", "key": "k"}}  # the example is no longer evaluated
    check = compare_reloaded(expected, rows, restored=True)
    assert (check.checked, check.mismatches, check.ok) == (1, [], True)
    assert check.note == "2 sampled examples changed since the model was trained and were not compared"
    assert compare_reloaded({"s/1": {"output": "else", "key": key}}, rows, True).mismatches == ["s/1"]
    bare = {"s/1": "out", "s/3": "y"}  # an earlier version's record: outputs without their keys
    assert compare_reloaded(bare, rows, restored=False).model_dump() == {"checked": 2, "mismatches": ["s/3"],
                                                                         "ok": False, "note": ""}
    nothing = compare_reloaded(bare, rows, restored=True)
    assert nothing.checked == 0 and nothing.ok is None and "changed" in nothing.note
