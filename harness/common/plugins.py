"""Plugins by entry-point group, found without importing them."""
from __future__ import annotations

import sys
from functools import lru_cache
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any


def entry_point_map(group: str) -> dict[str, str]:
    """Name → `module:attr` of every entry point in `group`. Scanning the installed distributions costs
    about 10 ms and a suite asks once per metric, so the answer is kept per `sys.path`: a package put on
    the path later is still seen."""
    return dict(_scan(group, tuple(sys.path)))


@lru_cache(maxsize=16)
def _scan(group: str, path: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((ep.name, ep.value) for ep in entry_points(group=group))


def load_plugin(known: dict[str, str], name: str, base: type, noun: str, listing: str = "known") -> Any:
    """The class registered as `name` among `known` (name → `module:attr`), which must be a `base`: ValueError with
    one line when the name is unknown (naming the known ones), its module does not load, or it is no `base`."""
    if name not in known:
        raise ValueError(f"unknown {noun} {name!r}; {listing}: {', '.join(sorted(known))}")
    module, _, attr = known[name].partition(":")
    try:
        cls = getattr(import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"{noun} {name!r}: cannot load {known[name]} ({e})") from None
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ValueError(f"{noun} {name!r}: {known[name]} is not a harness {base.__name__}")
    return cls
