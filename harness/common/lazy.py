"""Deferred imports, in one place: what is heavy (torch, transformers, scipy, the metric libraries) loads on
first use, so that the commands that only inspect stay fast. `lazy_module` stands for one module;
`lazy_exports` lets a package's face name its whole API without importing every module behind it."""
from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import Any, Callable, cast


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


class _LazyModule:
    """Stands for a module until its first use: every attribute read, write or delete imports the module (once)
    and is passed on to it, `__class__` and `__dict__` included, so that the stand-in answers as the module
    would (`isinstance(np, ModuleType)`, `monkeypatch.setattr(torch.cuda, ...)`). Nothing is put in
    `sys.modules` besides what the import itself puts there: asking whether `torch` was imported stays honest."""

    __slots__ = ("_lazy_name", "_lazy_module")

    def __init__(self, name: str):
        object.__setattr__(self, "_lazy_name", name)
        object.__setattr__(self, "_lazy_module", None)

    def __getattribute__(self, attr: str) -> Any:
        return getattr(_load(self), attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        setattr(_load(self), attr, value)

    def __delattr__(self, attr: str) -> None:
        delattr(_load(self), attr)

    def __dir__(self) -> list[str]:
        return dir(_load(self))

    def __repr__(self) -> str:
        module = object.__getattribute__(self, "_lazy_module")
        if module is not None:
            return repr(module)
        return f"<module {object.__getattribute__(self, '_lazy_name')!r} (not imported yet)>"


def _load(proxy: _LazyModule) -> ModuleType:
    module = object.__getattribute__(proxy, "_lazy_module")
    if module is None:
        module = import_module(object.__getattribute__(proxy, "_lazy_name"))
        object.__setattr__(proxy, "_lazy_module", module)
    return module


def lazy_module(name: str) -> ModuleType:
    """The module `name`, imported when one of its attributes is first used: `torch = lazy_module("torch")` at the
    top of a module costs nothing until `torch.tensor(...)` runs. For the type checker, import the module
    under `if TYPE_CHECKING:` and make it lazy in the `else:` branch. A module that may be missing is not for
    this (its ImportError would surface at first use): check for it where it is optional."""
    return cast(ModuleType, _LazyModule(name))
