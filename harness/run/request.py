"""What a run is asked to do: the request a command line (or a resumed run's record) makes, before planning."""
from __future__ import annotations

from dataclasses import dataclass, field

from harness.models.loading import TINY
from harness.record import RunRecord

DEFAULT_SUITES = "suites"
DEFAULT_BACKENDS = ("full", "lora")


@dataclass
class RunRequest:
    suites: list[str] = field(default_factory=lambda: [DEFAULT_SUITES])
    model: str = TINY
    backends: list[str] = field(default_factory=lambda: list(DEFAULT_BACKENDS))
    seed: int = 0
    overrides: dict = field(default_factory=dict)
    """User settings by backend (see harness.settings)."""
    batch_size: int | None = None
    """Generation batch size; None: chosen (fixed on CPU, the largest that fits on a GPU)."""
    adapter: str | None = None
    """A PEFT adapter applied to the model for every evaluation (evaluation-only runs)."""
    limit: int | None = None
    """Evaluate a seeded sample of this many test examples per suite (quick runs); None: all."""
    fewshot: int | None = None
    """Train examples shown to the base model before each test prompt, overriding every suite's own
    `fewshot:` (0: zero-shot); None: each suite's own."""
    allow_outside_data: bool = False
    """Let suites read data files outside their folders (recorded in the run)."""
    allow_unsandboxed_code: bool = False
    """Run model code without the sandbox where bubblewrap is missing (recorded in the run)."""
    cache: bool = True
    """Use the generation and tuning caches (`--no-cache`: compute everything)."""
    sweeps: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    """Backend → setting → values to sweep (see harness.strategies)."""
    train_seeds: list[int] | None = None
    """Train every strategy once per seed; None: once, with `seed`."""
    stage: int | None = None
    """`--sequential`: the stage (0-based index into `harness.stats.sequential.STAGES`) whose share of each test
    split this run evaluates; None: not sequential."""
    trust_suite_code: bool = False
    """Run the code suites bring (`evaluate:` modules): `--trust-suite-code`."""
    approved_code: list[str] = field(default_factory=list)
    """Digests of suite code approved before (a resumed run's `trusted_code`): that code, unchanged, runs."""
    pairs_from: str | None = None
    """`--pairs-from`: the run whose imported A/B choices give preference backends (`dpo`) pairs; it makes
    `sheets` their default source."""


def request_from_record(record: RunRecord) -> RunRequest:
    """The request a recorded run was made with (to resume it)."""
    limits = [s.limit for s in record.suites if s.limit is not None]  # suites smaller than --limit were not sampled
    return RunRequest(suites=[s.path for s in record.suites], model=record.model, backends=record.requested_backends,
                      seed=record.seed, overrides=record.overrides, adapter=record.adapter,
                      limit=max(limits) if limits else None, allow_outside_data=record.allow_outside_data,
                      sweeps=record.sweeps, train_seeds=record.train_seeds, fewshot=record.fewshot,
                      allow_unsandboxed_code=record.allow_unsandboxed_code,
                      approved_code=[c.digest for c in record.trusted_code], pairs_from=record.pairs_from)
