"""What `suite.yaml` may say, validated field by field (Pydantic); loading the data is `suite.py`'s job."""
from __future__ import annotations

import json
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from harness.common import limits
from harness.metrics import JudgeSpec, available
from harness.metrics.hf_evaluate import module_name
from harness.record import DEFAULT_RUBRIC, CalibrationRule, GateSpec, Rubric

from .formats import ALPACA_TEMPLATE

NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
"""A suite's name: letters, digits and `_ . -`, not starting with `.` or `-` (it names files)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetSource(_Strict):
    """A split from a Hugging Face dataset (needs the network, or its local cache)."""

    dataset: str
    """The dataset's Hub name, e.g. `org/name`."""
    config: str | None = None
    split: str
    revision: str | None = None
    """A branch, tag or commit; the commit it resolves to is recorded in the run."""


class DataSpec(_Strict):
    format: Literal["prompt-completion", "messages", "alpaca", "sharegpt", "chat", "bfcl"]
    """How each record is shaped (see `harness.formats`)."""
    answers: str | list[str] | None = None
    """`bfcl` only: the possible-answer file(s) (`id`, `ground_truth`), joined to the questions by id."""
    test: str | DatasetSource | None = None
    """Test split: a .jsonl, .json, .csv or .parquet file in the suite folder, or a dataset (or give `file`)."""
    train: str | DatasetSource | None = None
    """Training split, likewise; a suite without one is evaluated, not trained on."""
    file: str | DatasetSource | None = None
    """Instead of `test` and `train`: one file (or dataset) that the harness splits, seeded and recorded."""
    test_fraction: float = Field(0.2, gt=0, lt=1)
    """With `file`: the share of its records held out for testing (within each label when `labels:` is set)."""
    split_seed: int = Field(0, ge=0)
    """With `file`: seeds which records are held out; the split is recorded in the run."""
    same_file_ok: bool = False
    """`train` and `test` may hold the same data (measuring recall of the training data, on purpose); without
    it that is an error, since every test example would have been trained on."""
    columns: dict[str, str] = {}
    """Source column → the format's field, for data whose columns are named otherwise."""

    @field_validator("test", "train", "file", "answers")
    @classmethod
    def _inside_the_suite(cls, v, info: ValidationInfo):
        # A suite brings its own data: a path out of its folder could make it read (and publish, in
        # predictions and reports) any file. Reading elsewhere is an explicit, recorded opt-in.
        allowed = (info.context or {}).get("allow_outside_data", False)
        for path in v if isinstance(v, list) else [v]:
            if isinstance(path, str) and not allowed and (Path(path).is_absolute() or ".." in Path(path).parts):
                raise ValueError(f"must be a path inside the suite folder, not {path!r} (--allow-outside-data "
                                 "reads it anyway, and the run records that)")
        return v

    @model_validator(mode="after")
    def _one_source(self):
        if (self.format == "bfcl") != (self.answers is not None):
            raise ValueError("`answers` (BFCL's possible-answer file) goes with format bfcl, and bfcl needs it")
        if self.file is not None and (self.test is not None or self.train is not None):
            raise ValueError("give `file` (split by the harness) or `test` and `train`, not both")
        if self.file is None and self.test is None:
            raise ValueError("needs `test` (and optionally `train`), or one `file` to split")
        split_keys = self.model_fields_set & {"test_fraction", "split_seed"}
        if self.file is None and split_keys:
            raise ValueError(f"`{sorted(split_keys)[0]}` splits `file`, and this suite gives none")
        return self

    @property
    def has_train(self) -> bool:
        """Whether the suite has a train split (its own, or the one split off `file`)."""
        return self.train is not None or self.file is not None


class GenerationSpec(_Strict):
    max_new_tokens: int = Field(64, gt=0, le=4096)
    """Most tokens generated per example."""
    stop: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field([], max_length=32)
    """Strings that end an output (besides the end-of-sequence token); the output is cut before them.
    An empty one would cut every output to nothing."""


class FewShotSpec(_Strict):
    """Examples from the train split shown to the base model before each test prompt."""

    n: int = Field(gt=0, le=16)
    """How many (each a user turn and the assistant's reference)."""
    seed: int = 0
    """Seeds which train examples each test example gets."""


class MetricSpec(_Strict):
    """One entry of `metrics:`: a metric by `name` (its options follow), or an `evaluate` module."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str | None = None
    """A registered metric (`harness metrics` lists them); for `evaluate`, its name in results."""
    evaluate: str | None = None
    """A Hugging Face `evaluate` module: a folder inside the suite, or a Hub name."""
    when: dict[str, Any] | None = None
    """Score only examples whose fields equal these values (e.g. `{step: call}`)."""
    judge: JudgeSpec | None = None
    """A judge model scores the outputs (see `harness.metrics.judge`); `name` is then the metric's name in results."""

    @model_validator(mode="after")
    def _named(self):
        if self.name is None and self.evaluate is None:
            raise ValueError("a metric needs a `name` (or `evaluate: MODULE`)")
        if self.judge is not None:
            if self.evaluate is not None or self.name is None:
                raise ValueError("a `judge:` metric needs a `name` for its results, and no `evaluate`")
            if self.model_extra:
                raise ValueError(f"a judge metric's options go inside `judge:`, not {sorted(self.model_extra)[0]!r}")
            return self
        if self.evaluate is None:

            known = available()
            if self.name not in known:  # checked per entry, so that every misspelt name is reported at once
                close = get_close_matches(self.name or "", known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"unknown metric {self.name!r}{hint}; known: {', '.join(sorted(known))}")
        return self

    @property
    def id(self) -> str:
        """The metric's name in results."""
        return self.name or module_name(self.evaluate or "")

    @property
    def options(self) -> dict[str, Any]:
        """The metric's own options: everything but `name`, `evaluate` and `when`."""
        return dict(self.model_extra or {})


class SuiteSpec(_Strict):
    name: str = Field(pattern=NAME_PATTERN, max_length=limits.NAME_MAX_CHARS)
    """Letters, digits, `_ . -` (not first): it becomes part of file names (`predictions/<name>.jsonl`)."""
    version: str
    """The suite's own version: a string (quote it in YAML, `"1.10"`, or YAML turns 1.10 into 1.1) or a whole
    number (`1`, read as "1")."""
    description: str = ""
    role: Literal["task", "retention"] = "task"
    """`retention`: a general suite never trained on, gated against forgetting (by default every
    metric gets `no_significant_regression`)."""
    language: str = Field("en", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$")
    """BCP-47 language of the outputs; picks the BLEU/chrF tokenizer (`zh` → sacrebleu's `zh`)."""
    data: DataSpec
    template: str | None = None
    """Jinja2 template for the user turn, rendered with the example's fields."""
    templates: list[str] | None = Field(None, min_length=2)
    """Prompt variants instead of one `template`: the first trains and gives the main results; every
    variant is evaluated and the spread of each metric across them is reported (prompt sensitivity)."""
    fewshot: FewShotSpec | None = None
    """Few-shot prompts for the base model only, drawn from the train split."""
    generation: GenerationSpec = GenerationSpec()
    metrics: list[MetricSpec] = Field(min_length=1)
    gates: list[GateSpec] = []
    rubric: Rubric = DEFAULT_RUBRIC
    """Criteria for human rating sheets; helpfulness, correctness and fluency by default."""
    judge_calibration: CalibrationRule = CalibrationRule()
    """What a judge metric's judge must show against the human raters before its gates are decided."""
    preamble: str = Field("", max_length=20_000)
    """Python run ahead of each solution and of its hidden tests by code metrics (`pass_at_1`), as
    HumanEval's prompt stub is: typically the imports the prompt's code declares (`from typing import
    List`). It runs in the sandbox like the solution; it must compile."""
    environment: str | None = Field(None, max_length=limits.NAME_MAX_CHARS)
    """An episode suite (docs/episodes.md): its environment file (YAML, inside the suite folder). The test split
    then holds its tasks, one JSON object per line, and the train split whole conversations in `data.format`
    (`messages` or `chat`: successful transcripts, trained on every assistant turn); metrics are episode metrics."""
    rewards: dict[str, Annotated[float, Field(ge=0, allow_inf_nan=False)]] | None = Field(None, max_length=32)
    """Metric → weight: the reward of reward-trained backends (`grpo`) on this suite's train examples is the
    weighted sum of these metrics' scores, computed as evaluation computes them. Only `passfail` and `mean`
    metrics score one output alone; default: the primary (first) metric, weight 1."""
    labels: str | None = None
    """A field of each record holding the example's label (an intent, a tool name), for the data report's
    label balance. Without it, references that are all JSON tool calls are labelled by their `name`."""

    @property
    def prompt_templates(self) -> list[str | None]:
        """Every prompt variant (the primary first); [None] when the format's own prompt is used."""
        if self.templates:
            return list(self.templates)
        if self.template is not None:
            return [self.template]

        return [ALPACA_TEMPLATE if self.data.format == "alpaca" else None]

    @model_validator(mode="after")
    def _retention_gates(self):
        if self.role == "retention" and not self.gates:
            gates = [GateSpec(metric=m.id, no_significant_regression=True) for m in self.metrics]
            object.__setattr__(self, "gates", gates)
        return self

    @model_validator(mode="after")
    def _one_kind_of_template(self):
        if self.template is not None and self.templates:
            raise ValueError("give `template` or `templates`, not both")
        if self.fewshot and not self.data.has_train:
            raise ValueError("fewshot: draws from the train split, and this suite has none")
        return self

    @field_validator("environment")
    @classmethod
    def _environment_inside(cls, v: str | None) -> str | None:
        if v is not None and (Path(v).is_absolute() or ".." in Path(v).parts):
            raise ValueError(f"must be a path inside the suite folder, not {v!r}")
        return v

    @model_validator(mode="after")
    def _episode_suite(self):
        if self.environment is None:
            return self
        if self.template is not None or self.templates or self.fewshot is not None:
            raise ValueError("an episode suite (`environment:`) has no `template`, `templates` or `fewshot`: "
                             "its prompts are the episodes' conversations")
        if self.data.file is not None or self.data.format not in ("messages", "chat"):
            raise ValueError("an episode suite (`environment:`) gives `data.test` (its tasks) and optionally "
                             "`data.train` (transcripts), with format `messages` or `chat`, not `file`")
        return self

    @field_validator("preamble")
    @classmethod
    def _preamble_compiles(cls, v: str) -> str:
        try:
            compile(v, "<preamble>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as e:
            line = f" (preamble line {e.lineno})" if isinstance(e, SyntaxError) and e.lineno else ""
            raise ValueError(f"does not compile: {getattr(e, 'msg', e)}{line}") from None
        return v

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_text(cls, v):
        # Unquoted, YAML turns `version: 1.10` into the number 1.1: refuse fractions rather than guess. A whole
        # number cannot have lost digits that way (and suites written `version: 1` loaded in earlier versions).
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        if not isinstance(v, str):
            raise ValueError(f"must be a quoted string, e.g. version: \"1.10\" (YAML read "
                             f"{json.dumps(v, default=str)}, and reads an unquoted 1.10 as the number 1.1)")
        return v

    @field_validator("metrics", mode="before")
    @classmethod
    def _metric_shorthand(cls, v):
        if isinstance(v, list):
            return [{"name": m} if isinstance(m, str) else m for m in v]
        return v

    @field_validator("rewards")
    @classmethod
    def _rewards_name_metrics(cls, v, info: ValidationInfo):
        if v is None:
            return v
        if "metrics" in info.data:  # else the metrics' own problem is reported
            ids = [m.id for m in info.data["metrics"]]
            unknown = next((name for name in v if name not in ids), None)
            if unknown is not None:
                raise ValueError(f"metric {unknown!r} is not in this suite's metrics ({', '.join(ids)})")
        if not any(weight > 0 for weight in v.values()):
            raise ValueError("needs at least one metric with a weight above 0")
        return v

    @property
    def reward_weights(self) -> dict[str, float]:
        """Metric → weight of the train reward: `rewards:`, or the primary metric alone."""
        return dict(self.rewards) if self.rewards is not None else {self.metrics[0].id: 1.0}

    @model_validator(mode="after")
    def _metrics_once(self):
        ids = [m.id for m in self.metrics]
        for i, name in enumerate(ids):
            if name in ids[:i]:
                raise ValueError(f"metrics[{i}]: metric {name!r} is listed twice")
        for i, g in enumerate(self.gates):
            if g.metric is not None and g.metric not in ids:
                raise ValueError(f"gates[{i}]: metric {g.metric!r} is not in this suite's metrics")
        return self
