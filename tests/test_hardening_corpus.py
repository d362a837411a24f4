"""Every case in tests/bad_inputs/ gives one error line containing its expected.txt (see its README)."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from harness import limits
from harness.errors import HarnessError
from harness.files import read_jsonl
from harness.suite import load_suite
from harness.templates import compile_template, render
from reports.sheets import export_sheets, import_ratings

from .test_sheets_support import make_run

CORPUS = Path(__file__).parent / "bad_inputs"
CASES = sorted(p.parent for p in CORPUS.glob("*/*/expected.txt"))


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
