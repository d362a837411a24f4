"""The backend contract: setup, train, save — plus the records that cross the border.

A backend gets a base model reference (a directory or hub id), the training examples in one
canonical shape, its typed settings and a seed. It returns a tuned-model directory that plain
transformers (full weights) or plain `peft.PeftModel.from_pretrained` (adapters) can load, and
what the training cost. Wall time and peak memory are measured around it by the harness, so a
backend cannot get them wrong.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

LOSS_LOGGED_EVERY = 5
"""Optimizer steps between two logged training losses (and the first step)."""


class RewardFn(Protocol):
    """(indices into the training examples, one completion each) → one reward each: the suites' own metrics on the
    train split, weighted as each suite's `rewards:` says. It knows the training examples only. Each call is one
    batch of the train reward curves; `record=False` scores without adding to them (a backend's own probes)."""

    def __call__(self, indices: list[int], completions: list[str], *, record: bool = True) -> list[float]: ...


@dataclass(frozen=True)
class TrainExample:
    messages: list[dict]
    """The prompt as chat messages; the model's own chat template renders them."""
    completion: str
    """The target output."""
    tools: list[dict] | None = None
    """Function schemas offered to the model, for its chat template (None: none)."""
    every_turn: bool = False
    """Train on the assistant turns inside `messages` too, not only on `completion`: an episode's transcript as
    one sequence with the loss on every assistant turn."""

    def single_turns(self) -> list[TrainExample]:
        """This example as one example per assistant turn it trains on, each with everything before that turn as
        its prompt: the same loss, for trainers that take one completion per sequence."""
        if not self.every_turn:
            return [self]
        turns = [*self.messages, {"role": "assistant", "content": self.completion}]
        return [TrainExample(turns[:i], m["content"], self.tools) for i, m in enumerate(turns)
                if m["role"] == "assistant"]


class TuneSettings(BaseModel):
    """Settings every backend shares. Subclasses change defaults and add their own, and declare each new one in
    `harness.cache.keys.TUNING_SETTINGS` as deciding what training produces or not (a test fails until they do)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    learning_rate: float = Field(gt=0)
    """Peak learning rate."""
    epochs: float = Field(3.0, gt=0)
    """Passes over the training data (ignored when max_steps is set)."""
    max_steps: int | None = Field(None, ge=0)
    """Stop after this many optimizer steps; 0 trains nothing (a control run)."""
    batch_size: int = Field(16, gt=0)
    """Examples per optimizer step."""
    warmup_steps: int = Field(10, ge=0)
    """Linear warm-up steps before the schedule decays."""
    lr_scheduler: Literal["linear", "cosine", "constant"] = "cosine"
    weight_decay: float = Field(0.0, ge=0)
    max_length: int = Field(512, gt=0)
    """Longest tokenised prompt + completion; longer examples are truncated."""
    checkpoint_every: int | None = Field(500, gt=0, multiple_of=LOSS_LOGGED_EVERY)
    """Optimizer steps between the checkpoints a killed run resumes from (`harness run --resume`); null: none.
    A multiple of 5, the loss-logging interval, so that a resumed loss curve equals an uninterrupted one. 500
    bounds what a kill loses to minutes on a GPU (lower it for a real model on a CPU) and costs tiny's demo
    (about 1,000 steps) two writes."""


@dataclass(frozen=True)
class PreferencePair:
    """One preferred and one dispreferred output for the same prompt (preference backends such as `dpo`)."""

    messages: list[dict]
    """The prompt as chat messages, rendered by the model's chat template as at evaluation."""
    chosen: str
    """The preferred output."""
    rejected: str
    """The dispreferred output."""
    source: Literal["sheets", "metric"]
    """`sheets`: a rater's A/B choice in an earlier run; `metric`: sampled outputs scored by the suite's metric."""
    suite: str
    """The suite the prompt comes from."""
    example_id: str
    """The example's id in that suite."""
    tools: list[dict] | None = None
    """Function schemas offered to the model, for its chat template (None: none)."""


class PreferenceSettings(TuneSettings):
    """Settings of a backend that learns from preference pairs: which sources the harness builds them from, and
    how it samples the metric-verified ones."""

    pairs: Literal["metric", "sheets", "both"] = "metric"
    """Where pairs come from: `metric` (sampled outputs on train prompts, scored by the suite's primary metric),
    `sheets` (A/B choices of an earlier run, `--pairs-from RUN_DIR`) or `both`."""
    samples_per_prompt: int = Field(4, ge=2, le=64)
    """Outputs sampled per train prompt from the starting model for metric-verified pairs."""
    max_prompts: int = Field(64, gt=0)
    """Train prompts sampled from (a seeded sample of the task suites' train splits)."""
    sample_temperature: float = Field(1.0, gt=0)
    """Sampling temperature of those outputs."""
    sample_top_p: float = Field(1.0, gt=0, le=1)
    """Nucleus sampling threshold of those outputs."""
    reference_as_chosen: bool = True
    """When no sampled output passes, the train reference, scored by the same metric and passing, is the preferred
    side (recorded per pair); off: such prompts give no pair."""


@dataclass
class TrainStats:
    """What the backend itself knows about its training run."""

    trainable_params: int
    total_params: int
    train_tokens: int
    """Tokens fed to the model over all epochs (padding excluded)."""
    train_seconds: float
    """Time inside the training loop alone (tokens/s divides by this)."""
    steps: int
    loss_curve: list[tuple[int, float]] = field(default_factory=list)
    """(optimizer step, training loss) pairs as logged."""
    resumed_from_step: int | None = None
    """The checkpoint's step this training resumed from after an interruption (None: trained in one go)."""
    attempts: int = 1
    """Training processes whose work the result kept: 1, plus one per interruption resumed from a checkpoint."""
    earlier_wall_seconds: float = 0.0
    """Wall time the earlier attempts spent up to the checkpoint resumed from (already in `train_seconds` for
    their training loop); the harness adds it to the wall time it measures around this attempt."""
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    """Further per-step series a backend logs besides the loss (e.g. `reward`, `kl`, `completion_length`)."""
    probe: ProbedRewards | None = None
    """A reward-trained backend's probe of its train reward before and after training (None: none)."""


@dataclass(frozen=True)
class ProbedRewards:
    """A reward-trained backend's fixed probe: a seeded sample of train prompts, each sampled `samples` times and
    scored by the train reward from the starting model and again, with the same seeds, from the trained one."""

    indices: list[int]
    """The probed training examples (indices into the examples the backend got)."""
    kept: list[int]
    """Those it trained on (all of them, or only the contested ones, whose sampled rewards differed)."""
    samples: int
    """Completions sampled per probed prompt."""
    before: list[float]
    """Each probed prompt's mean reward over its samples from the starting model."""
    after: list[float] | None = None
    """The same from the trained model, with the same seeds (None: not measured)."""


@dataclass(frozen=True)
class TunedModel:
    path: Path
    kind: Literal["full", "adapter"]
    """`full`: a model directory; `adapter`: a PEFT adapter over the base model."""


class Backend(ABC):
    """A tuning strategy. The harness calls setup, train, save once each, in that order."""

    name: ClassVar[str]
    settings_class: ClassVar[type[TuneSettings]] = TuneSettings
    checkpoint_dir: Path | None = None
    """Where `train` keeps the checkpoints an interrupted training resumes from, and resumes from the last
    valid one it finds there (set by the harness before `setup`; None: no checkpoints). A backend that cannot
    checkpoint ignores it."""
    uses_pairs: ClassVar[bool] = False
    """True for a backend that learns from preference pairs: the harness then builds them (its settings are a
    `PreferenceSettings`) and sets `pairs` before `setup`."""
    pairs: list[PreferencePair] | None = None
    """The preference pairs to learn from (set by the harness for a backend that `uses_pairs`)."""
    wants_reward: ClassVar[bool] = False
    """Whether it trains on a reward rather than on the references: the harness then sets `reward` before `setup`."""
    reward: RewardFn | None = None
    """The reward of a backend that `wants_reward`, set by the harness before `setup`."""
    checkpoint_identity: str | None = None
    """What identifies this training (backend, base model, examples, the settings that decide the result, seed,
    processes), set by the harness with `checkpoint_dir`: a backend marks its checkpoints with it and resumes
    only from one that bears it."""

    @abstractmethod
    def setup(self, base_model: str, examples: list[TrainExample], settings: TuneSettings, seed: int) -> None:
        """Load the base model and prepare the data; nothing is trained yet."""

    @abstractmethod
    def train(self) -> TrainStats:
        """Train and say what it took."""

    @abstractmethod
    def save(self, out_dir: Path) -> TunedModel:
        """Write the tuned artefact to `out_dir`."""

    @classmethod
    def unavailable(cls) -> str | None:
        """Why this backend cannot run on this machine, in one line (None: it can). The harness asks
        before it makes a run directory, so a backend that needs a GPU refuses cleanly on a CPU."""
        return None

    def tuned_in_memory(self):
        """After `save`: the tuned model as trained, as a `harness.models.Model`, so the harness can
        check that the saved artefact reproduces it. None when a backend cannot offer it."""
        return None
