"""What a run was asked to measure: metric descriptions, gates, rubrics and suite summaries.

These records are written into `run.json` and read back by reports, gates and rating sheets,
which therefore never need the code that defined a metric or a suite.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MetricKind = Literal["passfail", "mean", "corpus"]
"""How a metric's per-example scores become a value, and so which interval and paired test apply:
`passfail` (0/1 per example: Wilson interval, exact McNemar), `mean` (a per-example score in a known
range: bootstrap interval, paired permutation test), `corpus` (sentence statistics aggregated over the
corpus, BLEU and chrF: bootstrap interval, approximate randomization)."""
Role = Literal["task", "retention"]
GateKind = Literal["min", "min_delta", "max_drop", "equivalent_within", "significant_gain",
                   "no_significant_regression", "max_overlap", "max_truncated"]
DecideOn = Literal["point", "lower_bound"]
"""What a `min_delta` gate compares with its threshold: the point Δ, or the one-sided lower bound of Δ."""
DATA_GATES: tuple[GateKind, ...] = ("max_overlap", "max_truncated")
"""Gate kinds on the data itself: they name no metric."""


class Record(BaseModel):
    """Base of every record: unknown fields are errors, each field documented by its docstring."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class MetricInfo(Record):
    """A metric as a reader needs it: what it means, without its code."""

    name: str
    """The name the suite's results use for it."""
    kind: MetricKind
    """Decides the value's interval and the paired test (see `MetricKind`)."""
    scale: float = 1.0
    """The value of a perfect score: 1 for fractions, 100 for BLEU and chrF, 5 for a 1–5 rating."""
    lowest: float = 0.0
    """The value of the worst score (1 for a 1–5 rating)."""
    higher_is_better: bool = True
    """False for error rates and losses: a gain is then a decrease."""
    digits: int = 3
    """Decimals a value is shown with."""
    options: dict[str, Any] = {}
    """The options the suite gave it (e.g. `parse: json`, `tokenize: zh`)."""
    when: dict[str, Any] | None = None
    """Only examples whose fields equal these values are scored (None: every example)."""
    signature: str | None = None
    """How to reproduce the scores exactly (sacrebleu's signature, a tokenizer, a module's hash)."""
    source: str = "builtin"
    """Where the metric comes from: `builtin`, a plugin's `module:attr`, or `evaluate:NAME_OR_PATH`."""
    description: str = ""
    """What the metric measures, in a line."""


def _set(value) -> bool:
    """A threshold is set when given; `false` switches a boolean gate off (0 is a threshold)."""
    return value is not None and value is not False


_GATE_KINDS: tuple[GateKind, ...] = ("min", "min_delta", "max_drop", "equivalent_within", "significant_gain",
                                     "no_significant_regression", "max_overlap", "max_truncated")
MARGIN_GATES: tuple[GateKind, ...] = ("min_delta", "max_drop", "equivalent_within")
"""Gate kinds that name an effect size: each records whether the run had the power to decide it."""


class GateSpec(Record):
    """One threshold. Exactly one of min, min_delta, max_drop, equivalent_within, significant_gain,
    no_significant_regression, max_overlap or max_truncated is set; all but the two data gates name a metric."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    metric: str | None = None
    """The metric this gate reads."""
    min: float | None = Field(None, allow_inf_nan=False)
    """Passes when the tuned state's value is at least this."""
    min_delta: float | None = Field(None, allow_inf_nan=False)
    """Passes when the tuned state's value minus base's is at least this (see `decide_on`)."""
    decide_on: DecideOn | None = None
    """`min_delta` only: `lower_bound` passes when the one-sided (1 − alpha) lower bound of the paired Δ
    reaches the threshold, and reports an undecided gate the run had no power for as underpowered;
    `point` compares Δ itself. Omitted: `point`, as suites written before the key meant, with a warning
    when the run could not have resolved the threshold (`harness suites new` writes `lower_bound`)."""
    max_drop: float | None = Field(None, ge=0, allow_inf_nan=False)
    """Non-inferiority: passes when the one-sided (1 − alpha) lower bound of tuned − base, in the metric's
    better direction, is at least −max_drop (the tuned state is shown to lose less than this)."""
    equivalent_within: float | None = Field(None, gt=0, allow_inf_nan=False)
    """Equivalence (TOST): passes when both one-sided (1 − alpha) bounds of tuned − base lie within
    ±equivalent_within."""
    significant_gain: bool | None = None
    """Passes when the tuned state beats base with a Holm-adjusted p below the run's alpha."""
    no_significant_regression: bool | None = None
    """Fails when the tuned state is significantly worse than base (or than the same state of a
    baseline run, with pytest's --harness-baseline)."""
    max_overlap: float | None = Field(None, ge=0, le=1)
    """Fails when more than this fraction of test prompts also occur in train (verbatim or near)."""
    max_truncated: float | None = Field(None, ge=0, le=1)
    """Fails when the backend's `max_length` truncates more than this fraction of training examples."""
    states: list[str] | None = None
    """Tuned states this gate applies to; all of them when omitted (`max_truncated`: the backends whose
    `max_length` it checks)."""
    when_uncalibrated: Literal["fail", "skip"] = "fail"
    """A gate on a judge metric whose judge is not calibrated against the suite's raters is not decided:
    `fail` (default) fails it, `skip` skips it (`pytest suites/` reports it skipped); it never passes."""

    @model_validator(mode="after")
    def _one_threshold(self):
        kinds = [k for k in _GATE_KINDS if _set(getattr(self, k))]
        if len(kinds) != 1:
            raise ValueError("a gate needs exactly one of `min`, `min_delta`, `max_drop`, `equivalent_within`, "
                             "`significant_gain: true`, `no_significant_regression: true`, `max_overlap` or "
                             "`max_truncated`")
        if (self.metric is None) != (self.kind in DATA_GATES):
            raise ValueError("`max_overlap` and `max_truncated` gates take no metric; every other gate needs one")
        if self.decide_on is not None and self.kind != "min_delta":
            raise ValueError("`decide_on` applies to `min_delta` gates only")
        return self

    @property
    def kind(self) -> GateKind:
        """Which of the eight gate kinds this is."""
        return next(k for k in _GATE_KINDS if _set(getattr(self, k)))

    @property
    def threshold(self) -> float | None:
        """The number the gate compares with (None for the significance gates)."""
        value = getattr(self, self.kind)
        return None if isinstance(value, bool) else value

    @property
    def label(self) -> str:
        """A short id such as `exact_match>=0.7`, used in pytest item ids and reports."""
        return {
            "min": lambda: f"{self.metric}>={self.min:g}",
            "min_delta": lambda: f"{self.metric}>=base{self.min_delta:+g}",
            "max_drop": lambda: f"{self.metric}:max_drop={self.max_drop:g}",
            "equivalent_within": lambda: f"{self.metric}:equivalent_within={self.equivalent_within:g}",
            "significant_gain": lambda: f"{self.metric}:significant_gain",
            "no_significant_regression": lambda: f"{self.metric}:no_significant_regression",
            "max_overlap": lambda: f"overlap<={self.max_overlap:g}",
            "max_truncated": lambda: f"truncated<={self.max_truncated:g}",
        }[self.kind]()


class Criterion(Record):
    """One thing human raters score from 1 to 5."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    """Short id, used as a column in rating sheets."""
    description: str
    """What the rater judges, in one sentence."""
    levels: dict[int, str]
    """Score → anchored description, for every score from 1 to 5."""

    @field_validator("levels")
    @classmethod
    def _one_to_five(cls, v):
        if sorted(v) != [1, 2, 3, 4, 5]:
            raise ValueError("levels must describe each score 1, 2, 3, 4 and 5")
        return v


class Rubric(Record):
    """What human raters see and score (rating sheets)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    criteria: list[Criterion] = Field(min_length=1)
    """What raters score, each from 1 to 5."""
    show_reference: bool = True
    """Whether raters see the reference output beside the model's."""


DEFAULT_RUBRIC = Rubric(criteria=[
    Criterion(name="helpfulness", description="Does the output do what the request asked?", levels={
        1: "Ignores or misreads the request.", 2: "Addresses the request but is mostly unusable.",
        3: "Partly does what was asked; a user would need to fix it.", 4: "Does what was asked with a minor flaw.",
        5: "Does exactly what was asked."}),
    Criterion(name="correctness", description="Is the content accurate (facts, values, arguments)?", levels={
        1: "Wrong throughout.", 2: "More wrong than right.", 3: "Some errors that matter.",
        4: "One small error that barely matters.", 5: "Entirely correct."}),
    Criterion(name="fluency", description="Is it well-formed and natural in its language or format?", levels={
        1: "Unreadable or malformed.", 2: "Hard to read; many errors.", 3: "Understandable with noticeable errors.",
        4: "Natural with a slip or two.", 5: "Fully natural and well-formed."}),
])


class CalibrationRule(Record):
    """What a judge must show against a suite's human raters before its metric may decide a gate."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    min_items: int = Field(30, ge=2, le=1_000_000)
    """Items (example × state) scored by the judge and rated by a human, on every criterion."""


class SuiteCode(Record):
    """Code a suite brings (an `evaluate:` module), which runs only when the user trusts it."""

    suite: str
    """The suite that names it."""
    kind: Literal["evaluate module"] = "evaluate module"
    """What it is."""
    name: str
    """As the suite names it: a folder inside the suite (`./mymetric`) or a Hub module's name."""
    digest: str
    """What was trusted: `sha256:<hex>` of a local module's files (names and bytes), or `hub:<name>` for a
    Hub module (its code is fetched when it loads)."""
    trusted_by: str = "--trust-suite-code"
    """How the user decided to run it: `--trust-suite-code`, or the approval recorded in the run resumed."""


class SuiteInfo(Record):
    """A suite as the run saw it."""

    name: str
    """The suite's name (unique in a run)."""
    version: str
    """The suite's own version string."""
    content_hash: str
    """sha256 of suite.yaml and its data files."""
    path: str
    """The suite folder the run read."""
    language: str
    """Language of the outputs; picks tokenizers for BLEU, chrF and ROUGE."""
    n_train: int
    """Training examples."""
    n_test: int
    """Test examples."""
    metrics: list[MetricInfo]
    """The suite's metrics, in order; the first is its primary metric."""
    gates: list[GateSpec]
    """The suite's gates as written (retention suites get `no_significant_regression` by default)."""
    rubric: Rubric = DEFAULT_RUBRIC
    """The suite's rubric for human raters."""
    role: Role = "task"
    """`task` (trained on) or `retention` (never trained on; watched for forgetting)."""
    description: str = ""
    """What the suite measures, in a sentence or two."""
    limit: int | None = None
    """When set, the test examples were a seeded sample of this many (`--limit`)."""
    sources: dict[str, dict[str, Any]] = {}
    """Split → where its data came from: the file and its sha256, or the dataset with its resolved revision; an
    episode suite's `environment` file too, with its sha256."""
    prompt_variants: int = 1
    """Prompt variants evaluated (`templates:`); the first gives the main results."""
    fewshot: int = 0
    """Train examples shown to the base model before each test prompt (0: zero-shot)."""
    judge_calibration: CalibrationRule = CalibrationRule()
    """What a judge metric's judge must show against the human raters before its gates are decided."""

    @property
    def passfail_metric(self) -> str | None:
        """The suite's first pass/fail metric: what "pass" and "fail" mean for one example."""
        return next((m.name for m in self.metrics if m.kind == "passfail"), None)

    def metric(self, name: str) -> MetricInfo:
        """The suite's metric called `name` (KeyError when it has none)."""
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(f"{self.name} has no metric {name!r}")
