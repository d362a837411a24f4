"""Tuning backends by name, found through the `harness.backends` entry-point group: the backends this project
ships are registered in its pyproject like any third-party plugin (`name = "package.module:BackendClass"`), so
there is one registry and the core never imports a backend."""
from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from harness.common.errors import HarnessError
from harness.common.plugins import entry_point_map, load_plugin

from .contract import Backend

ENTRY_POINT_GROUP = "harness.backends"


def available() -> dict[str, str]:
    """Backend name → where it comes from ("module:Class")."""
    return entry_point_map(ENTRY_POINT_GROUP)


def get_backend(name: str) -> type[Backend]:
    """The backend class registered as `name`; one clear error naming the available ones otherwise."""
    try:
        return load_plugin(available(), name, Backend, "backend", listing="available")
    except ValueError as e:
        raise HarnessError(str(e), "--backend" if name not in available() else f"backend {name}") from None


def usable_backend(name: str) -> type[Backend]:
    """`get_backend`, and one clear line when the backend cannot run on this machine (e.g. needs a GPU)."""
    cls = get_backend(name)
    reason = cls.unavailable()
    if reason:
        raise HarnessError(reason, f"backend {name}")
    return cls


def backend_packages() -> list[Path]:
    """The folders of the top-level packages that registered backends come from, found without importing them."""
    folders: set[Path] = set()
    for where in available().values():
        spec = find_spec(where.partition(":")[0].partition(".")[0])
        if spec is not None and spec.submodule_search_locations:
            folders.update(Path(p) for p in spec.submodule_search_locations)
    return sorted(folders)
