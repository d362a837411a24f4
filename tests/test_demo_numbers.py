"""The numbers the README and the suites' READMEs quote are the demo's: `make test` runs the demo first, and this
test checks every documentation block against that run's record (`docs/demo_numbers.py`)."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .conftest import ROOT

SCRIPT = ROOT / "docs" / "demo_numbers.py"


def _demo_run():
    """The finished demo run under runs/, found by its configuration as `pytest suites/` finds it; None."""
    if not (ROOT / "runs").is_dir():
        return None
    from harness.run.dirs import find_finished_run
    from harness.run.orchestrate import RunRequest, plan

    return find_finished_run(ROOT / "runs", plan(RunRequest(suites=[str(ROOT / "suites")])).config_key)


def test_the_readmes_quote_the_demo_run():
    run = _demo_run()
    if run is None:
        pytest.skip("no finished demo run under runs/ (make test runs the demo before the tests)")
    from harness.record import load_record

    stated = re.search(r"seed \d+, (one process|(\d+) processes)\)", (ROOT / "suites" / "agent_tools" /
                                                                    "README.md").read_text(encoding="utf-8"))
    assert stated, "the suite READMEs no longer say how many processes the quoted demo ran in"
    processes = 1 if stated[1] == "one process" else int(stated[2])
    ran = load_record(run).environment  # a demo that ran alone from the caches holds the results of results_from
    if (ran.results_from or ran.world_size) != processes:
        pytest.skip(f"the READMEs quote a demo in {stated[1]}; this machine's demo ran in another number of "
                    "processes, which trains on other batches")
    done = subprocess.run([sys.executable, str(SCRIPT), str(run)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_stale_number_is_caught(tmp_path):
    """The check compares every block: a README whose quoted number was edited differs from the rendering."""
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        from demo_numbers import apply
    finally:
        sys.path.remove(str(ROOT / "docs"))
    text = "a\n<!-- demo:numbers -->\n| bleu | 60.37 |\n<!-- /demo:numbers -->\nb\n"
    same, changed = apply(text, {"numbers": "| bleu | 60.37 |\n"})
    assert same == text and changed == []
    fixed, changed = apply(text.replace("60.37", "61.48"), {"numbers": "| bleu | 60.37 |\n"})
    assert fixed == text and changed == ["numbers"]
    _, changed = apply("no blocks here\n", {"numbers": "x\n"})
    assert changed == ["numbers (no such block)"]
