"""The cache and the run directory on a full disk: one clear line, nothing corrupt, and the next run recovers.

Needs a small filesystem of its own: a tmpfs mounted for the test (as root); skipped where none can be mounted.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from harness.cli import main
from harness.record import load_predictions, load_record

from .conftest import cut_suite

DISK_BYTES = 8 * 1024 * 1024


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (a container without the capability)")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def _fill(disk: Path, leave: int) -> Path:
    """A file that leaves about `leave` bytes free on the disk."""
    filler = disk / "filler"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with open(filler, "wb") as f:
        for _ in range(max(free - leave, 0) // 65536):
            f.write(b"\0" * 65536)
    return filler


def _eval(suite: Path, disk: Path, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["eval", "--model", "tiny", "--suite", str(suite), "--out", str(disk / "runs"), "--limit", "3"])
    return code, capsys.readouterr().err


def _nothing_corrupt(disk: Path) -> None:
    """Every file left is whole: JSON parses, the cache database passes its check, no temporary file is left."""
    for path in disk.rglob("*"):
        if path.name == "filler" or not path.is_file():
            continue
        assert not path.name.endswith(".tmp") and not path.name.startswith("."), path
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".jsonl":
            [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    leftovers = [p for p in disk.rglob(".*") if p.is_dir()]
    assert leftovers == [], leftovers  # no half-built model or staging folder
    database = disk / "cache" / "cache.sqlite"
    if database.exists():
        with sqlite3.connect(database) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def _failed_with_one_line(code: int, err: str) -> None:
    last = err.strip().splitlines()[-1]
    assert code == 1 and "Traceback" not in err, err
    assert last.startswith("harness: error: no space left on the device") and last.endswith(
        "free some space (or set HARNESS_CACHE or --out elsewhere) and run the command again"), err
    assert err.count("harness: error") == 1, err


def test_a_full_disk_is_one_line_leaves_nothing_corrupt_and_the_next_run_recovers(small_disk, tmp_path, capsys,
                                                                                   monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(small_disk / "cache"))
    suite = cut_suite("agent_tools", tmp_path / "suite", 8, 4)

    # Too little room for the model itself: nothing of it stays in the cache, and no run directory either.
    filler = _fill(small_disk, 512 * 1024)
    _failed_with_one_line(*_eval(suite, small_disk, capsys))
    _nothing_corrupt(small_disk)
    assert not list(small_disk.glob("cache/tiny-*")) and not list(small_disk.glob("runs/*"))
    filler.unlink()

    code, err = _eval(suite, small_disk, capsys)
    assert code == 0, err
    (reference,) = (small_disk / "runs").iterdir()

    # The model is cached; the run's own files (run.json, predictions, report) no longer fit.
    filler = _fill(small_disk, 16 * 1024)
    _failed_with_one_line(*_eval(suite, small_disk, capsys))
    _nothing_corrupt(small_disk)
    for run in (small_disk / "runs").iterdir():
        if run != reference and (run / "report").exists():  # a report is there whole or not at all
            assert (run / "report" / "index.html").is_file()
    filler.unlink()

    code, err = _eval(suite, small_disk, capsys)
    assert code == 0, err
    newest = max((small_disk / "runs").iterdir())
    assert newest != reference and (newest / "report" / "index.html").is_file()
    mine, theirs = load_record(newest), load_record(reference)
    assert mine.status == theirs.status == "complete" and mine.results == theirs.results
    assert [p.output for p in load_predictions(newest, "base", "agent_tools")] == \
        [p.output for p in load_predictions(reference, "base", "agent_tools")]
    _nothing_corrupt(small_disk)
