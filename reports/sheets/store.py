"""The harness's own files under RUN_DIR/sheets/: the unblinding key and the imported ratings (whose
file the record owns: `harness.record.ratings_path`)."""
from __future__ import annotations

import json
from pathlib import Path

from harness.common.errors import HarnessError
from harness.common.files import exclusive_lock, write_json, write_jsonl
from harness.record import load_ratings, ratings_path

from .layout import KEY_FILE, LOCK_FILE, sheets_dir

__all__ = ["append_ratings", "key_path", "load_key", "load_ratings", "ratings_path", "save_key", "store_lock"]


def store_lock(run_dir):
    """The lock to hold around reading and rewriting key.json or ratings.jsonl (an OS file lock)."""
    return exclusive_lock(sheets_dir(run_dir) / LOCK_FILE)


def key_path(run_dir) -> Path:
    """RUN_DIR/sheets/key.json."""
    return sheets_dir(run_dir) / KEY_FILE


def load_key(run_dir) -> dict | None:
    """{"run_id", "exports": {export_id: {...}}}, or None before the first export."""
    path = key_path(run_dir)
    if not path.is_file():
        return None
    try:
        key = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HarnessError(f"unreadable key: {e}", str(path)) from None
    if not isinstance(key, dict) or not isinstance(key.get("exports"), dict):
        raise HarnessError("not a sheets key (no 'exports')", str(path))
    return key


def save_key(run_dir, key: dict) -> None:
    """Write the key atomically (call it under `store_lock` after `load_key`)."""
    write_json(key_path(run_dir), key)


def append_ratings(run_dir, existing: list[dict], new: list[dict]) -> None:
    """Rewrites the whole file atomically: a crash leaves the old ratings or all of them, never half.

    Call it under `store_lock`, with `existing` read under the same lock: otherwise a concurrent
    import's ratings, written in between, would be overwritten.
    """
    write_jsonl(ratings_path(run_dir), [*existing, *new])
