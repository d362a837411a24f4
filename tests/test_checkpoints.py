"""Checkpoints appear whole or not at all, replace the older one, and a damaged or foreign one is ignored with
one line while the older valid one is used."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from backends.checkpoints import MANIFEST, CheckpointFolder, Progress


def _staged(folder: CheckpointFolder, step: int, payload: bytes = b"weights") -> None:
    """What a trainer leaves in the staging folder for `step`."""
    staged = folder.staging / f"checkpoint-{step}"
    (staged / "sub").mkdir(parents=True)
    (staged / "model.safetensors").write_bytes(payload)
    (staged / "sub" / "optimizer.pt").write_bytes(b"moments" * 100)


def _folder(root: Path, identity: str = "this training") -> tuple[CheckpointFolder, list[str]]:
    warnings: list[str] = []
    return CheckpointFolder(root, identity, warnings.append), warnings


def test_a_checkpoint_is_published_whole_and_replaces_the_older(tmp_path):
    folder, warnings = _folder(tmp_path / "ck")
    progress = Progress(train_seconds=1.5, wall_seconds=2.0, attempts=1)
    _staged(folder, 10)
    assert folder.latest() is None  # a staged checkpoint is not a checkpoint yet
    folder.publish(10, progress)
    _staged(folder, 20, b"later weights")
    folder.publish(20, progress)
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == [".staging", "checkpoint-20"]
    found = folder.latest()
    assert found is not None and (found.step, found.progress, found.path.name) == (20, progress, "checkpoint-20")
    manifest = json.loads((found.path / MANIFEST).read_text())
    assert manifest["files"]["model.safetensors"][0] == len(b"later weights")
    assert set(manifest["files"]) == {"model.safetensors", "sub/optimizer.pt"} and not warnings
    # killed while writing step 30: the staged half is invisible, step 20 stays, the next start clears it
    (folder.staging / "checkpoint-30").mkdir()
    (folder.staging / "checkpoint-30" / "model.safetensors").write_bytes(b"half")
    assert folder.latest() == found
    folder.clear_leftovers()
    assert not folder.staging.exists() and folder.latest() == found


def _two_checkpoints(root: Path) -> CheckpointFolder:
    """Checkpoints of steps 10 and 20 side by side (as after a kill between publishing 20 and pruning 10)."""
    folder, _ = _folder(root)
    progress = Progress(train_seconds=1, wall_seconds=1, attempts=1)
    _staged(folder, 10)
    folder.publish(10, progress)
    os.rename(root / "checkpoint-10", root / "kept")
    _staged(folder, 20)
    folder.publish(20, progress)
    os.rename(root / "kept", root / "checkpoint-10")
    return folder


@pytest.mark.parametrize("damage, reason", [
    (lambda p: (p / "sub" / "optimizer.pt").write_bytes(b"moments" * 99 + b"MOMENTS"),
     "its file sub/optimizer.pt changed after it was written"),
    (lambda p: (p / "model.safetensors").unlink(), "its file model.safetensors is missing"),
    (lambda p: (p / "pytorch_model.bin").write_bytes(b"pickle"),
     "it holds a file its manifest does not list, pytorch_model.bin"),
    (lambda p: (p / "sub" / "link").symlink_to("/etc/passwd"), "it holds a link, sub/link"),
    (lambda p: (p / MANIFEST).unlink(), "it has no manifest (its writing never finished)"),
    (lambda p: (p / MANIFEST).write_text("{not json"), "its manifest is unreadable"),
    (lambda p: (p / MANIFEST).write_text((p / MANIFEST).read_text().replace('"step": 20', '"step": 30')),
     "its manifest is for step 30"),
])
def test_a_damaged_checkpoint_is_ignored_with_one_line_and_the_older_one_used(tmp_path, damage, reason):
    folder = _two_checkpoints(tmp_path / "ck")
    damage(tmp_path / "ck" / "checkpoint-20")
    warnings: list[str] = []
    folder.warn = warnings.append
    found = folder.latest()
    assert found is not None and found.step == 10
    assert warnings == [f"checkpoint {tmp_path / 'ck' / 'checkpoint-20'} ignored: {reason}"]


def test_a_foreign_checkpoint_is_ignored(tmp_path):
    mine, _ = _folder(tmp_path / "ck", "another training")
    _staged(mine, 10)
    mine.publish(10, Progress(train_seconds=1, wall_seconds=1, attempts=1))
    folder, warnings = _folder(tmp_path / "ck")
    assert folder.latest() is None
    assert warnings == [f"checkpoint {tmp_path / 'ck' / 'checkpoint-10'} ignored: it was made by another training "
                        "(other data, settings, seed, model or number of processes)"]
    _staged(folder, 10)  # this training's own checkpoint of the same step replaces it
    folder.publish(10, Progress(train_seconds=1, wall_seconds=1, attempts=1))
    assert folder.latest() is not None
