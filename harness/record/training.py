"""What tuning produced and cost: each tuned state's backend run, its cost and where it came from (trained
here, or restored from the tuning cache), the environment the run ran in, what the run took from the caches,
and strategies compared across training seeds.

The seed records are written when a run trains every strategy with several seeds (`--train-seeds`). A single
training is one draw from what a strategy can give; they say how much that draw varies and whether one
strategy beats another by more than that.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from .outcome import ArtefactKind, MemoryKind, Verdict
from .spec import Record


class CacheUse(Record):
    """One state's use of the generation cache: how many model outputs (reference losses, explanations)
    were read from it and how many were computed in this run."""

    outputs_from_cache: int = 0
    """Outputs read from the cache (test examples under every prompt variant, and the batch-invariance
    check's sample)."""
    outputs_generated: int = 0
    """Outputs generated in this run (and stored in the cache)."""
    losses_from_cache: int = 0
    """Retention-suite reference losses read from the cache."""
    losses_computed: int = 0
    """Retention-suite reference losses computed in this run."""
    explanations_from_cache: int = 0
    """Explained examples (token probabilities, next tokens, attention) read from the cache."""
    explanations_computed: int = 0
    """Explained examples computed in this run."""


class TunedFromCache(Record):
    """A tuned state whose artefact was restored from the tuning cache instead of trained: its
    `cost` is the original training's."""

    key: str
    """The tuning key: sha256 of the base model's fingerprint, the rendered training examples, the
    resolved settings, seed, backend code and package versions."""
    trained: str
    """When the artefact was originally trained (ISO-8601 UTC)."""
    trained_in: str
    """The run (or `harness tune` output folder) that trained it."""
    restore_seconds: float
    """What restoring it cost this run."""


class RewardProbe(Record):
    """A reward-trained state's train reward on one suite, measured on a fixed probe: a seeded sample of its train
    prompts, each sampled `samples` times from the starting model and again, with the same seeds, from the trained
    one. Unlike the per-batch curve it does not depend on which prompts a step drew."""

    prompts: int
    """Probed train prompts of this suite."""
    kept: int
    """Of those, the prompts trained on (`grpo.prompts: contested`: those whose sampled rewards differed)."""
    samples: int
    """Completions sampled per prompt."""
    before: float
    """Mean reward over every probed prompt's samples from the starting model."""
    after: float | None = None
    """The same from the trained model (None: not measured)."""
    kept_before: float | None = None
    """Mean reward of the kept prompts' samples from the starting model (None: none kept)."""
    kept_after: float | None = None
    """The same from the trained model (None: none kept, or not measured)."""


class Cost(Record):
    """What tuning one backend cost. A training resumed from a checkpoint after an interruption costs what its
    attempts spent up to the checkpoint each next one resumed from, plus the last attempt's whole time: the work
    an interruption threw away (at most `checkpoint_every` steps each) is not counted, so the cost is that of
    one uninterrupted training, and peak memory is the last attempt's."""

    wall_seconds: float
    """Setup, training and saving, end to end (summed over the attempts of a resumed training)."""
    train_seconds: float
    """The training loop alone (summed over the attempts of a resumed training)."""
    trainable_params: int
    """Parameters the optimizer updated."""
    total_params: int
    """Parameters of the tuned model."""
    peak_memory_mb: float
    """Peak resident memory of the process while tuning (CPU), or peak allocated GPU memory; with several
    processes, the main process's."""
    memory_kind: MemoryKind
    """`rss` (CPU process resident set) or `cuda` (torch allocator peak)."""
    train_tokens: int
    """Non-padding tokens fed to the model over all steps (all processes together)."""
    tokens_per_second: float
    """train_tokens / train_seconds: the throughput of all processes together."""
    steps: int
    """Optimizer steps taken."""
    loss_curve: list[tuple[int, float]]
    """(step, training loss) pairs as logged by the trainer."""
    resumed_from_step: int | None = None
    """The optimizer step of the checkpoint the training resumed from after an interruption (the last one, when
    it was interrupted more than once); None: trained in one go."""
    attempts: int = 1
    """Training processes whose work the result kept: 1, plus one per interruption resumed from a checkpoint."""
    curves: dict[str, list[tuple[int, float]]] = {}
    """Further per-step series besides the loss, by name. A reward-trained backend (`grpo`) logs `reward` (mean
    train reward of the step's completions), `kl` (to the starting model) and `completion_length` (mean tokens) per
    logged step; `reward/<suite>` is the mean reward of each scored batch's examples of that suite, by batch
    (one batch per optimizer step), as the harness's reward computed it."""
    probes: dict[str, RewardProbe] = {}
    """A reward-trained backend's probe of its train reward before and after training, by suite (empty: none)."""


class StartedFrom(Record):
    """The upstream training a chain's state (`lora+grpo`) started from."""

    backend: str
    """The upstream backend (`lora`)."""
    settings: dict[str, Any]
    """Its fully resolved settings; it trained with the state's own seed."""
    artefact: str
    """Its tuned model directory, relative to the run directory."""
    kind: ArtefactKind
    cost: Cost
    """What its training cost (for an artefact from the tuning cache, what its original training cost); not in
    the state's own cost."""
    from_cache: TunedFromCache | None = None
    """Set when it was restored from the tuning cache (e.g. trained as the run's own state of that backend)."""


class PreferencePairs(Record):
    """The preference pairs a preference backend (`dpo`) learned from: how many each source gave, how many were
    refused, and how the metric-verified ones were sampled. Every pair is in `file`, with its source."""

    file: str
    """The pairs, one JSON object a line (messages, chosen, rejected, source, suite, example_id), relative to
    the run directory."""
    content_hash: str
    """sha256 of the pairs as the backend received them (part of the tuning key)."""
    by_source: dict[str, int]
    """Pairs trained on, per source: `sheets` (A/B choices of `sheets_run`) and `metric` (metric-verified)."""
    refused_test_id: int = 0
    """Candidates (rated pairs; train prompts, before sampling, for metric pairs) refused because their example is
    in a test split of this run (same suite and id)."""
    refused_test_prompt: int = 0
    """Candidates refused because their prompt text (the last turn, whitespace collapsed) equals a test prompt of
    this run (any suite)."""
    sheets_run: str | None = None
    """The run whose imported A/B choices gave the `sheets` pairs (`--pairs-from`)."""
    sheets_undecided: int = 0
    """Rated examples whose raters, together, preferred neither output (ties, both bad, as many wins as losses)."""
    metric: str | None = None
    """The metric that verified the `metric` pairs: each task suite's primary metric, `suite:metric`, comma-joined."""
    chosen_from_reference: int = 0
    """Metric pairs whose preferred side is the train reference (no sampled output passed; it did)."""
    prompts_sampled: int = 0
    """Train prompts outputs were sampled for."""
    prompts_without_pair: int = 0
    """Of those, prompts whose samples (and reference) gave no passing and failing output to pair."""
    sampling: dict[str, Any] = {}
    """How the metric pairs' outputs were sampled: samples per prompt, temperature, top_p, max_new_tokens, seed."""
    seconds: float = 0.0
    """Time spent building the pairs (sampling and scoring included)."""


class BackendRun(Record):
    """One tuned state: its backend, settings, training seed, artefact and cost."""

    name: str
    """The state's name: the backend's (`lora`), with swept settings (`lora[r=8,learning_rate=3e-4]`) and
    with the training seed when the run trained several (`lora[r=8]@seed1`)."""
    backend: str
    """The backend that tuned it (when absent, as in records of one training per backend: `name`)."""
    strategy: str
    """The name without the training seed: the states of one strategy differ only in their training's
    randomness, and seed-aware comparisons pool them (when absent: `name`)."""
    sweep: dict[str, Any] = {}
    """The swept settings of this state, as resolved (empty without `--sweep`)."""
    train_seed: int | None = None
    """The seed of its training (initialisation and data order); None: the run's `seed`."""
    settings: dict[str, Any]
    """The fully resolved settings the backend ran with."""
    artefact: str
    """Tuned model directory, relative to the run directory."""
    kind: ArtefactKind
    """`full` (a model directory) or `adapter` (a PEFT adapter over the base)."""
    cost: Cost
    """What tuning cost (for an artefact from the tuning cache, what its original training cost)."""
    from_cache: TunedFromCache | None = None
    """Set when the artefact was restored from the tuning cache rather than trained in this run."""
    pairs: PreferencePairs | None = None
    """The preference pairs it learned from (preference backends such as `dpo`; None for the others)."""
    starts_from: StartedFrom | None = None
    """A chain's state (`lora+grpo`): the upstream training whose artefact it started from; None: the base."""

    @model_validator(mode="before")
    @classmethod
    def _named_by_backend(cls, data: Any) -> Any:
        """A state given only its name is its backend's one training (a strategy of its own)."""
        if isinstance(data, dict) and "name" in data:
            data = {"backend": data["name"], "strategy": data["name"], **data}
        return data


class Environment(Record):
    """Where the run ran: enough to reproduce it or to explain a difference."""

    python: str
    """Python version."""
    platform: str
    """Operating system and machine."""
    device: str
    """`cpu` or `cuda`."""
    packages: dict[str, str | None] = Field(default_factory=dict)
    """Versions of the packages that decide results (None: not installed)."""
    git_commit: str | None = None
    """The harness checkout's commit, when it is one."""
    code_hash: str
    """Hash of the harness and backend sources."""
    world_size: int = 1
    """Processes that shared the run (`accelerate launch`, `torchrun` or `--processes`): each generated a share of
    every suite, and tuning was data-parallel across them; 1 for a plain run, and for a `--processes` run whose
    every output and tuned model came from the caches (it ran alone)."""
    results_from: int | None = None
    """A run that ran alone from the caches: the processes whose outputs and tuned models it read, i.e. the run
    its results are those of (None: it computed its own)."""
    threads: int | None = None
    """CPU threads each process's torch used (`--threads`, `OMP_NUM_THREADS`, or one fewer than the cores);
    None in runs that did not record it."""


SeedTest = Literal["seed-paired t", "identical outputs"]


class SeedSpread(Record):
    """One strategy's value of one metric on one suite, across its training seeds."""

    strategy: str
    """The strategy (a state name without `@seedN`)."""
    suite: str
    """The suite."""
    metric: str
    """The metric."""
    seeds: list[int]
    """The training seeds, in order."""
    values: list[float]
    """The metric's value for each seed's state, in seed order."""
    mean: float
    """Mean over seeds."""
    sd: float
    """Sample standard deviation over seeds (n − 1 in the denominator): the seed-to-seed variation."""
    low: float
    """Lowest value over seeds."""
    high: float
    """Highest value over seeds."""


class SeedComparison(Record):
    """Two strategies (or a strategy and `base`) compared across training seeds, paired by seed and example.

    Per seed s, d_s is the metric's difference on the same test examples between the two strategies
    trained with seed s (same data order). The standard error adds the seed-to-seed variance of d_s
    (s²_d / S) to the example-sampling variance of the seed-averaged difference; the t statistic uses
    Welch–Satterthwaite degrees of freedom, close to S − 1 when seed noise dominates
    (`harness.stats.methods.seed_paired_t`)."""

    suite: str
    """The suite."""
    metric: str
    """The metric."""
    baseline: str
    """The strategy compared against (`base`: the untuned model, the same for every seed)."""
    strategy: str
    """The strategy compared."""
    seeds: list[int]
    """Training seeds paired."""
    n: int
    """Test examples both sides scored."""
    deltas: list[float]
    """d_s = strategy − baseline for each seed, in seed order."""
    delta: float
    """Mean of d_s."""
    seed_sd: float
    """Standard deviation of d_s over seeds."""
    se_seeds: float
    """Seed component of the standard error: s_d / √S."""
    se_examples: float
    """Example component: the standard error of the seed-averaged difference over examples (per-example
    differences for pass/fail and mean metrics; a paired bootstrap over examples for corpus metrics)."""
    se: float
    """√(se_seeds² + se_examples²)."""
    df: float
    """Welch–Satterthwaite degrees of freedom."""
    t: float
    """delta / se."""
    ci_low: float
    """Lower end of the 95% interval of delta (t quantile at df)."""
    ci_high: float
    """Upper end of the 95% interval of delta."""
    test: SeedTest
    """`seed-paired t`, or `identical outputs` when both sides generated the same text everywhere (p = 1)."""
    p_value: float
    """Two-sided p of the t test, before adjustment."""
    p_holm: float
    """Holm-adjusted over the run's seed-aware comparisons."""
    significant: bool
    """p_holm < alpha."""
    verdict: Verdict
    """`gain` or `loss` (in the metric's better direction) when significant, else `no detectable change`."""


class RewardCheck(Record):
    """Reward hacking made visible: a reward-trained state's train reward on one suite, first against last, beside
    its held-out primary metric against the state it started from."""

    state: str
    suite: str
    batches: int
    """Reward batches that held this suite's train examples (one per optimizer step)."""
    reward_first: float
    """Mean reward of the first quarter of those batches (at least one)."""
    reward_last: float
    """Mean reward of the last quarter of those batches (at least one)."""
    metric: str
    """The suite's primary metric, on its test split."""
    reference: str
    """The state the held-out metric is compared with: a chain's upstream trained with the same seed when the
    run has it (`lora@seed1` for `lora+grpo@seed1`), else base."""
    reference_value: float
    value: float
    """The state's value of `metric`."""
    flagged: bool
    """The train reward rose (on the probe when measured, else from the first quarter of batches to the last)
    while the held-out primary metric fell below the reference's: what the reward taught did not carry over to
    held-out examples (point estimates: see `fall_significant`)."""
    fall_significant: bool | None = None
    """Whether the run's paired comparison of the state against the reference found the held-out change
    significant (None: the run recorded no such comparison)."""
    probe: RewardProbe | None = None
    """The train reward on the backend's fixed probe of this suite's prompts, before and after training (None:
    no probe). When measured, the reward `rose` for `flagged` by it rather than by the batch curve."""
