"""What a command sets up in its process before model work: quiet libraries, threads, the other processes."""
from __future__ import annotations

import os
import sys
import warnings
from typing import TYPE_CHECKING

from harness.common.lazy import lazy_module

if TYPE_CHECKING:
    import datasets
    import transformers

    from harness.runtime import distributed, threads
else:  # imported on first use: the light commands never load the heavy libraries
    datasets = lazy_module("datasets")
    distributed = lazy_module("harness.runtime.distributed")
    threads = lazy_module("harness.runtime.threads")
    transformers = lazy_module("transformers")


def prepare_processes(args) -> None:
    """Before any model work: the thread count, then joining the other processes (if launched with some)."""
    threads.configure(args.threads, distributed.local_world_size())
    distributed.init()


QUIET = {"TOKENIZERS_PARALLELISM": "false", "TRANSFORMERS_VERBOSITY": "error", "DATASETS_VERBOSITY": "error",
         "HF_DATASETS_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def quiet_libraries() -> None:
    """Keep the terminal to our progress bars and the trainer's; library chatter goes. Said through the
    environment (the user's own settings win), so that no library is imported before it is needed."""
    for name, value in QUIET.items():
        os.environ.setdefault(name, value)
    warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated")  # asked by TRL, not us
    if "transformers" in sys.modules:  # imported before (the harness used in-process): told directly

        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    if "datasets" in sys.modules:
        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
