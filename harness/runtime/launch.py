"""`--processes N`: the command starts itself again under `accelerate launch` with N processes.

Nothing here is a launcher of its own: accelerate starts the processes (through torch's elastic
launcher), sets RANK / WORLD_SIZE, and its config file, if the user has one, decides DDP, FSDP or
DeepSpeed. On a CPU-only machine the processes talk over gloo, on GPUs over NCCL.
"""
from __future__ import annotations

import os
import subprocess
import sys

from .threads import ENV, default_threads, usable_cores


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
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
            "-m", "harness", *without_processes(argv)]


def relaunch(argv: list[str], processes: int) -> int:
    """Run `harness ARGV` under accelerate with `processes` processes; their exit status."""
    env = dict(os.environ)
    env.setdefault(ENV, str(default_threads(usable_cores(), processes)))
    return subprocess.run(accelerate_command(argv, processes), env=env).returncode
