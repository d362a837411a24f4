"""Supervised fine-tuning shared by every built-in backend: one code path, two trainers.

Causal LMs train with TRL's `SFTTrainer` on prompt/completion pairs, so the loss covers the
completion only. Encoder-decoders (T5 family), which `SFTTrainer` does not support, train
with transformers' `Seq2SeqTrainer`, where the loss is on the target by construction.
Subclasses decide only how the base is loaded (`load_base`), which of its weights train
(`prepare_model`) and whether a PEFT config wraps it (`peft_config`). torch, transformers and TRL
are imported where they are used, so that reading a backend's settings stays cheap.

Under `accelerate launch` or `torchrun` the trainers run data-parallel (DDP, or FSDP / DeepSpeed
from an accelerate config): each of N processes takes batch_size / N examples per step, so an
optimizer step sees the same examples as in one process. Each step is split into micro-batches of
similar lengths, which leaves less padding in them (`trainers.py`).

Given a `checkpoint_dir`, training saves a checkpoint every `checkpoint_every` steps and resumes from
the last valid one it finds there (`checkpoints.py`); under FSDP or DeepSpeed it writes none.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from harness.common.errors import HarnessError
from harness.common.lazy import lazy_module
from harness.models.loading import Model, compute_dtype, device, load_model
from harness.models.training_tokens import chat_rows
from harness.runtime.distributed import broadcast, is_main, world_size
from harness.tuning.contract import (
    LOSS_LOGGED_EVERY,
    Backend,
    TrainExample,
    TrainStats,
    TunedModel,
    TuneSettings,
)

from .checkpoints import NOTHING, Checkpoint, CheckpointFolder, Progress, checkpointed
from .trainers import lean_sft_trainer, rebalanced

if TYPE_CHECKING:
    import datasets
    import peft
    import torch
    import transformers
    import trl

    from . import progress as trainer_progress
else:  # heavy: imported on first use
    datasets = lazy_module("datasets")
    peft = lazy_module("peft")
    trainer_progress = lazy_module("backends.progress")  # derives from transformers' TrainerCallback
    torch = lazy_module("torch")
    transformers = lazy_module("transformers")
    trl = lazy_module("trl")


class SFTBackend(Backend):
    adapter = False

    def peft_config(self, settings: TuneSettings, encoder_decoder: bool):
        """The PEFT config that wraps the model (None: the model's own weights train)."""
        return None

    def load_base(self, base_model: str):
        """The base model as a `harness.models.Model`, in fp32 master weights (on GPU the trainer computes in
        bf16 autocast: mixed precision)."""
        return load_model(base_model, dtype=torch.float32)

    def prepare_model(self, model, settings: TuneSettings) -> None:
        """Freeze what must not train, before the trainer sees the model (default: nothing)."""

    def setup(self, base_model: str, examples: list[TrainExample], settings: TuneSettings, seed: int) -> None:
        self._setup_start = time.perf_counter()
        self._earlier = NOTHING
        transformers.set_seed(seed)
        self.settings = settings
        processes = world_size()
        if settings.batch_size % processes:
            raise HarnessError(f"batch_size {settings.batch_size} is not divisible by the {processes} processes: "
                               "each takes an equal share of every step", f"{self.name}.batch_size")
        self.loaded = self.load_base(base_model)
        self.prepare_model(self.loaded.model, settings)
        self._scratch = tempfile.TemporaryDirectory(prefix="harness-train-")
        on_gpu = device() == "cuda"
        # Two micro-batches per step and process when the step divides evenly, each of similar lengths.
        accumulate = 2 if settings.batch_size % (2 * processes) == 0 else 1
        every = settings.checkpoint_every if self.checkpoint_dir is not None else None
        # The trainer's own checkpoints, all of them kept (checkpoints.py publishes each and removes the older).
        saving = dict(save_strategy="steps", save_steps=every, save_only_model=False) if every else \
            dict(save_strategy="no")
        common = dict(
            output_dir=self._scratch.name, learning_rate=settings.learning_rate,
            num_train_epochs=settings.epochs, max_steps=settings.max_steps or -1,
            per_device_train_batch_size=settings.batch_size // (processes * accumulate),
            gradient_accumulation_steps=accumulate, warmup_steps=settings.warmup_steps,
            lr_scheduler_type=settings.lr_scheduler, weight_decay=settings.weight_decay,
            # bf16 is native on GPUs and emulated, several times slower, on CPUs. Checkpointing trades
            # compute for memory: measured ~9x slower together with bf16 on a 2-core CPU.
            bf16=on_gpu, activation_checkpointing=False, gradient_checkpointing=False,
            use_cpu=not on_gpu, seed=seed, data_seed=seed, report_to=[], **saving,
            logging_steps=LOSS_LOGGED_EVERY, logging_first_step=True, include_num_input_tokens_seen="non_padding",
            dataloader_num_workers=0, disable_tqdm=True,  # our own bar (below) replaces the log printing
            # Each step's random examples in micro-batches of similar lengths (see trainers.py); no per-step NaN
            # check (a device sync on GPU: a NaN loss is logged as it is); every parameter takes part, so DDP
            # need not search for unused ones after each backward pass.
            train_sampling_strategy="batch_rebalance" if accumulate > 1 else "random", logging_nan_inf_filter=False,
            ddp_find_unused_parameters=False,
        )
        self.trainer = self.make_trainer(examples, common, self.peft_config(settings, self.loaded.encoder_decoder))
        self.trainer.remove_callback(transformers.PrinterCallback)
        self._bar = trainer_progress.ProgressBar(self.name)
        self.trainer.add_callback(self._bar)
        if every:
            self._keep_checkpoints()

    def make_trainer(self, examples: list[TrainExample], common: dict, peft_config):
        """The trainer over `examples`, from the training arguments every backend shares (`common`)."""
        build = self._seq2seq_trainer if self.loaded.encoder_decoder else self._sft_trainer
        return build(examples, common, peft_config)

    def _keep_checkpoints(self) -> None:
        assert self.checkpoint_dir is not None and self.checkpoint_identity is not None, \
            "the harness sets checkpoint_identity with checkpoint_dir"
        if self._sharded():
            _say(f"{self.name}: no checkpoints under FSDP or DeepSpeed: an interrupted training restarts from step 0")
            return
        folder = CheckpointFolder(self.checkpoint_dir, self.checkpoint_identity,
                                  lambda line: _say(f"WARNING: {self.name}: {line}"))
        if is_main():
            folder.clear_leftovers()
        self.trainer.checkpoints = folder
        self.trainer.progress = self._progress

    def _progress(self) -> Progress:
        """The training's cost so far, over the attempts it kept (for a checkpoint's manifest)."""
        now = time.perf_counter()
        return Progress(train_seconds=self._earlier.train_seconds + now - self._loop_start,
                        wall_seconds=self._earlier.wall_seconds + now - self._setup_start,
                        attempts=self._earlier.attempts + 1)

    def _resume_point(self) -> Checkpoint | None:
        """The last valid checkpoint of this training, the same on every process (None: start from step 0)."""
        folder = getattr(self.trainer, "checkpoints", None)
        if folder is None:
            return None
        found = broadcast(folder.latest() if is_main() else None)
        if found is not None:
            _say(f"Resuming {self.name} from its checkpoint at step {found.step}")
        return found

    def _seq2seq_trainer(self, examples: list[TrainExample], common: dict, peft_config):
        model, tok = self.loaded.model, self.loaded.tokenizer
        if peft_config is not None:
            model = peft.get_peft_model(model, peft_config)
        examples = [one for ex in examples for one in ex.single_turns()]  # one target per sequence
        enc = tok([self.loaded.render(ex.messages, ex.tools) for ex in examples],
                  text_target=[ex.completion for ex in examples],
                  truncation=True, max_length=self.settings.max_length)
        return checkpointed(rebalanced(transformers.Seq2SeqTrainer))(
            model=model, args=transformers.Seq2SeqTrainingArguments(**common),
            train_dataset=datasets.Dataset.from_dict(dict(enc)), processing_class=tok,
            data_collator=transformers.DataCollatorForSeq2Seq(tok, model=model),
        )

    def _sft_trainer(self, examples: list[TrainExample], common: dict, peft_config):
        tok = self.loaded.tokenizer
        if self.loaded.chat:
            # Token ids and loss masks through the model's chat template, as `Model.render` renders prompts at
            # evaluation (tools included; the template closes each turn), the way TRL tokenizes conversational
            # pairs; an episode's transcript is one sequence trained on every assistant turn (`chat_rows`).
            rows = [row for ex in examples
                    for row in chat_rows(self.loaded, ex.messages, ex.completion, ex.tools, ex.every_turn)]
            data = datasets.Dataset.from_dict({"input_ids": [ids for ids, _ in rows],
                                               "completion_mask": [mask for _, mask in rows]})
        else:
            singles = [one for ex in examples for one in ex.single_turns()]
            data = datasets.Dataset.from_dict({
                "prompt": [self.loaded.render(ex.messages, ex.tools) for ex in singles],
                "completion": [ex.completion + tok.eos_token for ex in singles],
            })
        config = trl.SFTConfig(**common, max_length=self.settings.max_length, completion_only_loss=True)
        return checkpointed(lean_sft_trainer())(model=self.loaded.model, args=config, train_dataset=data,
                                                processing_class=tok, peft_config=peft_config)

    def train(self) -> TrainStats:
        model = self.trainer.model
        resume = self._resume_point()
        self._earlier = resume.progress if resume is not None else NOTHING
        self._bar.resumed_from = resume.step if resume is not None else 0
        start = self._loop_start = time.perf_counter()
        if self.settings.max_steps != 0:
            self.trainer.train(resume_from_checkpoint=str(resume.path) if resume is not None else None)
        seconds = time.perf_counter() - start
        state = self.trainer.state
        curve = [(int(e["step"]), float(e["loss"])) for e in state.log_history if "loss" in e]
        return TrainStats(
            trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
            total_params=sum(p.numel() for p in model.parameters()),
            train_tokens=int(state.num_input_tokens_seen or 0), train_seconds=self._earlier.train_seconds + seconds,
            steps=int(state.global_step), loss_curve=curve, resumed_from_step=resume.step if resume else None,
            attempts=self._earlier.attempts + 1, earlier_wall_seconds=self._earlier.wall_seconds,
        )

    def save(self, out_dir: Path) -> TunedModel:
        out_dir = Path(out_dir)
        main = self.trainer.is_world_process_zero()
        if self._sharded():
            # Every process holds a shard: the trainer gathers the full weights and the main process writes them.
            self.trainer.save_model(str(out_dir))
            if main:
                (out_dir / "training_args.bin").unlink(missing_ok=True)
        elif main:
            self.trainer.model.save_pretrained(out_dir, safe_serialization=True)
        if main:
            self.loaded.tokenizer.save_pretrained(out_dir)
        self._scratch.cleanup()
        return TunedModel(out_dir, "adapter" if self.adapter else "full")

    def _sharded(self) -> bool:
        return bool(self.trainer.is_fsdp_enabled or self.trainer.is_deepspeed_enabled)

    def tuned_in_memory(self):
        if self._sharded():
            return None  # no process holds the whole trained model
        model = self.trainer.model
        if not getattr(self.loaded.model, "is_loaded_in_4bit", False):  # a quantised model cannot be cast
            model = model.to(compute_dtype())
        model.eval()
        return Model(model=model, tokenizer=self.loaded.tokenizer, encoder_decoder=self.loaded.encoder_decoder,
                     name=f"{self.name} (in memory)")


def _say(line: str) -> None:
    """Print one line from the main process (the others would repeat it)."""
    if is_main():
        print(line, flush=True)
