"""Metrics from outside the harness: a plugin package's entry point and an `evaluate` module, end to end."""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
import yaml

from harness.cli import main
from harness.common.errors import HarnessError
from harness.record import load_predictions, load_record
from harness.stats import methods as stats
from harness.suitedef.suite import load_suite
from harness.suitedef.trust import trusted

from .conftest import cut_suite

PLUGIN = '''
from harness.metrics import Metric, Score


class CharOverlap(Metric):
    """Share of the reference's distinct characters that the output contains."""

    name = "char_overlap"
    kind = "mean"

    def score(self, output, reference, fields=None):
        ref = set(reference)
        return Score(len(set(output) & ref) / len(ref) if ref else 1.0)
'''

# `evaluate` reads a module's imports line by line: one import per line.
EVALUATE_MODULE = '''
import datasets
import evaluate


class WordOverlap(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="Share of the reference's words in the prediction.", citation="", inputs_description="",
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}))

    def _compute(self, predictions, references):
        shares = [len(set(p.split()) & set(r.split())) / max(1, len(set(r.split())))
                  for p, r in zip(predictions, references)]
        return {"overlap": sum(shares) / len(shares), "n": len(shares)}
'''


def word_overlap(output: str, reference: str) -> float:
    """The module's score, computed independently."""
    ref = set(reference.split())
    return len(set(output.split()) & ref) / max(1, len(ref))


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    """An installed plugin package: a module and its dist-info with a `harness.metrics` entry point."""
    root = tmp_path_factory.mktemp("site")
    (root / "overlap_plugin.py").write_text(PLUGIN, encoding="utf-8")
    dist = root / "overlap_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: overlap-plugin\nVersion: 0.1\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[harness.metrics]\nchar_overlap = overlap_plugin:CharOverlap\n",
                                           encoding="utf-8")
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    yield root
    sys.path.remove(str(root))


def with_module(suite: Path) -> Path:
    folder = suite / "word_overlap"
    folder.mkdir()
    (folder / "word_overlap.py").write_text(EVALUATE_MODULE, encoding="utf-8")
    return suite


@pytest.fixture(scope="module")
def plugin_run(plugin, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("plugin-run")
    suite = cut_suite("agent_tools", root / "suites" / "agent_tools", 64, 12, metrics=[
        {"name": "exact_match", "parse": "json"}, "char_overlap",
        {"evaluate": "./word_overlap", "key": "overlap", "name": "word_overlap"}],
        gates=[{"metric": "char_overlap", "significant_gain": True}, {"metric": "word_overlap", "min": 0.0}])
    with_module(suite)
    assert main(["run", "--suite", str(suite), "--backend", "lora", "--set", "lora.max_steps=20",
                 "--out", str(root / "runs"), "--trust-suite-code"]) == 0
    (run_dir,) = (root / "runs").iterdir()
    return run_dir


def test_plugin_and_evaluate_metrics_run_end_to_end(plugin_run):
    record = load_record(plugin_run)
    info = record.suite("agent_tools")
    char, word = info.metric("char_overlap"), info.metric("word_overlap")
    assert (char.kind, char.source) == ("mean", "overlap_plugin:CharOverlap")
    assert (word.kind, word.source) == ("mean", "evaluate:./word_overlap") and "sha256:" in word.signature
    for state in ("base", "lora"):
        rows = load_predictions(plugin_run, state, "agent_tools")
        for r in rows:  # the evaluate module's per-example scores, recomputed independently
            assert r.scores["word_overlap"] == pytest.approx(word_overlap(r.output, r.reference))
        assert record.value(state, "agent_tools", "word_overlap") == pytest.approx(
            np.mean([r.scores["word_overlap"] for r in rows]))
    base = load_predictions(plugin_run, "base", "agent_tools")
    lora = load_predictions(plugin_run, "lora", "agent_tools")
    (c,) = [c for c in record.comparisons if c.metric == "char_overlap"]
    a = np.array([r.scores["char_overlap"] for r in base])
    b = np.array([r.scores["char_overlap"] for r in lora])
    assert c.test == "paired-permutation" and c.delta == pytest.approx(b.mean() - a.mean())
    assert c.p_value == pytest.approx(stats.paired_permutation(a, b, record.seed))
    (gate,) = [g for g in record.gates if g.label == "char_overlap:significant_gain"]
    assert gate.passed == (c.verdict == "gain") and gate.decided_by == "harness run"
    html = (plugin_run / "report" / "index.html").read_text(encoding="utf-8")
    assert "char_overlap" in html and "word_overlap" in html and "paired" in html.lower()


def test_metrics_command_lists_plugins(plugin, capsys):
    assert main(["metrics"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("char_overlap"))
    assert "mean" in line and "overlap_plugin:CharOverlap" in line
    assert any(ln.startswith("bleu") and "corpus" in ln for ln in out.splitlines())


def test_evaluate_module_errors_are_one_line(tmp_path):
    def suite_with(metric) -> Path:
        return cut_suite("agent_tools", tmp_path / f"s{len(list(tmp_path.iterdir()))}", 2, 2, metrics=[metric],
                         gates=[])

    def run_code(folder: Path):
        return trusted([load_suite(folder)], trust_all=True)

    with pytest.raises(HarnessError, match=r"evaluate module 'bleu' cannot be loaded .*evaluate: \./bleu"):
        run_code(suite_with({"evaluate": "bleu"}))  # a Hub name, offline
    with pytest.raises(HarnessError, match="outside the suite folder"):
        load_suite(suite_with({"evaluate": "../elsewhere"}))  # the declaration alone is wrong
    inside = with_module(suite_with({"evaluate": "./word_overlap", "key": "missing"}))
    load_suite(inside)  # a key the module does not return shows only once its code runs
    with pytest.raises(HarnessError, match=r"suite.yaml: line \d+: field 'metrics.0': .*returns no 'missing'"):
        run_code(inside)
    spec = yaml.safe_load((inside / "suite.yaml").read_text(encoding="utf-8"))
    spec["metrics"] = [{"evaluate": "./word_overlap", "kind": "median"}]
    (inside / "suite.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    with pytest.raises(HarnessError, match=r"line \d+: field 'metrics.0': .*kind must be 'mean' or 'corpus'"):
        load_suite(inside)


# --- a suite's own code runs only when trusted -----------------------------------------------------------

MARKER_MODULE = '''
import os
import datasets
import evaluate

with open(os.environ["HARNESS_TEST_MARKER"], "a") as f:
    f.write("imported\\n")


class {cls}(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="1 when the prediction equals the reference.", citation="", inputs_description="",
            features=datasets.Features({{"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}}))

    def _compute(self, predictions, references):
        return {{"same": sum(p == r for p, r in zip(predictions, references)) / len(predictions)}}
'''


def test_a_suites_own_code_never_runs_on_inspection_and_runs_only_when_trusted(tmp_path, monkeypatch, capsys):
    name = f"marker_{uuid.uuid4().hex[:8]}"  # a module name no earlier load left in any modules cache
    marker = tmp_path / "marker.txt"
    monkeypatch.setenv("HARNESS_TEST_MARKER", str(marker))
    suite = cut_suite("agent_tools", tmp_path / "suites" / "agent_tools", 16, 4, gates=[], metrics=[
        {"name": "exact_match", "parse": "json"}, {"evaluate": f"./{name}", "key": "same", "name": "same"}])
    (suite / name).mkdir()
    (suite / name / f"{name}.py").write_text(MARKER_MODULE.format(cls=name.title().replace("_", "")),
                                             encoding="utf-8")
    digest = hashlib.sha256(f"{name}.py".encode() + b"\0" + (suite / name / f"{name}.py").read_bytes() + b"\0")

    # inspecting the suite reads its declaration only
    for command in (["suites", "validate", str(suite)], ["suites", "list", str(suite)],
                    ["data", "check", "--suite", str(suite)]):
        assert main(command) == 0, command
    assert not marker.exists()

    # running it without the trust decision: one line saying what would run and how to allow it, nothing made
    runs = tmp_path / "runs"
    args = ["run", "--suite", str(suite), "--backend", "lora", "--set", "lora.max_steps=1", "--out", str(runs)]
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"harness: error: {suite / 'suite.yaml'}: the suite brings its own code, which runs only if you "
                   f"trust it: evaluate module './{name}' (sha256 {digest.hexdigest()[:12]}…); read it, then add "
                   "--trust-suite-code")
    assert not marker.exists() and not runs.exists()

    # with it, the module runs, from a modules cache inside the harness's cache, and the run records the decision
    assert main([*args, "--trust-suite-code"]) == 0
    assert marker.exists()
    (run_dir,) = runs.iterdir()
    record = load_record(run_dir)
    assert [c.model_dump() for c in record.trusted_code] == [{
        "suite": "agent_tools", "kind": "evaluate module", "name": f"./{name}",
        "digest": f"sha256:{digest.hexdigest()}", "trusted_by": "--trust-suite-code"}]
    for r in load_predictions(run_dir, "lora", "agent_tools"):
        assert r.scores["same"] == float(r.output == r.reference)
    cached = list((Path(os.environ["HARNESS_CACHE"]) / "modules").rglob(f"{name}.py"))
    assert cached, "the module's copy lives in the harness's cache"
    default = Path.home() / ".cache" / "huggingface" / "modules"
    assert not list(default.rglob(f"{name}*")) if default.exists() else True

    # reading the finished run (report, gates) runs none of it; nor does an old record without the field
    marker.unlink()
    assert main(["report", str(run_dir)]) == 0
    assert not marker.exists()
    raw = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    del raw["trusted_code"]
    (run_dir / "run.json").write_text(json.dumps(raw), encoding="utf-8")
    assert load_record(run_dir).trusted_code == []

    # a resumed run's approval covers exactly the files approved: edited since, the module is refused
    approved = [c.digest for c in record.trusted_code]
    declared = load_suite(suite)
    with pytest.raises(HarnessError, match="was not loaded: only `run` and `eval` with --trust-suite-code run it"):
        declared.metrics["same"][0].corpus_score(["a"], ["a"])
    (loaded,), code = trusted([declared], trust_all=False, approved=approved)
    assert [c.trusted_by for c in code] == ["the resumed run's approval"]
    assert loaded.metrics["same"][0].corpus_score(["a", "b"], ["a", "c"]) == 0.5
    with open(suite / name / f"{name}.py", "a", encoding="utf-8") as f:
        f.write("# edited\n")
    with pytest.raises(HarnessError, match="runs only if you trust it"):
        trusted([load_suite(suite)], trust_all=False, approved=approved)
    assert not marker.exists()
