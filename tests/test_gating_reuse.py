"""`pytest suites/` reuses a finished run unless something that decides results changed, and gating it
imports no training code."""
from __future__ import annotations

import json

import yaml

from harness.record import load_record

from .conftest import cut_suite

pytest_plugins = ["pytester"]

TRAINING_STACK = ("torch", "transformers", "trl", "peft", "datasets", "accelerate")
# Written into the gated project: what the pytest process had imported when it finished.
CONFTEST = f"""
import json, sys

def pytest_sessionfinish(session):
    imported = [m for m in {TRAINING_STACK!r} if m in sys.modules]
    (session.config.rootpath / "imported.json").write_text(json.dumps(imported))
"""


def _edit(suite_yaml, change):
    spec = yaml.safe_load(suite_yaml.read_text(encoding="utf-8"))
    change(spec)
    suite_yaml.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_editing_a_gate_reuses_the_run_and_a_new_metric_only_rescores(pytester):
    suites = pytester.path / "suites"
    cut_suite("agent_tools", suites / "agent_tools", 16, 4)
    cut_suite("translate_en_zh", suites / "translate_en_zh", 16, 4)
    pytester.makeini("[pytest]\n")
    pytester.makeconftest(CONFTEST)
    args = ["suites", "-v", "-W", "ignore::pytest.PytestAssertRewriteWarning"]

    first = pytester.runpytest_subprocess(*args)
    assert sum(first.parseoutcomes().get(k, 0) for k in ("passed", "failed")) == 6
    (run,) = (pytester.path / "runs").iterdir()
    trained = {b.name: b for b in load_record(run).backends}
    assert all(b.from_cache is None for b in trained.values())  # suites of their own: really trained
    weights = (run / "models" / "full" / "model.safetensors").stat().st_mtime_ns

    # A gate threshold edited: the finished run is gated again as it is, by a process without the training stack.
    _edit(suites / "agent_tools" / "suite.yaml", lambda s: s["gates"][0].update(min=0.0))
    second = pytester.runpytest_subprocess(*args)
    second.stdout.fnmatch_lines(["*suite.yaml::full::exact_match>=0 PASSED*"])
    assert list((pytester.path / "runs").iterdir()) == [run]
    assert (run / "models" / "full" / "model.safetensors").stat().st_mtime_ns == weights
    assert json.loads((pytester.path / "imported.json").read_text()) == []
    record = load_record(run)
    assert record.suite("agent_tools").gates[0].min == 0.0  # the record shows the gates as now written
    assert {g.label for g in record.gates if g.suite == "agent_tools"} >= {"exact_match>=0"}

    # A metric changed: a new run, scored afresh from cached outputs and cached tuned models.
    _edit(suites / "translate_en_zh" / "suite.yaml", lambda s: s["metrics"].append({"name": "contains_answer"}))
    pytester.runpytest_subprocess(*args)
    rescored = next(p for p in (pytester.path / "runs").iterdir() if p != run)
    record = load_record(rescored)
    assert {b.name: b.from_cache.trained_in for b in record.backends if b.from_cache} == {
        "full": run.name, "lora": run.name}
    assert {b.name: b.cost for b in record.backends} == {n: b.cost for n, b in trained.items()}
    assert record.cache and all(u.outputs_generated == 0 for u in record.cache.values())
    assert record.value("lora", "translate_en_zh", "contains_answer") is not None
