"""`lazy_module`: a stand-in that imports its module on first use and then answers exactly as the module."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
import types

import pytest

from harness.common.lazy import lazy_module

from .conftest import ROOT

HEAVY = ("torch", "transformers", "scipy.stats", "numpy", "rouge_score.rouge_scorer", "datasets")


def _fresh(code: str) -> dict:
    """Run `code` in a fresh interpreter; it prints one JSON value."""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("name", HEAVY)
def test_nothing_is_imported_until_first_use_then_the_module_answers(name):
    got = _fresh("import json, sys, types\n"
                 "from harness.common.lazy import lazy_module\n"
                 f"m = lazy_module({name!r})\n"
                 f"before = {name!r} in sys.modules\n"
                 "text = repr(m)\n"
                 "doc = m.__doc__\n"
                 f"real = sys.modules[{name!r}]\n"
                 "print(json.dumps([before, text, doc == real.__doc__, m.__dict__ is real.__dict__,\n"
                 "                  isinstance(m, types.ModuleType), dir(m) == dir(real), m.__name__]))\n")
    assert got == [False, f"<module {name!r} (not imported yet)>", True, True, True, True, name]


def test_the_libraries_work_through_their_stand_ins():
    torch = lazy_module("torch")
    stats = lazy_module("scipy.stats")
    np = lazy_module("numpy")
    transformers = lazy_module("transformers")
    rouge_scorer = lazy_module("rouge_score.rouge_scorer")
    datasets = lazy_module("datasets")
    assert torch.tensor([1.0, 2.0, 4.0]).sum().item() == 7.0
    assert np.mean([1, 2, 6]) == 3.0
    # Exact Wilcoxon on six untied differences: the negative ranks sum to 4, and 7 of the 64 sign patterns
    # have a rank sum <= 4 ({}, {1}, {2}, {3}, {1,2}, {4}, {1,3}): two-sided p = 2 * 7 / 64
    assert stats.wilcoxon([1, 2, 3, -4, 5, 6]).pvalue == pytest.approx(2 * 7 / 64)
    assert transformers.LlamaConfig(hidden_size=64, num_attention_heads=4).head_dim == 16
    # "a b" against "a c": LCS 1 of 2 tokens each way, so F1 = 0.5
    assert rouge_scorer.RougeScorer(["rougeL"]).score("a b", "a c")["rougeL"].fmeasure == 0.5
    assert datasets.Dataset.from_list([{"x": 1}, {"x": 2}])["x"] == [1, 2]
    assert repr(np).startswith("<module 'numpy' from ")


def test_writes_reach_the_module_so_monkeypatching_works(monkeypatch):
    np = lazy_module("numpy")
    real = sys.modules["numpy"]
    monkeypatch.setattr(np, "harness_marker", 42, raising=False)
    assert real.harness_marker == 42 and np.harness_marker == 42
    monkeypatch.undo()
    assert not hasattr(real, "harness_marker")


def test_a_missing_module_fails_at_first_use_with_the_import_error():
    missing = lazy_module("no_such_module_here")
    with pytest.raises(ModuleNotFoundError, match="no_such_module_here"):
        missing.anything


def _function_level_imports(root) -> list[str]:
    """`path:line: import` for every import inside a function under `root`."""
    found = []
    for path in sorted(root.rglob("*.py")):
        def visit(node, in_function):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.Import, ast.ImportFrom)) and in_function:
                    found.append(f"{path.relative_to(ROOT)}:{child.lineno}: {ast.unparse(child)}")
                visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))
        visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def test_imports_inside_functions_are_only_the_platform_specific_ones():
    # Weight is answered once, by lazy_module at a module's top; what remains inside functions are the
    # modules that exist on one platform only.
    found = [f for d in ("harness", "backends", "reports") for f in _function_level_imports(ROOT / d)]
    assert [f.rpartition(": ")[2] for f in found] == ["import msvcrt", "import msvcrt", "import resource"], found


def test_stand_ins_are_modules_for_isinstance():
    assert isinstance(lazy_module("json"), types.ModuleType)
