"""`--processes N`: the command starts itself again under `accelerate launch` with N processes.

Nothing here is a launcher of its own: accelerate starts the processes (through torch's elastic
launcher), sets RANK / WORLD_SIZE, and its config file, if the user has one, decides DDP, FSDP or
DeepSpeed. On a CPU-only machine the processes talk over gloo, on GPUs over NCCL.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .threads import ENV, default_threads, usable_cores

NOTES_ENV = "HARNESS_LAUNCH_NOTES"
"""A folder the launched processes leave notes in: the run directory, each process's error line, and
(from the launcher) which processes failed and how."""
FAILURES = "failures.json"
RUN_DIR = "run_dir"


def without_processes(argv: list[str]) -> list[str]:
    """`argv` without its `--processes N` (or `--processes=N`)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--processes":
            skip = True
        elif not arg.startswith("--processes="):
            out.append(arg)
    return out


def accelerate_command(argv: list[str], processes: int) -> list[str]:
    """The `accelerate launch` command line that runs `harness ARGV` in `processes` processes on this machine."""
    # --multi_gpu selects torch's multi-process launcher; on a machine without GPUs the processes still
    # recognise themselves as distributed CPU workers (gloo). Port 0: a free port, so runs may overlap.
    return [sys.executable, "-m", "harness.runtime.launcher", "--multi_gpu", "--num_processes", str(processes),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
            "-m", "harness", *without_processes(argv)]


@dataclass
class Launched:
    """How the processes of a relaunched command ended."""

    code: int
    """The command's exit status."""
    failure: str | None = None
    """One line saying which process failed and why (None when all ended well)."""
    run_dir: Path | None = None
    """The run directory the main process was writing, if it had made one."""


def relaunch(argv: list[str], processes: int) -> Launched:
    """Run `harness ARGV` under accelerate with `processes` processes; how they ended."""
    env = dict(os.environ)
    env.setdefault(ENV, str(default_threads(usable_cores(), processes)))
    with tempfile.TemporaryDirectory(prefix="harness-launch-") as notes:
        env[NOTES_ENV] = notes
        code = subprocess.run(accelerate_command(argv, processes), env=env).returncode
        return _outcome(Path(notes), code, processes)


def _outcome(notes: Path, code: int, processes: int) -> Launched:
    run_dir = Path((notes / RUN_DIR).read_text(encoding="utf-8")) if (notes / RUN_DIR).is_file() else None
    if not (notes / FAILURES).is_file():  # all ended well, or the launcher itself failed (and said why)
        lines = sorted(notes.glob("error-*")) if code else []
        return Launched(code, lines[0].read_text(encoding="utf-8").strip() if lines else None, run_dir)
    failures = json.loads((notes / FAILURES).read_text(encoding="utf-8"))
    # A process killed from outside (SIGKILL, the out-of-memory killer) is the cause; the agent stops the
    # others with SIGTERM, and their lost connections are its consequence.
    killed = [f for f in failures if f["exitcode"] < 0 and f["signal"] != "SIGTERM"]
    said = [f for f in failures if (notes / f"error-{f['rank']}").is_file()]
    if killed:
        f = killed[0]
        return Launched(1, f"harness: error: process {f['rank'] + 1} of {processes} was killed ({f['signal']}), so "
                           "the others were stopped", run_dir)
    if said:
        f = said[0]
        return Launched(max(f["exitcode"], 1), (notes / f"error-{f['rank']}").read_text(encoding="utf-8").strip(),
                        run_dir)
    f = failures[0]
    reason = f"exit status {f['exitcode']}" if f["exitcode"] > 0 else f["signal"]
    return Launched(1, f"harness: error: process {f['rank'] + 1} of {processes} failed ({reason})", run_dir)


def note_run_dir(run_dir: Path) -> None:
    """Under `--processes`: tell the launching command which run directory this run writes."""
    notes = os.environ.get(NOTES_ENV)
    if notes and Path(notes).is_dir():
        (Path(notes) / RUN_DIR).write_text(str(Path(run_dir).resolve()), encoding="utf-8")


def note_error(line: str) -> bool:
    """Under `--processes`: leave this process's error line for the launching command, which says the one line
    that explains the failure; False when not launched so (the caller prints it)."""
    notes, rank = os.environ.get(NOTES_ENV), os.environ.get("RANK")
    if not notes or rank is None or not Path(notes).is_dir():
        return False
    (Path(notes) / f"error-{int(rank)}").write_text(line, encoding="utf-8")
    return True
