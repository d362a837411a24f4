"""Run directories: claimed uniquely, found again by their configuration, removed when a failure left
nothing in them."""
from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

from harness.common.errors import HarnessError
from harness.record import load_record
from harness.runtime import distributed


def new_run_dir(out: Path, config_key: str) -> Path:
    """Create `out/<UTC time>-<config key>[-N]/` for a new run; unique even for runs started in the same
    second (the directory is claimed by an atomic mkdir). The main process creates it, every process gets it."""
    return Path(distributed.broadcast(str(_claim_run_dir(out, config_key)) if distributed.is_main() else None))


def _claim_run_dir(out: Path, config_key: str) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise HarnessError("exists and is not a folder; --out names the folder that receives run directories",
                           str(out))
    out.mkdir(parents=True, exist_ok=True)
    stamp = f"{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}-{config_key[:6]}"
    for n in range(1, 1000):
        run_dir = out / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            run_dir.mkdir()
            return run_dir
        except FileExistsError:
            continue
    raise HarnessError("a thousand runs started this second with this configuration", str(out))


def discard_if_empty(run_dir: Path) -> None:
    """Remove a run directory that a failed command left with nothing in it worth resuming."""
    kept = {"run.json"}
    if run_dir.is_dir() and all(p.name in kept for p in run_dir.iterdir()):
        shutil.rmtree(run_dir, ignore_errors=True)


def find_finished_run(out: Path, key: str) -> Path | None:
    """The newest complete run under `out` made with exactly this configuration."""
    for run_json in sorted(Path(out).glob("*/run.json"), reverse=True):
        try:
            record = load_record(run_json.parent)
        except Exception:  # a foreign or older file is not a match, never an error here
            continue
        if record.status == "complete" and record.config_key == key:
            return run_json.parent
    return None
