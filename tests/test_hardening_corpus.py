"""Every case in tests/bad_inputs/ gives one error line containing its expected.txt (see its README)."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from harness.common import limits
from harness.common.errors import HarnessError
from harness.common.files import read_jsonl
from harness.suitedef.suite import load_suite
from harness.suitedef.templates import compile_template, render
from reports.sheets import export_sheets, import_ratings

from .test_sheets_support import make_run

CORPUS = Path(__file__).parent / "bad_inputs"
COMMAND_KINDS = ("cli", "backend_configs", "run_dirs")
"""Kinds whose cases go through the command line, as a user would type them."""
CASES = sorted(p.parent for p in CORPUS.glob("*/*/expected.txt") if p.parent.parent.name not in COMMAND_KINDS)
COMMAND_CASES = sorted(p.parent for p in CORPUS.glob("*/*/expected.txt") if p.parent.parent.name in COMMAND_KINDS)


def run_jsonl(case: Path, tmp_path: Path) -> None:
    read_jsonl(case / "input.jsonl")


def run_suite(case: Path, tmp_path: Path) -> None:
    load_suite(case)


def run_template(case: Path, tmp_path: Path) -> None:
    fields = json.loads((case / "fields.json").read_text(encoding="utf-8")) if (case / "fields.json").exists() else {}
    template = compile_template((case / "template.j2").read_text(encoding="utf-8"), str(case / "template.j2"))
    render(template, fields, str(case / "fields.json"))


def run_sheet(case: Path, tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run")
    done = export_sheets(run_dir, per_suite=4, raters=["r1", "r2"], formats=["csv"])
    (sheet,) = [p for p in case.iterdir() if p.name not in ("expected.txt", "limits.json")]
    copy = tmp_path / sheet.name
    if sheet.suffix == ".csv" and b"{sheet_id}" in sheet.read_bytes():
        copy.write_bytes(sheet.read_bytes().replace(b"{sheet_id}", done.sheet_id.encode()))
    else:
        shutil.copy(sheet, copy)
    import_ratings(run_dir, [copy])


RUNNERS = {"jsonl": run_jsonl, "suites": run_suite, "templates": run_template, "sheets": run_sheet}


def test_the_corpus_covers_every_kind():
    assert {case.parent.name for case in CASES} == set(RUNNERS) and len(CASES) >= 60
    assert {case.parent.name for case in COMMAND_CASES} == set(COMMAND_KINDS)


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_bad_input_gives_its_one_line(case, tmp_path, monkeypatch):
    expected = (case / "expected.txt").read_text(encoding="utf-8").rstrip("\n")
    monkeypatch.setattr(limits, "TEMPLATE_MAX_SECONDS", 60)  # steps, not a busy machine's clock, stop the loops
    if (case / "limits.json").exists():
        for name, value in json.loads((case / "limits.json").read_text(encoding="utf-8")).items():
            assert hasattr(limits, name), name
            monkeypatch.setattr(limits, name, value)
    started = time.monotonic()
    with pytest.raises(HarnessError) as error:
        RUNNERS[case.parent.name](case, tmp_path)
    message = str(error.value).removesuffix(" (nothing was imported)")
    assert expected in message
    assert "\n" not in message and len(message) < 500
    assert time.monotonic() - started < 10


@pytest.fixture(scope="module")
def workspace_inputs(tmp_path_factory):
    """What command cases refer to: a small valid suite, a run directory, and a plain file."""
    from .conftest import cut_suite

    root = tmp_path_factory.mktemp("inputs")
    suite = cut_suite("agent_tools", root / "suite", 8, 4)
    run = make_run(root / "run")
    (root / "afile").write_text("not a folder\n", encoding="utf-8")
    return {"{suite}": str(suite), "{run}": str(run), "{file}": str(root / "afile")}


def _command(case: Path, inputs: dict, workspace: Path) -> list[str]:
    kind = case.parent.name
    if kind == "cli":
        args = (case / "args.txt").read_text(encoding="utf-8").split()
        return [next((v for k, v in inputs.items() if a == k), a) for a in args]
    if kind == "backend_configs":
        return ["run", "--suite", inputs["{suite}"], "--backend", "lora", "--backend-config",
                str(case / "config.yaml")]
    run = shutil.copytree(case, workspace / "run", ignore=shutil.ignore_patterns("expected.txt"))
    return ["report", str(run)]


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("case", COMMAND_CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_bad_command_gives_one_line_exit_2_and_writes_nothing(case, workspace_inputs, tmp_path, monkeypatch, capsys):
    from harness.cli import main

    expected = (case / "expected.txt").read_text(encoding="utf-8").rstrip("\n")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    monkeypatch.chdir(workspace)  # relative outputs (runs/, suites/) would land here
    argv = _command(case, workspace_inputs, workspace)
    before = _files(workspace) | {"@" + f for f in _files(Path(workspace_inputs["{run}"]))}
    started = time.monotonic()
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own exit, after our one-line message
        code = e.code
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert expected in err and "\n" not in err and "Traceback" not in err and len(err) < 500, err
    after = _files(workspace) | {"@" + f for f in _files(Path(workspace_inputs["{run}"]))}
    assert after == before, f"written: {sorted(after - before)}"
    assert time.monotonic() - started < 30
