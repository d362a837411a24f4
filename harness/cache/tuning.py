"""The tuning cache: a tuned artefact, addressed by exactly what decides it.

The key (`keys.tuning_key`) covers the base model's fingerprint, the training examples as the backend receives
them (messages, completion and tool schemas), the backend's name and deciding settings, the seed, the
backend's code (its class's source files and the model helpers it loads with), the versions of
the training packages, the device kind and the number of training processes; a reward-trained backend's
key adds its reward (each suite's reward metrics and weights, and their scoring code), and a chain's
stands on its upstream's key instead of the base's fingerprint. Gates, test examples, other metrics and
generation settings are not in it: changing them never retrains.

An artefact is stored as a copy (not a link: a later in-place write into a run's model folder
must not change the cache), with each file's hash; every byte is checked against it as it is
copied out, and a damaged entry is removed and recomputed. Files that name the base model's path
(an adapter's `base_model_name_or_path`) are rewritten to the current base path on the way out,
as the backend would have written them.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from harness.common.files import _UMASK, ContentChanged, copy_file, write_bytes

from .dirs import scratch_dir
from .keys import TUNED
from .store import Store


@dataclass
class CachedTuning:
    """A tuned artefact found in the cache and restored."""

    key: str
    kind: str
    cost: dict
    """The original tuning's cost, as recorded when it was trained."""
    created: str
    """When it was trained (ISO-8601 UTC)."""
    origin: str
    """Where it was trained: the run id or output folder."""


class TuningCache:
    """Tuned artefacts by tuning key, in the store's `tuned/` folder."""

    def __init__(self, store: Store):
        self.store = store

    def restore(self, key: str, dest: Path, base_path: str,
                extras: dict[str, Path] | None = None) -> CachedTuning | None:
        """Copy the artefact stored under `key` into `dest` (and its extra files to their paths); None when
        there is none. Every byte is checked against its recorded hash as it is copied (never against the
        stat-keyed memo, which a changed file with its time restored would fool): a damaged entry is removed
        from the cache with one warning, nothing of it is left in `dest`, and the caller recomputes."""
        meta = self.store.get(TUNED, key)
        folder = self.store.tuned_dir / key
        if meta is None or not folder.is_dir():
            return None
        written: list[Path] = []
        try:
            for name, (_, sha) in meta["files"].items():
                target = dest / name
                written.append(target)
                if name in meta["rebase"]:
                    data = _verified_bytes(folder / "artefact" / name, sha)
                    text = data.decode("utf-8").replace(_json_str(meta["base_path"]), _json_str(base_path))
                    write_bytes(target, text.encode())
                else:
                    copy_file(folder / "artefact" / name, target, sha)
                    self.store.remember(target, sha)
            for name, path in (extras or {}).items():
                if name in meta["extras"]:
                    written.append(path)
                    copy_file(folder / "extras" / name, path, meta["extras"][name])
        except (ContentChanged, OSError) as e:
            for path in written:
                path.unlink(missing_ok=True)
            self._discard(key)
            problem = str(e) if isinstance(e, ContentChanged) else f"{e.filename}: {e.strerror}"
            print(f"harness: warning: the cached tuning {key[:12]} is damaged ({problem}); it is removed and "
                  "recomputed", file=sys.stderr)
            return None
        return CachedTuning(key=key, kind=meta["kind"], cost=meta["cost"], created=meta["created"],
                            origin=meta["origin"])

    def _discard(self, key: str) -> None:
        """Drop a damaged entry and its folder, so that the recomputed artefact can take its place."""
        self.store.discard(TUNED, key)
        folder = self.store.tuned_dir / key
        with scratch_dir(self.store.tuned_dir, key[:16]) as tmp:
            try:
                folder.rename(tmp / "damaged")
            except OSError:
                pass  # already discarded by another process

    def save(self, key: str, artefact: Path, base_path: str, kind: str, cost: dict, origin: str,
             extras: dict[str, Path] | None = None) -> None:
        """Store a freshly tuned artefact (and extra files that belong with it, such as the in-memory
        model's outputs for the reload check) under `key`. When another process stored one under the same
        key first, theirs is kept: a folder, once in place, is never replaced, so the recorded hashes always
        describe the files beside them."""
        target = self.store.tuned_dir / key
        if self.store.get(TUNED, key) is not None and target.is_dir():
            return
        with scratch_dir(self.store.tuned_dir, key[:16]) as tmp:
            for path in artefact.rglob("*"):
                if path.is_file():
                    copy_file(path, tmp / "artefact" / path.relative_to(artefact))
            for name, path in (extras or {}).items():
                if path.is_file():
                    copy_file(path, tmp / "extras" / name)
            os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp's private 0700 is not what a shared cache wants
            try:
                tmp.rename(target)
            except OSError:
                pass  # already in place: stored by another process, or by one that stopped before recording it
        files = sorted(p.relative_to(target / "artefact").as_posix() for p in (target / "artefact").rglob("*")
                       if p.is_file())
        needle = _json_str(base_path)
        self.store.put(TUNED, key, {
            "kind": kind, "cost": cost, "base_path": base_path, "origin": origin,
            "files": {n: [(target / "artefact" / n).stat().st_size, self.store.file_sha256(target / "artefact" / n)]
                      for n in files},
            "rebase": [n for n in files if n.endswith(".json")
                       and needle in (target / "artefact" / n).read_text(encoding="utf-8")],
            "extras": {p.name: self.store.file_sha256(p) for p in sorted((target / "extras").iterdir())}
            if (target / "extras").is_dir() else {},
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        })

def _verified_bytes(path: Path, sha256: str) -> bytes:
    data = path.read_bytes()  # a config file: small
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ContentChanged("content changed since it was stored", str(path))
    return data


def _json_str(text: str) -> str:
    return json.dumps(text)[1:-1]

