"""The run record (`run.json`) and prediction rows: the only things reports and gates read.

Every field is documented here; `SCHEMA_VERSION` changes whenever a field changes meaning.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from .errors import HarnessError
from .files import read_jsonl, write_json, write_jsonl

SCHEMA_VERSION = 2
RUN_FILE = "run.json"
BASE = "base"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class SuiteInfo(_Record):
    name: str
    version: str
    content_hash: str
    """sha256 of suite.yaml and its data files."""
    path: str
    language: str
    n_train: int
    n_test: int
    metrics: list[dict]
    """The suite's metric specs (name and options), in order."""
    gates: list[dict]
    rubric: dict = {}
    """The suite's rubric for human raters (criteria with anchored levels 1–5, show_reference)."""
    role: str = "task"
    """`task` (trained on) or `retention` (never trained on; watched for forgetting)."""
    description: str = ""

    @property
    def passfail_metric(self) -> str | None:
        """The suite's first pass/fail metric: what "pass" and "fail" mean for one example."""
        from .metrics import METRICS

        return next((m["name"] for m in self.metrics if METRICS[m["name"]].passfail), None)


class Cost(_Record):
    wall_seconds: float
    """Setup, training and saving, end to end."""
    train_seconds: float
    """The training loop alone."""
    trainable_params: int
    total_params: int
    peak_memory_mb: float
    """Peak resident memory of the process while tuning (CPU), or peak allocated GPU memory."""
    memory_kind: str
    """`rss` (CPU process resident set) or `cuda` (torch allocator peak)."""
    train_tokens: int
    """Non-padding tokens fed to the model over all steps."""
    tokens_per_second: float
    steps: int
    loss_curve: list[tuple[int, float]]
    """(step, training loss) pairs as logged by the trainer."""


class BackendRun(_Record):
    name: str
    settings: dict
    """The fully resolved settings the backend ran with."""
    artefact: str
    """Tuned model directory, relative to the run directory."""
    kind: str
    """`full` (a model directory) or `adapter` (a PEFT adapter over the base)."""
    cost: Cost


class Result(_Record):
    state: str
    """`base` or a backend name."""
    suite: str
    metric: str
    value: float
    n: int
    """Examples the value is computed over."""
    ci_low: float | None = None
    ci_high: float | None = None
    """95% confidence interval: Wilson for pass/fail metrics, seeded bootstrap over examples for corpus metrics."""
    ci_method: str | None = None


class Comparison(_Record):
    """One state against another on the same test examples (paired)."""

    suite: str
    metric: str
    baseline: str
    """The state compared against (`base`, or another backend)."""
    state: str
    delta: float
    """state − baseline."""
    ci_low: float
    ci_high: float
    """Paired bootstrap 95% interval of the delta (seeded, resampling examples)."""
    test: str
    """`mcnemar-exact` for pass/fail metrics; `approximate-randomization` (sacrebleu PairedTest) for corpus
    metrics; `identical outputs` when both states said the same everywhere (p = 1, no test run)."""
    p_value: float
    p_holm: float
    """Holm-adjusted over every comparison of the run."""
    significant: bool
    """p_holm < alpha."""
    verdict: str
    """`gain`, `loss` or `no detectable change`."""
    mde: float | None = None
    """Minimum detectable effect at this n (80% power, two-sided alpha), in the metric's units; None for corpus metrics."""
    table: dict | None = None
    """Pass/fail metrics: {both_pass, only_baseline, only_state, both_fail} counts."""
    p_values: dict = {}
    """Every p-value computed, by test (`bs` and `ar` for sacrebleu's paired bootstrap and randomization)."""
    signature: str | None = None
    """sacrebleu's signature of the significance test (seed, resamples, tokenizer)."""


class RunRecord(_Record):
    schema_version: int = SCHEMA_VERSION
    run_id: str
    status: str
    """`running` while the run is under way, `complete` when every state was evaluated."""
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
    seed: int
    suites: list[SuiteInfo]
    backends: list[BackendRun] = []
    requested_backends: list[str]
    overrides: dict = {}
    """User setting overrides by backend, as given (before resolution)."""
    environment: dict
    """Python and package versions, git commit, platform, device, code hash."""
    config_key: str
    """Hash of everything that determines the results: reused runs must match it."""
    metric_signatures: dict[str, str] = {}
    """sacrebleu signatures by `suite/metric`, for reproducing BLEU and chrF."""
    results: list[Result] = []
    alpha: float = 0.05
    """Significance level for `Comparison.significant` and the significance gates."""
    comparisons: list[Comparison] = []
    checks: dict = {}
    """Validity checks: `model_changed`, `reload_equivalence`, `batch_invariance` (by state),
    `contamination` (by suite), each with its counts and an `ok` flag."""
    retention: dict = {}
    """Per backend and retention suite: mean token loss on the references before and after tuning."""

    def value(self, state: str, suite: str, metric: str) -> float | None:
        return next((r.value for r in self.results if (r.state, r.suite, r.metric) == (state, suite, metric)), None)

    @property
    def states(self) -> list[str]:
        return [BASE] + [b.name for b in self.backends]


def save_record(run_dir: Path, record: RunRecord) -> None:
    write_json(Path(run_dir) / RUN_FILE, record.model_dump(mode="json"))


def load_record(run_dir: str | Path) -> RunRecord:
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        raise HarnessError(f"no {RUN_FILE}: not a run directory", str(run_dir))
    record = RunRecord.model_validate_json(path.read_text(encoding="utf-8"))
    if record.schema_version != SCHEMA_VERSION:
        raise HarnessError(f"schema version {record.schema_version}; this harness reads {SCHEMA_VERSION}", str(path))
    return record


def predictions_path(run_dir: Path, state: str, suite: str) -> Path:
    return Path(run_dir) / "predictions" / state / f"{suite}.jsonl"


def save_predictions(run_dir: Path, state: str, suite: str, rows: list[dict]) -> None:
    write_jsonl(predictions_path(run_dir, state, suite), rows)


def load_predictions(run_dir: Path, state: str, suite: str) -> list[dict]:
    """Rows: id, state, suite, prompt, reference, output, scores {metric: value}, reasons {metric: why}."""
    path = predictions_path(run_dir, state, suite)
    return read_jsonl(path) if path.is_file() else []
