"""The run record `run.json` and its prediction files: reading, writing, and reading older versions."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from harness.common.errors import HarnessError
from harness.common.files import read_jsonl, write_json, write_jsonl

from .data import DataReport
from .explain import ExplanationsInfo
from .judging import JudgeResult
from .migrate import migrate
from .outcome import Checks, Comparison, FailureKinds, GateOutcome, LabelResult, Prediction, Result, VariantResult
from .ratings import Ratings
from .spec import Record, SuiteCode, SuiteInfo
from .training import BackendRun, CacheUse, Environment, RewardCheck, SeedComparison, SeedSpread

SCHEMA_VERSION = 6
"""Changes whenever a field changes meaning; `migrate` reads every earlier version still supported."""
RUN_FILE = "run.json"
BASE = "base"
"""The state name of the untuned model."""

Status = Literal["running", "complete"]


class Sequential(Record):
    """`harness run --sequential`: the test split was evaluated in seeded stages until every margin gate was
    decided (see `harness.stats.sequential`)."""

    rule: str
    """The error-spending rule that set each stage's critical value."""
    stages: list[float]
    """The share of each suite's test split evaluated at each stage (nested seeded samples)."""
    critical: list[float]
    """The one-sided critical z of each stage."""
    stage: int
    """The stage reached (1-based): the run's results are those of its examples."""
    bound_alpha: float
    """The nominal one-sided level of this stage's bounds, 1 − Φ(critical[stage − 1]): comparisons' one-sided
    bounds and the margin gates use it, so that the run's alpha holds over all the looks."""
    stopped_early: bool
    """Every margin gate was decided before the last stage."""


class Advice(Record):
    """A warning or hint about a run, said when it was noticed and shown in the report: what will likely
    make its numbers less useful than they could be (not a validity check: the numbers are right)."""

    kind: Literal["few_steps", "loss_flat", "fewshot"]
    """`few_steps`: a training of fewer optimizer steps than learning usually needs; `loss_flat`: the training
    loss did not fall; `fewshot`: base scored 0 zero-shot where few-shot prompts may show it the format."""
    state: str
    """The state it is about (`base` for few-shot hints)."""
    suite: str | None = None
    """The suite it is about, when one."""
    message: str
    """What was noticed and what to try, in one line."""


class RunRecord(Record):
    """Everything a run was asked, what it cost and what came out; reports and gates read only this
    and the predictions beside it."""

    schema_version: int = SCHEMA_VERSION
    """Version of this shape; `load_record` upgrades older ones."""
    run_id: str
    """The run directory's name: `<UTC time>-<config key prefix>`."""
    status: Status
    """`running` while the run is under way, `complete` when every state was evaluated and analysed."""
    created: str
    """ISO-8601 UTC time the run started."""
    model: str
    """The model as asked for: `tiny`, a directory or a hub id."""
    model_path: str
    """Where it was loaded from (for `tiny`, the built directory)."""
    adapter: str | None = None
    """A PEFT adapter applied on top of the model in every state (evaluation-only runs)."""
    model_note: str = ""
    """What a reader should know about the model (e.g. that `tiny` starts from random weights)."""
    tools_note: str = ""
    """How function schemas reach this model's prompts, when a suite offers tools: through its chat template,
    or written into a system turn because the template ignores `tools` (`data.suites[].tool_rendering` says it
    per suite); empty when no suite offers tools. Tuned states share the base model's template."""
    seed: int
    """Seeds tiny's weights, data order, training and every resampling statistic."""
    suites: list[SuiteInfo]
    """Every suite the run evaluated, as it saw them."""
    backends: list[BackendRun] = []
    """Tuned states, in the order they were tuned."""
    requested_backends: list[str]
    """The backends asked for, in order (tuned ones are in `backends`)."""
    overrides: dict[str, dict[str, Any]] = {}
    """User setting overrides by backend, as given (before resolution)."""
    allow_outside_data: bool = False
    """Whether suites were allowed to read data files outside their folders (`--allow-outside-data`)."""
    allow_unsandboxed_code: bool = False
    """Whether model output was allowed to run without the code sandbox where bubblewrap is missing
    (`--allow-unsandboxed-code`); a code metric's signature says whether it actually ran unsandboxed."""
    trusted_code: list[SuiteCode] = []
    """The suites' own code this run loaded and ran (`evaluate:` modules), each as the user trusted it
    (`--trust-suite-code`, or the approval recorded in the run resumed). Empty: no suite code ran."""
    fewshot: int | None = None
    """`--fewshot` as given: train examples shown to the base model before each test prompt in every suite
    with a train split, overriding the suites' own `fewshot:` (0: zero-shot; None: each suite's own, which
    `suites[].fewshot` records)."""
    sweeps: dict[str, dict[str, list[str]]] = {}
    """`--sweep` as given: backend → setting → values as written. Each combination of a backend's values
    is a state of its own, named `backend[setting=value,…]`."""
    train_seeds: list[int] | None = None
    """`--train-seeds`: every strategy was trained once per seed (states `…@seedN`); None: once, with `seed`."""
    pairs_from: str | None = None
    """`--pairs-from`: the earlier run whose imported A/B choices gave preference backends (`dpo`) their `sheets`
    pairs; None: none."""
    environment: Environment
    """Versions, platform, device, commit and code hash."""
    config_key: str
    """Hash of everything that determines the results: reused runs must match it."""
    results: list[Result] = []
    """Every state's value of every metric on every suite."""
    alpha: float = 0.05
    """Significance level for `Comparison.significant` and the significance gates."""
    sequential: Sequential | None = None
    """Set when the run evaluated its test splits in stages (`--sequential`); None: all at once."""
    comparisons: list[Comparison] = []
    """Each tuned state against base, and each pair of tuned states trained with the same seed, per suite
    and metric (on one seed's outputs: see `seed_comparisons` for strategies across seeds)."""
    by_label: list[LabelResult] = []
    """Each suite's primary metric per label of its test examples, per state (suites with labels only)."""
    failures: list[FailureKinds] = []
    """Each pass/fail and mean metric's failing examples by kind of failure, per state and suite."""
    checks: Checks = Checks()
    """Validity checks; a state that fails one fails every gate."""
    retention: dict[str, dict[str, float]] = {}
    """Retention suite → state → mean token loss on the references (lower is better)."""
    variant_results: list[VariantResult] = []
    """Values under every prompt variant, for suites with `templates:` (prompt sensitivity)."""
    reward_checks: list[RewardCheck] = []
    """Per reward-trained state (`grpo`) and suite: train reward first and last beside the held-out primary metric,
    flagged where the reward rose and the metric fell."""
    gates: list[GateOutcome] = []
    """Every gate's outcome as last decided (by `harness run`, `harness report` or pytest)."""
    data: DataReport | None = None
    """The data-quality report, measured before any training (None for runs of schema 3 and earlier,
    whose train/test overlap is in `checks.contamination`)."""
    explanations: ExplanationsInfo | None = None
    """What `explanations/` holds: token probabilities of flipped examples (None: nothing explained)."""
    cache: dict[str, CacheUse] = {}
    """By state: what its evaluation read from the generation cache and what it computed (empty when
    the run used no cache). Tuned artefacts from the tuning cache say so in `backends[].from_cache`."""
    seed_spreads: list[SeedSpread] = []
    """With several training seeds: each strategy's value of each metric across its seeds."""
    seed_comparisons: list[SeedComparison] = []
    """With several training seeds: each strategy against base and each pair of strategies, across seeds."""
    ratings: Ratings | None = None
    """What the human ratings imported with `harness sheets import` say, recomputed at every import (None:
    no ratings imported, or imported before schema version 6 recorded them: import any sheet again)."""
    judging: dict[str, list[JudgeResult]] = {}
    """Suite → what each of its judge metrics' judge said about every output, what that cost, and its calibration
    against the human ratings (recomputed at every `harness sheets import`; empty: no judge metric)."""

    @property
    def bound_alpha(self) -> float:
        """The one-sided level of the comparisons' bounds: alpha, or a sequential run's stage level."""
        return self.sequential.bound_alpha if self.sequential else self.alpha

    advice: list[Advice] = []
    """Warnings and hints noticed while the run ran (too few training steps, a loss that did not fall, a base
    model that may need few-shot prompts), each once."""

    def advise(self, advice: Advice) -> bool:
        """Add `advice` unless it is already there; whether it was new."""
        if advice in self.advice:
            return False
        self.advice.append(advice)
        return True

    def value(self, state: str, suite: str, metric: str) -> float | None:
        """The recorded value of `metric` on `suite` in `state`, or None when not measured."""
        return next((r.value for r in self.results if (r.state, r.suite, r.metric) == (state, suite, metric)), None)

    @property
    def states(self) -> list[str]:
        """`base`, then every tuned state."""
        return [BASE] + [b.name for b in self.backends]

    @property
    def strategies(self) -> dict[str, list[BackendRun]]:
        """Strategy → its tuned states (one per training seed), in tuning order."""
        out: dict[str, list[BackendRun]] = {}
        for b in self.backends:
            out.setdefault(b.strategy, []).append(b)
        return out

    def suite(self, name: str) -> SuiteInfo:
        """The suite called `name` (KeyError when the run has none)."""
        for s in self.suites:
            if s.name == name:
                return s
        raise KeyError(f"the run has no suite {name!r}")


def save_record(run_dir: str | Path, record: RunRecord) -> None:
    """Write `run.json` atomically."""
    write_json(Path(run_dir) / RUN_FILE, record.model_dump(mode="json"))


def load_record(run_dir: str | Path) -> RunRecord:
    """Read `run.json`, upgrading an earlier schema version in memory; one clear line when it cannot."""
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        raise HarnessError(f"no {RUN_FILE}: not a run directory", str(run_dir))
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HarnessError(f"not a readable run record ({e})", str(path)) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("schema_version"), int):
        raise HarnessError("not a run record (no schema_version)", str(path))
    version = raw["schema_version"]
    if version > SCHEMA_VERSION:
        raise HarnessError(f"schema version {version} is newer than this harness reads ({SCHEMA_VERSION}); "
                           "upgrade the harness", str(path))
    try:
        return RunRecord.model_validate(migrate(raw, SCHEMA_VERSION))
    except (ValueError, ValidationError) as e:
        first = e.errors()[0] if isinstance(e, ValidationError) else None
        what = f"field '{'.'.join(map(str, first['loc']))}': {first['msg']}" if first else str(e)
        raise HarnessError(f"invalid run record: {what}", str(path)) from None


def predictions_path(run_dir: str | Path, state: str, suite: str) -> Path:
    """Where one state's predictions on one suite live."""
    return Path(run_dir) / "predictions" / state / f"{suite}.jsonl"


def save_predictions(run_dir: str | Path, state: str, suite: str, rows: list[Prediction]) -> None:
    """Write one state's predictions on one suite atomically."""
    write_jsonl(predictions_path(run_dir, state, suite), [r.model_dump(mode="json") for r in rows])


def load_predictions(run_dir: str | Path, state: str, suite: str) -> list[Prediction]:
    """One state's predictions on one suite (empty when that state was not evaluated)."""
    path = predictions_path(run_dir, state, suite)
    if not path.is_file():
        return []
    try:
        return [Prediction.model_validate(row) for row in read_jsonl(path)]
    except ValidationError as e:
        first = e.errors()[0]
        raise HarnessError(f"invalid prediction: field '{'.'.join(map(str, first['loc']))}': {first['msg']}",
                           str(path)) from None
