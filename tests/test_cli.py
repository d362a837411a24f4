"""The command line's shape: every subcommand is dispatched and has its help, and importing it stays cheap."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli_speed import COMMANDS as INSPECTING
from harness.cli import COMMANDS, main
from harness.cli.parser import build_parser
from harness.record import load_record

from .conftest import ROOT

V2_RUN = ROOT / "tests" / "data" / "run_v2"
"""A finished run with gates it never decided (schema 2)."""
HEAVY = ("torch", "transformers", "trl", "peft", "datasets", "accelerate", "backends", "reports")


def _subcommands() -> dict:
    (sub,) = [a for a in build_parser()._actions if a.dest == "command"]
    return dict(sub.choices)


def test_every_subcommand_is_dispatched():
    assert sorted(_subcommands()) == sorted(COMMANDS)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: harness {command}")
    assert "--debug" not in out  # accepted after the command too, but listed once, on `harness --help`


def test_a_bad_argument_is_one_line_and_status_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--limit", "0"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err == "harness run: error: argument --limit: must be at least 1, not 0 (see harness run --help)\n"


def _imported_by(argv: list[str], cwd: Path, watched: tuple[str, ...] = HEAVY) -> tuple[int, list[str]]:
    """Run `harness ARGV` in a fresh interpreter: its exit status and which of `watched` it imported."""
    code = ("import contextlib, io, json, sys\n"
            "from harness.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
            "    try:\n"
            f"        status = main({argv!r})\n"
            "    except SystemExit as e:\n"
            "        status = e.code\n"
            f"print(json.dumps([status, [m for m in {watched!r} if m in sys.modules]]))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True).stdout
    status, imported = json.loads(out)
    return status, imported


def test_the_help_imports_no_training_stack_nor_backends_or_reports():
    assert _imported_by(["run", "--help"], ROOT) == (0, [])


def test_gating_a_finished_run_imports_no_training_stack(tmp_path):
    run_dir = shutil.copytree(V2_RUN, tmp_path / "run")
    status, imported = _imported_by(["report", str(run_dir), "--baseline", str(run_dir)], tmp_path)
    assert status == 0 and [m for m in imported if m != "reports"] == []
    assert {g.decided_by for g in load_record(run_dir).gates} == {f"harness report --baseline {run_dir}"}


NOT_FOR_INSPECTING = ("torch", "transformers", "trl", "peft", "datasets", "accelerate", "rouge_score", "nltk", "scipy",
                      "sacrebleu", "evaluate")


@pytest.mark.parametrize("command", list(INSPECTING))
def test_inspecting_imports_no_model_or_metric_library(command):
    # Loading a suite checks its metrics by name and options (`suites list` loads every shipped suite): their
    # libraries load when the first output is scored, not before.
    argv, status = INSPECTING[command]
    assert _imported_by(argv, ROOT, NOT_FOR_INSPECTING) == (status, [])


def test_metrics_fit_a_100_column_terminal_and_say_whole_sentences(capsys, monkeypatch):
    from harness.metrics import available, metric_class

    monkeypatch.setenv("COLUMNS", "100")
    assert main(["metrics"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 100
    flat = " ".join(out.split())
    for name in available():
        first = " ".join((metric_class(name).__doc__ or "").strip().split("\n\n")[0].split())
        assert first in flat, name  # the whole first paragraph, not a line cut mid-sentence
