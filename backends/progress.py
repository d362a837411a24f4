"""The training progress bar: one per training run, with the latest logged loss beside it; a training resumed
from a checkpoint starts its bar at the checkpoint's step."""
from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from harness.common.progress import progress_bar


class ProgressBar(TrainerCallback):
    """One bar per training run, with the latest logged loss beside it."""

    def __init__(self, label: str):
        self.label = label
        self.bar: Any = None
        self.resumed_from = 0
        """The step a resumed training starts from (set before it starts: the trainer's state is restored only
        after `on_train_begin`)."""

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.bar = progress_bar(total=state.max_steps, initial=self.resumed_from, desc=f"train · {self.label}",
                                unit="step")

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.bar is not None and logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{float(logs['loss']):.4f}", refresh=False)  # shown at the next redraw

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
