"""Tuning backends by name. Third-party packages add theirs through the `harness.backends`
entry-point group (`name = "package.module:BackendClass"`); no core file changes."""
from __future__ import annotations

from importlib.metadata import entry_points

from harness.errors import HarnessError

from .base import Backend, TrainExample, TrainStats, TunedModel, TuneSettings, deciding

ENTRY_POINT_GROUP = "harness.backends"
BUILT_IN = {
    "full": "backends.full:FullFineTune",
    "lora": "backends.lora:LoRA",
    "dora": "backends.dora:DoRA",
    "ia3": "backends.ia3:IA3",
    "prompt_tuning": "backends.prompt_tuning:PromptTuning",
    "freeze": "backends.freeze:Freeze",
    "qlora": "backends.qlora:QLoRA",
}
"""The backends this package ships (also registered as entry points, for an installed copy)."""


def available() -> dict[str, str]:
    """Backend name → where it comes from ("module:Class")."""
    found = dict(BUILT_IN)
    found.update({ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)})
    return found


def get_backend(name: str) -> type[Backend]:
    """The backend class registered as `name`; one clear error naming the available ones otherwise."""
    known = available()
    if name not in known:
        raise HarnessError(f"unknown backend {name!r}; available: {', '.join(sorted(known))}", "--backend")
    module, _, attr = known[name].partition(":")
    cls = getattr(__import__(module, fromlist=[attr]), attr)
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise HarnessError(f"{known[name]} is not a harness Backend", f"backend {name}")
    return cls


def usable_backend(name: str) -> type[Backend]:
    """`get_backend`, and one clear line when the backend cannot run on this machine (e.g. needs a GPU)."""
    cls = get_backend(name)
    reason = cls.unavailable()
    if reason:
        raise HarnessError(reason, f"backend {name}")
    return cls


__all__ = ["Backend", "TrainExample", "TrainStats", "TunedModel", "TuneSettings", "available", "deciding",
           "get_backend", "usable_backend"]
