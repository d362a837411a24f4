"""Cache keys: made from one declaration of what decides each kind of result, unchanged from the keys the harness
made before they lived in one module (so existing caches stay valid), and every backend setting declared."""
from __future__ import annotations

import hashlib
import inspect
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

from harness.cache import keys
from harness.run import orchestrate
from harness.run.orchestrate import RunRequest, plan
from harness.tuning.contract import TrainExample, TuneSettings
from harness.tuning.registry import available, get_backend
from harness.tuning.tune import training_examples

from .conftest import cut_suite

# --- pinned keys ---------------------------------------------------------------------------------------------
# Computed from these inputs by the functions as they were before keys.py (comparisons.py, generations.py,
# tuning.py, explanations.py, checks.py, batch_size.py, orchestrate.py, backends/checkpoints.py), with the same
# stand-ins for the hashes of source files and the package versions: the stand-in names the files, so a pin also
# fails when a key covers other source files than it did.

OLD = {
    # moved on purpose: the comparison key covers alpha (it sets the one-sided bounds), and tuning keys
    # TUNING_VERSION 2 (a cached entry records the hashes of the files saved beside the model); data reports and
    # tuning cover models/toolprompt.py (how function schemas reach a prompt), data reports dataquality/text.py
    # (the findings' wording), tuning models/training_tokens.py (the chat path's token ids and loss masks)
    "comparison": "0c43f493276c6dac8c827908200db74d8d0aa3502e850cef2ae161820235a481",
    "data_report": "7a2fba2445259c020bdf303d99376723ef5c25a059dcc74ac141ab193203ec2a",
    "model_key": "356cf46e68551713e0af06f6625ca6be35deb31e4d08f0c69044f28ffa73e98a",
    "outputs": ["fb0c1c82ee6458909bffc9a36e5af1436d00267982ce6332b94a84e1cd06495a",
                "505123da06f3b670243efd4dab98612996a4d67afdddae7529b50a395834fcc8",
                "7fa0ba72ec0bcbb9aa3e954a2147d9c6612987bfc817ac866420b9a4607b1578"],
    "losses": ["2d90d944c303b104bfa7dff382bdb0d3e7fece3748357cc754fd3a7aeba29eda"],
    "explanations": ["2fe5f8f2951cecb6166ebc8468edfae3c8c9f4bfb25b8ebb04da3962688e70bb"],
    "tuning": "d325364d340dbdc0ac59029f39ff5b52764372e309515c6d94d9497b9064b89f",
    "training_identity": "bc41d3d48d63460f055bb62be97f3f1c5f32a85e4794e5a79f009ff8bf6548f8",
    "reload": ["aeb62538e0c8e35a", "6e87bb2effc5157e"],
    "batch_size": "eeac59fa78d744e4",
    "config": ["8e079f289101847b", "6d03291c6f3a9df9"],
    "code_hash": "12a0d1674227fb70",
}

EXAMPLES = [TrainExample([{"role": "user", "content": "hi ñ"}], "hello"),
            TrainExample([{"role": "user", "content": "call"}], "{}", [{"name": "f", "parameters": {}}])]
SETTINGS = {"learning_rate": 0.001, "epochs": 1.0, "max_steps": 3, "batch_size": 4, "warmup_steps": 0,
            "lr_scheduler": "cosine", "weight_decay": 0.0, "max_length": 128, "checkpoint_every": 5}


class Metric:  # stands in for a metric class: its sources are named by the class
    pass


class FullFineTune:  # stands in for a backend class
    pass


@pytest.fixture
def stand_ins(monkeypatch):
    """Source hashes that name the files (relative to harness/), fixed package versions."""
    def source_hash(files):
        names = sorted({p.resolve().relative_to(keys.HARNESS).as_posix() if p.resolve().is_relative_to(keys.HARNESS)
                        else p.name for p in files})
        return hashlib.sha256(",".join(names).encode()).hexdigest()

    monkeypatch.setattr(keys, "source_hash", source_hash)
    monkeypatch.setattr(keys, "package_versions", lambda names: {n: f"{n}-1.0" for n in names})
    monkeypatch.setattr(keys, "class_sources", lambda cls: [Path(f"{cls.__name__}.py")])


def test_run_level_keys_are_unchanged(stand_ins):
    info = NS(name="exact_match", model_dump=lambda mode: {"name": "exact_match", "kind": "pass_fail",
                                                           "options": {"x": "é"}})

    def row(i, output, score):
        return NS(id=i, output=output, reference="ref " + i, scores={"exact_match": score, "other": 0.5})

    base, tuned = [row("1", "a", 0.0), row("2", "b ü", 1.0)], [row("1", "ref 1", 1.0), row("2", "b ü", 1.0)]
    assert keys.comparison_key(Metric(), info, "base", "lora", base, tuned, 7, 0.05) == OLD["comparison"]
    assert keys.data_report_key([["h1", None], ["h2", 20]], "tiny", "dir:abc",
                                {"full": 512, "lora": 256}) == OLD["data_report"]


def test_generation_keys_are_unchanged(stand_ins):
    model = keys.model_key("dir:model", "dir:adapter", "float32", "cpu")
    assert model == OLD["model_key"]
    outputs = [keys.output_key(model, p, 16, ["\n", "###"], again=False) for p in ("p1", "p2 ç")]
    assert outputs + [keys.output_key(model, "p1", 16, ("\n", "###"), again=True)] == OLD["outputs"]
    assert [keys.loss_key(model, "p1", "r1")] == OLD["losses"]
    item = NS(prompt="p1", reference="r1", output="o1", other_outputs=["o2"], attention=True)
    assert keys.explanation_keys(model, [item]) == OLD["explanations"]


def test_tuning_keys_are_unchanged(stand_ins):
    assert keys.tuning_key("dir:base", EXAMPLES, "full", FullFineTune, SETTINGS, 3, "cpu", 1) == OLD["tuning"]
    assert keys.training_identity("full", "/models/base", EXAMPLES, SETTINGS, 3, 2) == OLD["training_identity"]
    # a transcript trained on every assistant turn is other training than one trained on its last turn only
    transcript = [TrainExample([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "c",
                               every_turn=every) for every in (False, True)]
    assert len({keys.tuning_key("dir:base", [ex], "full", FullFineTune, SETTINGS, 3, "cpu", 1)
                for ex in transcript}) == 2
    assert len({keys.training_identity("full", "/models/base", [ex], SETTINGS, 3, 2) for ex in transcript}) == 2


def test_small_keys_are_unchanged(monkeypatch):
    assert [keys.reload_check_key("prompt é", 16, ["\n"]), keys.reload_check_key("p", 8, [])] == OLD["reload"]
    assert keys.batch_size_key('["LlamaForCausalLM", {}]', "NVIDIA H200", 150000000000, "torch.bfloat16", 321,
                               64) == OLD["batch_size"]
    monkeypatch.setattr(orchestrate, "results_hash", lambda s: s.h)
    suites = [NS(h="r1", limit=None), NS(h="r2", limit=10)]
    config = [orchestrate.config_key(NS(model="tiny", adapter=None, seed=0), suites, "/cache/tiny-abc",
                                     {"full": SETTINGS}, "code1"),
              orchestrate.config_key(NS(model="org/m", adapter="/adapters/a", seed=5), suites[:1], "/x",
                                     {"lora": SETTINGS, "full": {**SETTINGS, "checkpoint_every": None}}, "code2")]
    assert config == OLD["config"]


def test_code_hash_is_unchanged(tmp_path, monkeypatch):
    for rel, text in {"harness/__init__.py": "", "harness/run/orchestrate.py": "x = 1\n", "harness/a/b.py": "é",
                      "plug/backends/__init__.py": "", "plug/backends/one.py": "y = 2\n",
                      "harness/data.txt": "no"}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    monkeypatch.setattr(keys, "HARNESS", tmp_path / "harness")
    assert keys.code_hash([tmp_path / "plug" / "backends"]) == OLD["code_hash"]
    (tmp_path / "harness" / "data.txt").write_text("changed")  # not Python: not in it
    assert keys.code_hash([tmp_path / "plug" / "backends"]) == OLD["code_hash"]
    (tmp_path / "plug" / "backends" / "one.py").write_text("y = 3\n")
    assert keys.code_hash([tmp_path / "plug" / "backends"]) != OLD["code_hash"]


# --- the declaration -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(keys.DECIDES))
def test_each_kind_is_keyed_by_exactly_what_it_declares(kind):
    declared = keys.DECIDES[kind]
    function = getattr(keys, declared.key)
    assert tuple(inspect.signature(function).parameters) == declared.inputs, f"{kind}: {declared.key}"
    assert declared.class_code is None or declared.class_code in declared.inputs
    for pattern in declared.code:
        assert list(keys.HARNESS.glob(pattern)), f"{kind}: no source file {pattern} under harness/"


def undeclared_settings(backends: dict[str, type]) -> list[str]:
    """`backend.field` for each setting of these backends that TUNING_SETTINGS does not declare."""
    return [f"{name}.{field}" for name, cls in sorted(backends.items())
            for field in cls.settings_class.model_fields if field not in keys.TUNING_SETTINGS]


def registered() -> dict[str, type]:
    return {name: get_backend(name) for name in available()}


def test_every_backend_setting_says_whether_it_decides_the_result():
    missing = undeclared_settings(registered())
    assert not missing, ("declare in harness.cache.keys.TUNING_SETTINGS whether these settings decide what training "
                         f"produces: {', '.join(missing)}")
    used = {field for cls in registered().values() for field in cls.settings_class.model_fields}
    assert set(keys.TUNING_SETTINGS) <= used, f"declared but no backend has them: {set(keys.TUNING_SETTINGS) - used}"


def test_a_new_setting_without_a_declaration_is_named():
    base = get_backend("lora")

    class Settings(base.settings_class):  # type: ignore[name-defined, misc]
        rank_pattern: dict[str, int] = {}

    new = type("NewLoRA", (base,), {"settings_class": Settings})
    assert undeclared_settings({**registered(), "lora": new}) == ["lora.rank_pattern"]
    assert undeclared_settings({"x": type("X", (), {"settings_class": TuneSettings})}) == []


def test_deciding_leaves_out_only_the_settings_declared_result_free():
    free = {k for k, decides in keys.TUNING_SETTINGS.items() if not decides}
    assert free == {"checkpoint_every"}
    assert keys.deciding({**SETTINGS, "unknown": 1}) == {**{k: v for k, v in SETTINGS.items()
                                                            if k != "checkpoint_every"}, "unknown": 1}
    # what a result-free setting does not change: the tuning key, the checkpoints' identity, the run's key
    other = {**SETTINGS, "checkpoint_every": 500}
    assert keys.training_identity("full", "/b", EXAMPLES, other, 0, 1) == keys.training_identity(
        "full", "/b", EXAMPLES, SETTINGS, 0, 1)
    assert keys.config_key("m", [("h", None)], {"full": other}, 0, "c") == keys.config_key(
        "m", [("h", None)], {"full": SETTINGS}, 0, "c")
    assert keys.config_key("m", [("h", None)], {"full": {**SETTINGS, "r": 8}}, 0, "c") != keys.config_key(
        "m", [("h", None)], {"full": SETTINGS}, 0, "c")


# --- what decides the tuning and the run's configuration, end to end ------------------------------------------

def test_tuning_key_covers_what_decides_the_artefact_and_nothing_else(small_suites):
    from backends.full import FullFineTune
    from backends.lora import LoRA

    p = plan(RunRequest(suites=[str(small_suites)], backends=["lora"]))
    examples = training_examples(p.suites)
    settings = p.settings["lora"]

    def key(fp="dir:base", exs=examples, backend="lora", cls=LoRA, s=settings, seed=0, device="cpu", processes=1):
        return keys.tuning_key(fp, exs, backend, cls, s, seed, device, processes)

    same = key()
    assert key() == same and key(exs=list(examples)) == same
    edited = [type(ex)(ex.messages, ex.completion + " ") if i == 3 else ex for i, ex in enumerate(examples)]
    changed = [key(fp="dir:other"), key(exs=edited), key(exs=examples[:-1]), key(s={**settings, "r": 8}),
               key(seed=1), key(backend="full", cls=FullFineTune), key(device="cuda"), key(processes=2)]
    assert key(s={**settings, "checkpoint_every": 10}) == same  # result-free: a resumed training is the same
    assert same not in changed and len(set(changed)) == len(changed)


def test_config_key_ignores_gates_rubric_and_description_only(tmp_path):
    def key(**changes):
        folder = cut_suite("agent_tools", tmp_path / f"s{len(list(tmp_path.iterdir()))}" / "agent_tools", 20, 6,
                           **changes)
        return plan(RunRequest(suites=[str(folder)], backends=["lora"])).config_key

    same = key()
    assert key(gates=[{"metric": "exact_match", "min": 0.1}]) == same
    assert key(description="another text", version="9.9", rubric={"criteria": [
        {"name": "ok", "description": "Is it ok?", "levels": {i: f"level {i}" for i in range(1, 6)}}]}) == same
    assert key(metrics=["exact_match"]) != same
    assert key(generation={"max_new_tokens": 12}) != same


# --- scores of executed code -----------------------------------------------------------------------------------

def test_score_key_covers_output_tests_preamble_limits_and_sandbox_code(monkeypatch):
    from harness.metrics.code import PassAt1

    tests = {"tests": "assert f(1) == 2"}

    def key(output="def f(x):\n    return x + 1", reference="", fields=tests, metric=None, options=None):
        metric = metric or PassAt1()
        return keys.score_keys(metric, {} if options is None else options, [(output, reference, fields)])[0]

    same = key()
    assert key() == same
    changed = [key(output="def f(x):\n    return x + 2"), key(fields={"tests": "assert f(1) == 3"}),
               key(reference="other"), key(metric=PassAt1(preamble="import math\n"),
                                           options={"preamble": "import math\n"}),
               key(metric=PassAt1(wall_seconds=9.0), options={"wall_seconds": 9.0})]
    assert same not in changed and len(set(changed)) == len(changed)
    # the sandbox's code decides a verdict as much as the metric's own
    real = keys.source_hash
    monkeypatch.setattr(keys, "source_hash", lambda files: real(files) + str(
        any(f.name == "runner.py" and f.parent.name == "sandbox" for f in files)))
    assert key() != same
    monkeypatch.setattr(keys, "source_hash", lambda files: real([f for f in files if f.name != "child.py"]))
    assert key() != same


def test_evaluation_key_covers_outputs_examples_metrics_state_and_seed(small_suites):
    from dataclasses import asdict

    from harness.suitedef.suite import load_suite

    suite = load_suite(small_suites / "translate_en_zh")
    examples = [asdict(ex) for ex in suite.test[:3]]
    metrics = list(suite.metrics.values())

    def key(metrics=metrics, state="base", seed=0, examples=examples, inputs=("a", "b", "c"), outputs=("x", "y", "z")):
        return keys.evaluation_key(metrics, suite.name, state, seed, examples, list(inputs), list(outputs))

    same = key()
    assert key() == same
    edited = [{**examples[0], "reference": examples[0]["reference"] + "."}, *examples[1:]]
    changed = [key(outputs=("x", "y", "z!")), key(inputs=("a", "b", "c ")), key(examples=edited), key(state="lora"),
               key(seed=1), key(metrics=metrics[:1])]
    assert same not in changed and len(set(changed)) == len(changed)
