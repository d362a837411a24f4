"""Deferred imports, in one place: what is heavy (torch, transformers, scipy, the metric libraries) loads on first
use, so that the commands that only inspect stay fast, and a package's face can name its whole API without
importing every module behind it."""
from __future__ import annotations

import sys
from importlib import import_module
from typing import Any, Callable


def lazy_exports(package: str, exports: dict[str, list[str]]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for a package whose public names live in its modules: `exports` maps a
    module (relative to the package, without the dot) to the names it provides. A name's module is imported the
    first time the name is asked for, and the name is then kept in the package like an ordinary attribute."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f"{package}.{where[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
