"""Shared fixtures: everything offline, small suites cut from the shipped ones, one short run."""
from __future__ import annotations

import importlib
import json
import os
import shutil
from pathlib import Path

import pytest

from harness.tuning.registry import available

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

# pytester's in-process runs drop the modules first imported inside them; with the built-in backends
# imported here, no later test sees a second copy of `harness.tuning.contract.Backend`.
for _where in available().values():
    importlib.import_module(_where.partition(":")[0])

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "suites"


def cut_suite(src: str, dest: Path, n_train: int, n_test: int, **yaml_changes) -> Path:
    """A copy of shipped suite `src` with its first n_train/n_test examples, YAML fields changed."""
    import yaml

    dest.mkdir(parents=True, exist_ok=True)
    spec = yaml.safe_load((SHIPPED / src / "suite.yaml").read_text(encoding="utf-8"))
    for split, n in (("train", n_train), ("test", n_test)):
        lines = (SHIPPED / src / spec["data"][split]).read_text(encoding="utf-8").splitlines()[:n]
        (dest / spec["data"][split]).write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec.update(yaml_changes)
    (dest / "suite.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return dest


@pytest.fixture(scope="session", autouse=True)
def harness_cache(tmp_path_factory):
    """tiny is built into a throwaway cache, never the user's."""
    path = tmp_path_factory.mktemp("harness-cache")
    os.environ["HARNESS_CACHE"] = str(path)
    yield path


@pytest.fixture(scope="session")
def small_suites(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("suites")
    cut_suite("agent_tools", root / "agent_tools", 160, 24)
    cut_suite("translate_en_zh", root / "translate_en_zh", 80, 12)
    return root


@pytest.fixture(scope="session")
def small_run(small_suites, tmp_path_factory) -> Path:
    """One short end-to-end `harness run` (tiny model, both backends, a few steps each)."""
    from harness.cli import main

    out = tmp_path_factory.mktemp("runs")
    code = main(["run", "--suite", str(small_suites), "--out", str(out), "--set", "full.max_steps=30",
                 "--set", "lora.max_steps=30", "--batch-size", "7"])
    assert code == 0
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def read_json(path: Path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def copy_tree(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def copy_run(src: Path, dest: Path) -> Path:
    """A run directory without its tuned models: enough to gate and report, and cheap to copy."""
    shutil.copytree(src, dest, ignore=lambda folder, names: ["models"] if Path(folder) == Path(src) else [])
    return dest


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by playwright (which never downloads a browser here)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not Path(CHROMIUM).is_file():
        pytest.skip("no Chromium (Debian package `chromium`; `make browser` installs it)")
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"]
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=args)
        yield chromium
        chromium.close()


def tiny_t5(folder: Path) -> Path:
    """A one-layer T5 with random weights and the byte-level ByT5 tokenizer, saved to `folder`: an
    encoder-decoder model directory in a second."""
    from transformers import ByT5Tokenizer, T5Config, T5ForConditionalGeneration

    tok = ByT5Tokenizer()
    config = T5Config(vocab_size=len(tok), d_model=32, d_ff=64, d_kv=16, num_layers=1, num_heads=2,
                      decoder_start_token_id=tok.pad_token_id, pad_token_id=tok.pad_token_id,
                      eos_token_id=tok.eos_token_id)
    T5ForConditionalGeneration(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def base_and_data(small_suites):
    """`tiny` built for the small suites, and their training examples."""
    from harness.models.loading import resolve_model_path
    from harness.suitedef.suite import find_suites, load_suite
    from harness.tuning.tune import training_examples

    suites = [load_suite(p) for p in find_suites([small_suites])]
    return resolve_model_path("tiny", suites, 0), training_examples(suites)
