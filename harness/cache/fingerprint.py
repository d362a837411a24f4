"""Fingerprints: what identifies a model, an adapter or a piece of code, cheaply and exactly.

A local model or adapter directory is identified by the hashes of its files (weights, config,
tokenizer, chat template): the same weights copied elsewhere are the same model, retrained
weights at the same path are not. Each file's hash is remembered by (path, size, mtime, inode),
so a large model is read once. A hub id is identified by the commit it resolves to.
"""
from __future__ import annotations

import hashlib
import inspect
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from harness.common.lazy import lazy_module

from .store import Store, digest

if TYPE_CHECKING:
    from transformers import utils as transformers_utils
else:  # heavy: imported on first use
    transformers_utils = lazy_module("transformers.utils")

MODEL_PACKAGES = ("torch", "transformers", "tokenizers", "peft")
"""Packages whose versions can change a model's outputs."""
TRAINING_PACKAGES = ("torch", "transformers", "tokenizers", "peft", "trl", "datasets", "accelerate")
"""Packages whose versions can change what training produces."""


def dir_fingerprint(store: Store, folder: Path) -> str:
    """Hash of the top-level files of a model or adapter directory (names and contents; hidden files
    and subfolders, such as a repository's `original/` checkpoints, are not part of the model)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return digest([[p.name, store.file_sha256(p)] for p in files])


def model_fingerprint(store: Store, name: str) -> str | None:
    """A local directory's file hash, `hub:<id>@<commit>` for a hub id that resolves, else None (then
    nothing about this model is cached)."""
    path = Path(name)
    if path.is_dir():
        return "dir:" + dir_fingerprint(store, path)
    commit = hub_commit(name)
    return f"hub:{name}@{commit}" if commit else None


def hub_commit(repo_id: str) -> str | None:
    """The commit a hub id resolves to (from the local hub cache when offline), or None."""
    try:
        config = transformers_utils.cached_file(repo_id, "config.json")
    except Exception:  # offline and not cached, no such repo, no network: simply not cacheable
        return None
    # The hub cache keeps every file at .../snapshots/<commit>/<file>.
    parent = Path(config).parent if config else None
    return parent.name if parent is not None and parent.parent.name == "snapshots" else None


def package_versions(names: tuple[str, ...]) -> dict[str, str | None]:
    """Installed versions of `names` (None when absent)."""
    def one(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {n: one(n) for n in names}


def source_hash(files: list[Path]) -> str:
    """Hash of source files' names and contents."""
    h = hashlib.sha256()
    for path in sorted(set(files)):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def class_sources(cls: type) -> list[Path]:
    """The source files of `cls` and of every class it inherits from, standard library excluded."""
    files = []
    for c in cls.__mro__:
        if c.__module__.split(".")[0] in sys.stdlib_module_names or c.__module__ == "builtins":
            continue
        try:
            files.append(Path(inspect.getsourcefile(c) or ""))
        except TypeError:  # built in, no source file
            continue
    return [f for f in files if f.is_file()]
