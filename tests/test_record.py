"""The run record: older versions still read, render and gate; the rooms import only what they may."""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from html import escape
from pathlib import Path

import pytest

from harness.cli import main
from harness.common.errors import HarnessError
from harness.record import SCHEMA_VERSION, load_predictions, load_record
from harness.record.migrate import migrate

from .conftest import ROOT

V2_RUN = Path(__file__).parent / "data" / "run_v2"
pytest_plugins = ["pytester"]


@pytest.fixture
def v2_run(tmp_path) -> Path:
    return Path(shutil.copytree(V2_RUN, tmp_path / "run_v2"))


def test_a_version_2_run_reads_as_the_current_schema(v2_run):
    raw = json.loads((v2_run / "run.json").read_text(encoding="utf-8"))
    assert raw["schema_version"] == 2
    record = load_record(v2_run)
    assert record.schema_version == SCHEMA_VERSION
    bleu = record.suite("translate_en_zh").metric("bleu")
    assert (bleu.kind, bleu.scale, bleu.digits) == ("corpus", 100.0, 2)
    assert bleu.signature == raw["metric_signatures"]["translate_en_zh/bleu"]
    assert record.suite("agent_tools").metric("exact_match").options == {"parse": "json"}
    assert record.checks.model_changed["lora"].ok is raw["checks"]["model_changed"]["lora"]["ok"]
    assert [r.model_dump() for r in record.results] == raw["results"]
    assert [c.model_dump(exclude_defaults=True) for c in record.comparisons] == \
        [{k: v for k, v in c.items() if v not in (None, {})} for c in raw["comparisons"]]
    assert record.gates == [] and load_predictions(v2_run, "lora", "agent_tools")[0].fields == {}


def test_a_version_2_run_renders_and_gates(v2_run, pytester):
    assert main(["report", str(v2_run)]) == 0  # decides the gates it never recorded, then renders
    record = load_record(v2_run)
    assert len(record.gates) == 6 and {g.decided_by for g in record.gates} == {"harness report"}
    html = (v2_run / "report" / "index.html").read_text(encoding="utf-8")
    assert all(escape(g.label) in html for g in record.gates)
    suite = pytester.path / "suites" / "agent_tools"
    suite.mkdir(parents=True)
    shutil.copy(ROOT / "suites" / "agent_tools" / "suite.yaml", suite)
    for name in ("train.jsonl", "test.jsonl"):
        (suite / name).write_text((ROOT / "suites" / "agent_tools" / name).read_text(encoding="utf-8").split("\n")[0])
    result = pytester.runpytest(str(suite / "suite.yaml"), "--harness-run", str(v2_run),
                                "-W", "ignore::pytest.PytestAssertRewriteWarning")
    result.assert_outcomes(failed=4)  # 30 training steps do not reach the shipped thresholds
    assert "exact_match>=0.7 FAILS" in result.stdout.str()
    data = (v2_run / "report" / "data.html").read_text(encoding="utf-8")
    assert "recorded no data report" in data and "Train/test overlap, as recorded then" in data


def test_a_version_3_run_reads_and_its_overlap_gates_still_work(v2_run):
    """Schema 3 kept train/test overlap among the validity checks; `max_overlap` gates read it there."""
    from harness.evaluation.gates import decide_all
    from harness.record import GateSpec

    raw = migrate(json.loads((v2_run / "run.json").read_text(encoding="utf-8")), 3)
    raw["checks"]["contamination"]["agent_tools"] |= {"exact": 1, "near": 3, "fraction": 0.125, "ok": False}
    (v2_run / "run.json").write_text(json.dumps(raw), encoding="utf-8")
    record = load_record(v2_run)
    assert record.schema_version == SCHEMA_VERSION == 6 and record.data is None and record.explanations is None
    gate = GateSpec(max_overlap=0.1)
    (outcome,) = decide_all(record, gates={"agent_tools": [gate]})
    assert not outcome.passed and outcome.value == 0.125 and "3 of 24 test prompts occur in train" in outcome.message
    (outcome,) = decide_all(record, gates={"translate_en_zh": [gate]})
    assert outcome.passed and outcome.value == 0.0


def test_unknown_and_newer_versions_are_one_clear_line(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"schema_version": SCHEMA_VERSION + 1}), encoding="utf-8")
    with pytest.raises(HarnessError, match="newer than this harness reads"):
        load_record(tmp_path)
    (tmp_path / "run.json").write_text("{", encoding="utf-8")
    with pytest.raises(HarnessError, match="not a readable run record"):
        load_record(tmp_path)
    with pytest.raises(ValueError, match="schema version 1 cannot be read"):
        migrate({"schema_version": 1}, SCHEMA_VERSION)


# --- the rooms' imports -------------------------------------------------------------------------------

def _modules() -> dict[str, Path]:
    found = {}
    for package in ("harness", "backends", "reports"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: Path) -> set[str]:
    """Every module `name` imports, at the top or inside functions, resolved to absolute names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}
    return out


def _ours(imported: set[str], modules: dict[str, Path]) -> set[str]:
    return {m for m in imported if m in modules}


def test_the_floor_plan_holds():
    """The import contracts of pyproject.toml (layers, the core never importing backends, reports reading records
    only): `lint-imports` checks them, at the top of modules and inside functions alike."""
    linter = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(linter)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_the_core_root_holds_only_its_face():
    """No module at the root of harness/ besides its entry points; no subpackage root over ~10 modules."""
    root = {p.name for p in (ROOT / "harness").glob("*.py")}
    assert root <= {"__init__.py", "__main__.py", "pytest_plugin.py"}, root
    for package in (ROOT / "harness").iterdir():
        if (package / "__init__.py").exists():
            assert len(list(package.glob("*.py"))) <= 11, package  # ten modules and the face


def test_no_import_cycles_between_modules():
    modules = _modules()
    # A package's __init__ re-exporting its own submodules is how packages work, not a cycle.
    graph = {n: sorted(d for d in _ours(_imports(n, p), modules) if d != n and not d.startswith(n + "."))
             for n, p in modules.items()}
    done: set[str] = set()

    def visit(node: str, path: list[str]):
        for dep in graph[node]:
            if dep in path:
                pytest.fail("import cycle: " + " -> ".join(path[path.index(dep):] + [dep]))
            if dep not in done:
                visit(dep, path + [dep])
        done.add(node)

    for name in graph:
        visit(name, [name])


def test_the_record_reference_is_up_to_date():
    from harness.record.docs import markdown

    assert (ROOT / "docs" / "record.md").read_text(encoding="utf-8") == markdown(), \
        "docs/record.md is stale: run `python -m harness.record.docs > docs/record.md`"
