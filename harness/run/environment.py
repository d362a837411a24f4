"""Where a run runs, as recorded: versions, platform, device, commit, code hash, processes and threads; and
whether the model output its metrics execute can be sandboxed here."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from harness.cache import keys
from harness.metrics.sandbox import runner as sandbox
from harness.models.loading import device
from harness.record import Environment
from harness.runtime import distributed, threads
from harness.suitedef.suite import Suite
from harness.tuning.registry import backend_packages

PACKAGES = ("torch", "transformers", "trl", "peft", "datasets", "accelerate", "sacrebleu", "jinja2", "pydantic",
            "numpy", "evaluate")

def environment() -> Environment:
    """Where this run runs: versions, platform, device, commit and code hash."""
    def pkg(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                                cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        commit = None
    return Environment(python=sys.version.split()[0], platform=platform.platform(), device=device(),
                       packages={name: pkg(name) for name in PACKAGES}, git_commit=commit,
                       code_hash=keys.code_hash(backend_packages()),
                       world_size=distributed.world_size(), threads=threads.current(),
                       results_from=distributed.results_world_size()
                       if distributed.results_world_size() != distributed.world_size() else None)


def check_code_sandbox(suites: list[Suite], allow_unsandboxed: bool) -> None:
    """Refuse, before anything runs, a run whose metrics execute model output where no sandbox is
    available, unless the user accepted that; the acceptance reaches the scorers (and the run's other
    processes) through the environment."""
    if allow_unsandboxed:
        os.environ[sandbox.ALLOW_UNSANDBOXED_ENV] = "1"
    if any(getattr(metric, "runs_code", False) for s in suites for metric, _ in s.metrics.values()):
        sandbox.require_sandbox()
