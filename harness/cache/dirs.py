"""Cache directories: where built models live and how a build lands there whole or not at all.

A build writes into a private temporary directory beside its target and renames it into place,
so a reader never sees half a model and two processes building the same thing at once are safe
(the second rename loses and its identical copy is dropped). A build that is interrupted removes
its temporary directory; one killed outright leaves it behind, named after its host and process,
and the next build in that folder removes it once that process is gone.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from harness.common.files import _UMASK


def cache_root() -> Path:
    """The harness's cache: `HARNESS_CACHE`, else `~/.cache/harness`."""
    return Path(os.environ.get("HARNESS_CACHE", Path.home() / ".cache" / "harness"))


def models_root() -> Path:
    """Where fetched and converted real models live: `HARNESS_MODELS`, else `<cache>/models`.

    A separate variable lets a throwaway `HARNESS_CACHE` (as the tests use) share one persistent
    copy of a downloaded model.
    """
    configured = os.environ.get("HARNESS_MODELS")
    return Path(configured).expanduser() if configured else cache_root() / "models"


def build_atomically(target: Path, build: Callable[[Path], None], complete: str = "config.json") -> Path:
    """`target`, built by `build(tmp_dir)` unless a complete one (holding `complete`) is already there."""
    target = Path(target)
    if (target / complete).is_file():
        return target
    with scratch_dir(target.parent, target.name) as tmp:
        build(tmp)
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp's private 0700 is not what a shared cache wants
        try:
            tmp.rename(target)
        except OSError:  # built concurrently by another process: theirs is identical, ours goes
            pass
    return target


@contextmanager
def scratch_dir(folder: Path, label: str) -> Iterator[Path]:
    """A temporary directory in `folder`, removed afterwards whatever happens (a killed process's
    is removed by the next one that works in `folder`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(folder)
    tmp = Path(tempfile.mkdtemp(dir=folder, prefix=f".{label}.{_owner()}."))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _owner() -> str:
    return f"{socket.gethostname().replace('.', '_')}.{os.getpid()}"


def _remove_abandoned(folder: Path) -> None:
    """Temporary build directories of processes on this host that no longer run."""
    host = socket.gethostname().replace(".", "_")
    for path in folder.glob(".*.*.*.*"):
        parts = path.name.rsplit(".", 3)  # .<target>.<host>.<pid>.<random>
        if len(parts) != 4 or parts[1] != host or not parts[2].isdigit() or not path.is_dir():
            continue
        try:
            os.kill(int(parts[2]), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:  # exists but is not ours to signal: still running
            pass
