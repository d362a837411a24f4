"""Checkpoints a killed training resumes from: written whole or not at all, and checked before use.

The trainers save their own checkpoints every `checkpoint_every` steps (weights or adapter, optimizer,
scheduler, every process's RNG state, and the trainer state: step, logged losses, tokens seen, from which
the data position follows), but transformers writes them in place, so a kill half way through leaves a
folder that looks like a checkpoint. Here every process writes its part under a staging folder; then the
main process lists each file's size and hash in a manifest beside what identifies the training, flushes
the files to disk and renames the folder into place, and only then removes the older one. A kill at any
moment leaves the newest finished checkpoint whole.

A checkpoint is used only when its manifest names this training (the identity the harness gives the backend,
`Backend.checkpoint_identity`) and every file matches the manifest.
Any other (half written, edited, damaged, or made for other data, settings, seed, model or number of
processes) is ignored with one warning line, and training resumes from the newest valid one or starts
from step 0: a checkpoint only saves time, since a resumed training equals an uninterrupted one.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MANIFEST = "harness_checkpoint.json"
STAGING = ".staging"
"""Where checkpoints are written before they are published, and where removed ones go to be deleted."""
_NAME = re.compile(r"checkpoint-([0-9]{1,12})")
"""The trainers' folder name for the checkpoint of a step."""
_MANIFEST_BYTES = 1 << 20


class Progress(BaseModel):
    """What the training had cost when a checkpoint was written, summed over the attempts it kept."""

    model_config = ConfigDict(extra="forbid")
    train_seconds: float = Field(ge=0)
    """Seconds in the training loop."""
    wall_seconds: float = Field(ge=0)
    """Seconds from the start of setup."""
    attempts: int = Field(ge=0)
    """Training processes whose work it holds."""


NOTHING = Progress(train_seconds=0, wall_seconds=0, attempts=0)
"""A training that starts from step 0."""


class Manifest(BaseModel):
    """`harness_checkpoint.json`: what a checkpoint is and the files it must hold."""

    model_config = ConfigDict(extra="forbid")
    format: Literal[1] = 1
    identity: str
    """The `Backend.checkpoint_identity` of the training that wrote it."""
    step: int = Field(gt=0)
    """The optimizer step it was written after."""
    files: dict[str, tuple[int, str]]
    """Relative path → (size in bytes, sha256) of every other file in the folder."""
    progress: Progress


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint to resume from."""

    path: Path
    step: int
    progress: Progress


class CheckpointFolder:
    """One training's checkpoints: `root/checkpoint-<step>/`, staged in `root/.staging/`."""

    def __init__(self, root: Path, identity: str, warn: Callable[[str], None]):
        self.root = Path(root)
        self.identity = identity
        self.warn = warn

    @property
    def staging(self) -> Path:
        """The folder the trainer writes a checkpoint into before it is published."""
        return self.root / STAGING

    def clear_leftovers(self) -> None:
        """Remove what a killed attempt left half written or half deleted (main process, before training)."""
        shutil.rmtree(self.staging, ignore_errors=True)

    def publish(self, step: int, progress: Progress) -> Path:
        """Make the staged checkpoint of `step` the current one: manifest, flush, rename, then remove the older."""
        staged = self.staging / f"checkpoint-{step}"
        files = {p.relative_to(staged).as_posix(): (p.stat().st_size, _sha256(p))
                 for p in sorted(staged.rglob("*")) if p.is_file()}
        manifest = Manifest(identity=self.identity, step=step, files=files, progress=progress)
        (staged / MANIFEST).write_text(manifest.model_dump_json(indent=1), encoding="utf-8")
        for name in [*files, MANIFEST]:
            _flush(staged / name)
        _flush(staged)
        final = self.root / staged.name
        if final.exists():  # an ignored one of the same step, from an earlier attempt
            self._remove(final)
        os.rename(staged, final)
        _flush(self.root)
        for older in self._folders():
            if older != final:
                self._remove(older)
        return final

    def latest(self) -> Checkpoint | None:
        """The newest checkpoint that passes every check; each newer one that fails is reported by `warn`."""
        for path in sorted(self._folders(), key=_step, reverse=True):
            problem, manifest = self._check(path)
            if manifest is not None:
                return Checkpoint(path=path, step=manifest.step, progress=manifest.progress)
            self.warn(f"checkpoint {path} ignored: {problem}")
        return None

    def _folders(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return [p for p in self.root.iterdir() if _NAME.fullmatch(p.name) and p.is_dir() and not p.is_symlink()]

    def _remove(self, path: Path) -> None:
        """Move `path` out of sight in one rename, then delete it: a kill half way leaves no damaged checkpoint."""
        doomed = self.staging / f"removed-{path.name}"
        shutil.rmtree(doomed, ignore_errors=True)
        self.staging.mkdir(parents=True, exist_ok=True)
        os.rename(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def _check(self, path: Path) -> tuple[str, Manifest | None]:
        """(why the checkpoint cannot be used, None) or ("", its manifest)."""
        file = path / MANIFEST
        if not file.is_file() or file.is_symlink():
            return "it has no manifest (its writing never finished)", None
        if file.stat().st_size > _MANIFEST_BYTES:
            return "its manifest is too large", None
        try:
            manifest = Manifest.model_validate_json(file.read_bytes())
        except ValidationError:
            return "its manifest is unreadable", None
        if manifest.identity != self.identity:
            return "it was made by another training (other data, settings, seed, model or number of processes)", None
        if manifest.step != _step(path):
            return f"its manifest is for step {manifest.step}", None
        # Files are looked up among those found inside the folder, never opened by a name the manifest gives.
        found = {p.relative_to(path).as_posix(): p for p in path.rglob("*")}
        found.pop(MANIFEST)
        for name, p in sorted(found.items()):
            if p.is_symlink():
                return f"it holds a link, {name}", None
            if p.is_file() and name not in manifest.files:
                return f"it holds a file its manifest does not list, {name}", None
        for name, (size, sha) in sorted(manifest.files.items()):
            if name not in found or not found[name].is_file():
                return f"its file {name} is missing", None
            if found[name].stat().st_size != size or _sha256(found[name]) != sha:
                return f"its file {name} changed after it was written", None
        return "", manifest


def _step(path: Path) -> int:
    match = _NAME.fullmatch(path.name)
    return int(match.group(1)) if match else -1


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _flush(path: Path) -> None:
    """Push a file (or, on POSIX, a folder's entries) to disk, so a rename never outlives its contents."""
    if path.is_dir() and os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def checkpointed(trainer_class: type) -> type:
    """`trainer_class` (a transformers Trainer) whose checkpoints are published atomically into its
    `checkpoints` folder; none are written while that is None, nor after the last step (the artefact is
    saved next). Its `progress` says what the training cost so far, for the manifest."""
    class Checkpointed(trainer_class):
        checkpoints: CheckpointFolder | None = None
        progress: Callable[[], Progress] | None = None
        _staging = False

        def _get_output_dir(self, trial):
            if self._staging and self.checkpoints is not None:
                return str(self.checkpoints.staging)
            return super()._get_output_dir(trial)

        def _save_checkpoint(self, model, trial):
            if self.checkpoints is None or self.state.global_step >= self.state.max_steps:
                return
            self._staging = True
            try:
                super()._save_checkpoint(model, trial)
            finally:
                self._staging = False
            self.accelerator.wait_for_everyone()  # every process's part (its RNG state) is staged
            if self.is_world_process_zero():
                self.checkpoints.publish(self.state.global_step, self.progress() if self.progress else NOTHING)
            self.accelerator.wait_for_everyone()

    Checkpointed.__name__ = Checkpointed.__qualname__ = trainer_class.__name__
    return Checkpointed
