"""GGUF checkpoints: conversion to a plain model directory, its cache key, and clear errors. No network."""
from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading

import gguf
import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from harness.cli import main
from harness.common.errors import HarnessError
from harness.models import gguf as harness_gguf
from harness.models.loading import load_model, resolve_model_path

from .conftest import SHIPPED
from .gguf_files import write_tiny_gguf


@pytest.fixture(autouse=True)
def models_cache(tmp_path, monkeypatch):
    """Conversions land in a cache of this test's own, never a persistent one."""
    path = tmp_path / "models"
    monkeypatch.setenv("HARNESS_MODELS", str(path))
    return path


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


def leftovers(cache):
    return sorted(p.name for p in cache.iterdir() if p.name.startswith(".")) if cache.exists() else []


def test_round_trip_reproduces_the_weights_logits_and_tokenizer(tiny_gguf, models_cache):
    path = resolve_model_path(str(tiny_gguf.path))
    sha = hashlib.sha256(tiny_gguf.path.read_bytes()).hexdigest()
    assert path == str(models_cache / f"gguf-{sha[:16]}")  # keyed by the file's content
    # Plain transformers, no GGUF involved, loads the directory ...
    converted = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    assert not hasattr(converted.config, "quantization_config")
    texts = ["Book a train from Paris to Berlin.", "你好，世界！ 7:30", "<|im_start|>user\nhi<|im_end|>\n"]
    for text in texts:
        assert tok(text)["input_ids"] == tiny_gguf.tokenizer(text)["input_ids"]
    # ... and computes what the original model computes (Q8_0 tensors as dequantised), and what
    # transformers computes from the GGUF file itself.
    ids = tok(texts[0], return_tensors="pt")
    from_gguf = AutoModelForCausalLM.from_pretrained(tiny_gguf.path.parent, gguf_file=tiny_gguf.path.name)
    with torch.no_grad():
        logits = converted(**ids).logits
        assert torch.equal(logits, from_gguf(**ids).logits)
        assert torch.allclose(logits, tiny_gguf.model(**ids).logits, atol=1e-5, rtol=0)
    record = json.loads((models_cache / path / "conversion.json").read_text())
    assert record["gguf_sha256"] == sha and record["max_logit_difference"] == 0.0
    assert record["parameters"] == sum(p.numel() for p in tiny_gguf.model.parameters())
    # The harness's own contract: chat template, generation config, left padding.
    model = load_model(path)
    assert model.chat and model.render([{"role": "user", "content": "hi"}]).endswith("<|im_start|>assistant\n")
    assert converted.generation_config.eos_token_id == tiny_gguf.tokenizer.eos_token_id
    assert leftovers(models_cache) == []


def test_conversion_happens_once_and_a_folder_with_one_gguf_is_the_same_model(tiny_gguf, models_cache, monkeypatch):
    first = resolve_model_path(str(tiny_gguf.path))
    stamp = os.stat(os.path.join(first, "model.safetensors")).st_mtime_ns
    monkeypatch.setattr(harness_gguf, "_convert", lambda *a: pytest.fail("converted twice"))
    assert resolve_model_path(str(tiny_gguf.path.parent)) == first
    assert os.stat(os.path.join(first, "model.safetensors")).st_mtime_ns == stamp


def test_two_conversions_at_once_publish_one_directory(tiny_gguf, models_cache):
    results, errors = [], []

    def convert():
        try:
            results.append(harness_gguf.gguf_model_dir(tiny_gguf.path))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=convert) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1
    assert [p.name for p in models_cache.iterdir()] == [results[0].name]  # no temporary directory left


def test_an_interrupted_conversion_leaves_nothing(tiny_gguf, models_cache, monkeypatch):
    def interrupted(gguf_path, out, record):
        (out / "config.json").write_text("{}")  # half a model
        raise KeyboardInterrupt

    monkeypatch.setattr(harness_gguf, "_convert", interrupted)
    with pytest.raises(KeyboardInterrupt):
        harness_gguf.gguf_model_dir(tiny_gguf.path)
    assert list(models_cache.iterdir()) == []


def test_a_killed_conversion_is_cleaned_up_by_the_next(tiny_gguf, models_cache):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = socket.gethostname().replace(".", "_")
    abandoned = models_cache / f".gguf-0123456789abcdef.{host}.{int(dead.stdout)}.x1y2"
    alive = models_cache / f".gguf-0123456789abcdef.{host}.{os.getpid()}.z3w4"
    for d in (abandoned, alive):
        d.mkdir(parents=True)
    harness_gguf.gguf_model_dir(tiny_gguf.path)
    assert not abandoned.exists() and alive.exists()  # a running process's build is left alone


def test_folder_with_several_gguf_files_is_refused(tiny_gguf, tmp_path):
    for name in ("a.gguf", "b.gguf"):
        (tmp_path / name).write_bytes(tiny_gguf.path.read_bytes())
    with pytest.raises(HarnessError, match=r"holds 2 \.gguf files \(a\.gguf, b\.gguf\); name the one to use"):
        resolve_model_path(str(tmp_path))


@pytest.mark.parametrize("damage, message", [
    (lambda data: data[: len(data) // 2], "damaged or truncated GGUF file"),
    (lambda data: b"NOPE" + data[4:], "not a GGUF file"),
    (lambda data: data[:4] + b"\xff" * 60, "damaged or truncated GGUF file"),
])
def test_corrupt_files_fail_with_one_line_naming_the_file(tiny_gguf, tmp_path, models_cache, damage, message, capsys):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(damage(tiny_gguf.path.read_bytes()))
    with pytest.raises(HarnessError, match=message) as e:
        resolve_model_path(str(bad))
    assert str(e.value).startswith(f"{bad}: ") and "\n" not in str(e.value)
    out = tmp_path / "runs"
    assert main(["eval", "--model", str(bad), "--suite", str(SHIPPED / "agent_tools"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"harness: error: {bad}: ") and "\n" not in err
    assert not (tmp_path / "runs").exists() and leftovers(models_cache) == []


def test_unsupported_architecture_and_quantisation_are_named(tmp_path):
    odd = write_tiny_gguf(tmp_path / "odd.gguf", architecture="notallama")
    with pytest.raises(HarnessError, match="transformers cannot read this GGUF: .*notallama"):
        resolve_model_path(str(odd.path))
    q8_1 = gguf.GGMLQuantizationType.Q8_1  # a type the gguf package cannot dequantise
    block_items, block_bytes = gguf.GGML_QUANT_SIZES[q8_1]
    raw = np.zeros((4, 64 // block_items * block_bytes), dtype=np.uint8)
    odd = write_tiny_gguf(tmp_path / "q81.gguf", extra_tensor=("blk.0.extra.weight", raw, q8_1))
    with pytest.raises(HarnessError, match="unsupported quantisation Q8_1"):
        resolve_model_path(str(odd.path))


def test_missing_gguf_package_says_what_to_install(tiny_gguf, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gguf" else real(name, *a))
    with pytest.raises(HarnessError, match=r"tiny\.gguf: reading GGUF files needs the `gguf` package: pip install"):
        resolve_model_path(str(tiny_gguf.path))


def test_nonexistent_paths_say_so_and_hub_ids_stay_hub_ids(tmp_path):
    for name in ("/no/such/dir", str(tmp_path / "missing"), "./nothing-here", "weights/model.gguf", "runs/a/b"):
        with pytest.raises(HarnessError, match="no such file or directory"):
            resolve_model_path(name)
    assert resolve_model_path("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"


def test_a_folder_without_a_model_fails_before_any_run_directory(tmp_path, capsys):
    (tmp_path / "empty-model").mkdir()
    out = tmp_path / "runs"
    assert main(["eval", "--model", str(tmp_path / "empty-model"), "--suite", str(SHIPPED / "agent_tools"),
                 "--out", str(out)]) == 2
    assert "cannot load model" in capsys.readouterr().err
    assert not out.exists()  # no run directory left `running`
