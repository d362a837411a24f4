"""`grpo`: reinforcement learning from the suites' own metrics with TRL's `GRPOTrainer`.

For each train prompt the model samples a group of `num_generations` completions; the harness's reward (the
suite's metrics on that train example, `harness.tuning.reward`) scores each, and the policy moves towards the
completions that beat their group's mean, held near its starting model by a KL term (`beta`). LoRA adapters
train (`tune: lora`, the default) or every weight does (`tune: full`).

Started from another backend's adapter (a chain such as `lora+grpo`), the adapter is merged into the weights
first, so that the KL term holds the policy near the tuned model it started from, not near the untuned base;
the new adapter is merged in as well when saving, and the artefact is a full model.

Before training a seeded sample of train prompts is probed (`backends.reward_probe`): each sampled a group of
times from the starting model and scored. By default only the *contested* ones, whose group rewards differ, are
trained on; after training the probe is sampled again with the same seeds, and the record holds its mean reward
before and after.

Prompts are rendered exactly as evaluation renders them (`Model.render`) and tokenised as evaluation tokenises
them; the reward cuts each completion at the suite's stop strings as evaluation's generation does.
"""
from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from harness.common.errors import HarnessError
from harness.common.lazy import lazy_module
from harness.models.loading import Model, compute_dtype, device, is_adapter_dir, load_model
from harness.runtime.distributed import world_size
from harness.tuning.contract import Backend, ProbedRewards, TrainExample, TrainStats, TunedModel, TuneSettings

from . import reward_probe

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

CURVES = {"reward": "reward", "kl": "kl", "completions/mean_length": "completion_length"}
"""TRL's logged metric → the name of its curve in the record."""


class GrpoSettings(TuneSettings):
    learning_rate: float = Field(5e-4, gt=0)
    """Sized for LoRA (measured on `tiny` after LoRA: 1e-4 hardly moves the policy, 1e-3 moves it the wrong way
    as often as not); full tuning of a real model wants ~10x less."""
    max_steps: int | None = Field(80, ge=0)
    """Optimizer steps (each samples a group per prompt of its batch); sized for minutes on a CPU."""
    batch_size: int = Field(4, gt=0)
    """Train prompts per optimizer step (each sampled `num_generations` times)."""
    warmup_steps: int = Field(0, ge=0)
    """Linear warm-up steps (none: a new adapter starts at zero and the KL term holds full tuning)."""
    lr_scheduler: Literal["linear", "cosine", "constant"] = "constant"
    """Constant by default: a run of a few dozen steps has little to decay."""
    max_length: int = Field(512, gt=0)
    """Longest tokenised prompt + `max_completion_length`; a training example whose prompt does not fit is refused
    (GRPO does not truncate prompts)."""
    checkpoint_every: int | None = Field(None, gt=0, multiple_of=5)
    """Not used: `grpo` writes no checkpoints, and an interrupted training starts again from step 0."""
    tune: Literal["lora", "full"] = "lora"
    """`lora`: low-rank adapters on frozen weights; `full`: every weight."""
    r: int = Field(16, gt=0)
    """Adapter rank (`tune: lora`)."""
    alpha: int = Field(32, gt=0)
    """Adapter scaling numerator (`tune: lora`)."""
    num_generations: int = Field(4, ge=2)
    """Group size: completions sampled per prompt; advantages compare them with each other."""
    beta: float = Field(0.04, ge=0)
    """KL coefficient towards the starting model (0: no KL term, and no KL curve)."""
    max_completion_length: int = Field(48, gt=0)
    """Most tokens sampled per completion."""
    temperature: float = Field(1.0, gt=0)
    """Sampling temperature of the groups."""
    prompts: Literal["contested", "all"] = "contested"
    """`contested`: train only on the probed prompts whose group of sampled completions got differing rewards
    from the starting model (a group of equal rewards has no advantage to follow); `all`: every train prompt."""
    probe_prompts: int = Field(128, ge=0)
    """Train prompts probed (a seeded sample): each sampled `num_generations` times before training, to find the
    contested ones, and again after, with the same seeds, to measure the train reward on fixed prompts. 0: no
    probe (needs `prompts: all`)."""

    @model_validator(mode="after")
    def _contested_needs_a_probe(self) -> GrpoSettings:
        if self.prompts == "contested" and self.probe_prompts == 0:
            raise ValueError("prompts: contested picks among probed prompts; set probe_prompts above 0, or "
                             "prompts: all")
        return self


class GRPO(Backend):
    name = "grpo"
    settings_class = GrpoSettings
    wants_reward = True

    def setup(self, base_model: str, examples: list[TrainExample], settings: TuneSettings, seed: int) -> None:
        assert isinstance(settings, GrpoSettings)
        if self.reward is None:
            raise HarnessError("grpo trains on a reward, and the harness gave none", "backend grpo")
        transformers.set_seed(seed)
        self.settings = settings
        completions = settings.batch_size * settings.num_generations
        if completions % world_size():
            raise HarnessError(f"batch_size × num_generations ({completions}) is not divisible by the {world_size()} "
                               "processes", "grpo.batch_size")
        self.loaded = self._load(base_model)
        if self.loaded.encoder_decoder:
            raise HarnessError("GRPOTrainer trains causal language models only, not encoder-decoders",
                               "backend grpo")
        prompts = [self.loaded.render(ex.messages, ex.tools) for ex in examples]
        self._check_lengths(prompts, settings)
        self.prompts, self.seed = prompts, seed
        trained = self._probe() if settings.probe_prompts else list(range(len(examples)))
        self._scratch = tempfile.TemporaryDirectory(prefix="harness-grpo-")
        on_gpu = device() == "cuda"
        config = trl.GRPOConfig(
            output_dir=self._scratch.name, learning_rate=settings.learning_rate, num_train_epochs=settings.epochs,
            max_steps=settings.max_steps or -1, per_device_train_batch_size=completions // world_size(),
            gradient_accumulation_steps=1, warmup_steps=settings.warmup_steps,
            lr_scheduler_type=settings.lr_scheduler, weight_decay=settings.weight_decay,
            num_generations=settings.num_generations, max_completion_length=settings.max_completion_length,
            temperature=settings.temperature, beta=settings.beta,
            # bf16 and gradient checkpointing are slow on a CPU (as for SFT, see sft.py)
            bf16=on_gpu, gradient_checkpointing=False, use_cpu=not on_gpu, seed=seed, data_seed=seed, report_to=[],
            save_strategy="no", logging_steps=1, disable_tqdm=True, dataloader_num_workers=0, log_completions=False,
        )
        data = datasets.Dataset.from_dict({"prompt": [prompts[i] for i in trained], "index": trained})
        reward = self.reward

        def train_reward(prompts: list, completions: list, index: list[int], **_: Any) -> list[float]:
            return reward(list(index), [str(c) for c in completions])

        peft_config = None
        if settings.tune == "lora":
            peft_config = peft.LoraConfig(r=settings.r, lora_alpha=settings.alpha, target_modules="all-linear",
                                          task_type=peft.TaskType.CAUSAL_LM)
        self.trainer = _evaluation_tokenised(self.loaded.chat)(
            model=self.loaded.model, reward_funcs=[train_reward], args=config, train_dataset=data,
            processing_class=self.loaded.tokenizer, peft_config=peft_config)
        self.trainer.remove_callback(transformers.PrinterCallback)
        self._bar = trainer_progress.ProgressBar(self.name)
        self.trainer.add_callback(self._bar)

    def _probe(self) -> list[int]:
        """Sample and score the probe from the starting model; the indices to train on."""
        settings = self.settings
        indices = reward_probe.probe_indices(settings.probe_prompts, len(self.prompts), self.seed)
        groups = self._probe_groups(self.loaded, indices)
        kept = reward_probe.contested(indices, groups) if settings.prompts == "contested" else \
            list(range(len(self.prompts)))
        if not kept:
            reward_probe.refuse_uncontested(indices, groups)
        self.probe = ProbedRewards(indices=indices, kept=kept, samples=settings.num_generations,
                                   before=reward_probe.means(groups))
        return kept

    def _probe_after(self) -> ProbedRewards | None:
        """The probe sampled again, with the same seeds, from the trained policy."""
        if not self.settings.probe_prompts:
            return None
        policy = Model(model=self.trainer.model, tokenizer=self.loaded.tokenizer, name=f"{self.name} (training)")
        return dataclasses.replace(self.probe, after=reward_probe.means(self._probe_groups(policy, self.probe.indices)))

    def _probe_groups(self, model: Model, indices: list[int]) -> list[list[float]]:
        """The probed prompts' rewards, sampled from `model` as training samples its groups."""
        settings, reward = self.settings, self.reward
        assert reward is not None
        return reward_probe.group_rewards(model, self.prompts, indices, reward, settings.num_generations,
                                          settings.max_completion_length, settings.temperature, self.seed)

    def _load(self, start: str) -> Model:
        """The starting model in fp32 master weights; an adapter (a chain's upstream) merged into its base."""
        self.merged_start = is_adapter_dir(Path(start))
        loaded = load_model(start, dtype=torch.float32)
        if self.merged_start:
            loaded.model = loaded.model.merge_and_unload()
        loaded.model.train()
        return loaded

    def _check_lengths(self, prompts: list[str], settings: GrpoSettings) -> None:
        """A prompt and its completion fit in `max_length` (GRPO does not truncate prompts)."""
        room = settings.max_length - settings.max_completion_length
        lengths = self.loaded.token_lengths(prompts)
        longest = max(range(len(prompts)), key=lambda i: lengths[i])
        if lengths[longest] > room:
            raise HarnessError(f"training example {longest + 1}'s prompt has {lengths[longest]} tokens; with "
                               f"max_completion_length {settings.max_completion_length} at most {room} fit in "
                               f"max_length {settings.max_length}", "grpo.max_length")

    def train(self) -> TrainStats:
        model = self.trainer.model
        start = time.perf_counter()
        if self.settings.max_steps != 0:
            self.trainer.train()
        seconds = time.perf_counter() - start
        probe = self._probe_after()
        state = self.trainer.state
        logged = [e for e in state.log_history if "step" in e]
        curves = {name: [(int(e["step"]), float(e[key])) for e in logged if key in e] for key, name in CURVES.items()}
        return TrainStats(
            trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
            total_params=sum(p.numel() for p in model.parameters()),
            train_tokens=int(state.num_input_tokens_seen or 0), train_seconds=seconds, steps=int(state.global_step),
            loss_curve=[(int(e["step"]), float(e["loss"])) for e in logged if "loss" in e],
            curves={name: points for name, points in curves.items() if points}, probe=probe,
        )

    def save(self, out_dir: Path) -> TunedModel:
        out_dir = Path(out_dir)
        model = self.trainer.model
        adapter = self.settings.tune == "lora" and not self.merged_start
        if self.settings.tune == "lora" and self.merged_start:
            model = model.merge_and_unload()  # over merged weights no folder holds: the artefact is a full model
        self.saved = model
        if self.trainer.is_world_process_zero():
            model.save_pretrained(out_dir, safe_serialization=True)
            self.loaded.tokenizer.save_pretrained(out_dir)
        self._scratch.cleanup()
        return TunedModel(out_dir, "adapter" if adapter else "full")

    def tuned_in_memory(self):
        model = self.saved.to(compute_dtype())
        model.eval()
        return Model(model=model, tokenizer=self.loaded.tokenizer, name=f"{self.name} (in memory)")


def _evaluation_tokenised(chat: bool) -> type:
    """TRL's GRPOTrainer, tokenising the rendered prompts as evaluation does (`Model.encode`): a chat template
    already wrote its special tokens, so none are added to its text."""
    class GRPOTrainer(trl.GRPOTrainer):
        def _tokenize_prompts(self, prompts: list):
            tokenizer: Any = self.processing_class  # a text tokenizer: encoder-decoders and processors are refused
            ids = tokenizer(text=prompts, add_special_tokens=not chat)["input_ids"]
            return ids, None, {}

    return GRPOTrainer
