"""Suites: a folder with `suite.yaml` and JSONL data, validated into records.

Every problem is reported with the file and the field (and, for YAML and JSONL, the line),
before any model is loaded: prompts for every example are rendered at load time.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import HarnessError, quoted
from .files import iter_jsonl, read_yaml
from .templates import compile_template, render

SUITE_FILE = "suite.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSpec(_Strict):
    format: Literal["prompt-completion", "messages", "alpaca"]
    """How each JSONL line is shaped: `prompt`+`completion`, a `messages` list ending with the
    assistant's reference, or alpaca's `instruction`/`input`/`output`."""
    test: str
    """Test split, relative to the suite folder."""
    train: str | None = None
    """Training split, relative to the suite folder; a suite without one is evaluated, not trained on."""

    @field_validator("test", "train")
    @classmethod
    def _inside_the_suite(cls, v):
        # A suite brings its own data: a path out of its folder could make it read any file.
        if v is not None and (Path(v).is_absolute() or ".." in Path(v).parts):
            raise ValueError(f"must be a path inside the suite folder, not {v!r}")
        return v


class GenerationSpec(_Strict):
    max_new_tokens: int = Field(64, gt=0, le=4096)
    """Most tokens generated per example."""
    stop: list[str] = []
    """Strings that end an output (besides the end-of-sequence token); the output is cut before them."""


class MetricSpec(_Strict):
    model_config = ConfigDict(extra="allow", frozen=True)
    name: str
    """A metric from `harness.metrics` (exact_match, tool_name, tool_arguments, bleu, chrf)."""

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


_GATE_KINDS = ("min", "min_delta", "significant_gain", "no_significant_regression", "max_overlap")


def _set(value) -> bool:
    """A threshold is set when given; `false` switches a boolean gate off (0 is a threshold)."""
    return value is not None and value is not False


class GateSpec(_Strict):
    """One threshold. Exactly one of min, min_delta, significant_gain, no_significant_regression
    or max_overlap is set; all but max_overlap name a metric."""

    metric: str | None = None
    """The metric this gate reads."""
    min: float | None = None
    """Passes when the tuned state's value is at least this."""
    min_delta: float | None = None
    """Passes when the tuned state's value minus base's is at least this."""
    significant_gain: bool | None = None
    """Passes when the tuned state beats base with a Holm-adjusted p below the run's alpha."""
    no_significant_regression: bool | None = None
    """Fails when the tuned state is significantly worse than base (or than the same state of a
    baseline run, with pytest's --harness-baseline)."""
    max_overlap: float | None = Field(None, ge=0, le=1)
    """Fails when more than this fraction of test prompts also occur (normalised) in train."""
    states: list[str] | None = None
    """Tuned states this gate applies to; all of them when omitted."""

    @model_validator(mode="after")
    def _one_threshold(self):
        kinds = [k for k in _GATE_KINDS if _set(getattr(self, k))]
        if len(kinds) != 1:
            raise ValueError("a gate needs exactly one of `min`, `min_delta`, `significant_gain: true`, "
                             "`no_significant_regression: true` or `max_overlap`")
        if (self.metric is None) != (self.kind == "max_overlap"):
            raise ValueError("`max_overlap` gates take no metric; every other gate needs one")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in _GATE_KINDS if _set(getattr(self, k)))

    @property
    def label(self) -> str:
        return {
            "min": lambda: f"{self.metric}>={self.min:g}",
            "min_delta": lambda: f"{self.metric}>=base{self.min_delta:+g}",
            "significant_gain": lambda: f"{self.metric}:significant_gain",
            "no_significant_regression": lambda: f"{self.metric}:no_significant_regression",
            "max_overlap": lambda: f"overlap<={self.max_overlap:g}",
        }[self.kind]()


class Criterion(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
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


class Rubric(_Strict):
    """What human raters see and score (rating sheets)."""

    criteria: list[Criterion] = Field(min_length=1)
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


class SuiteSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    version: str
    description: str = ""
    role: Literal["task", "retention"] = "task"
    """`retention`: a general suite never trained on, gated against forgetting (by default every
    metric gets `no_significant_regression`)."""
    language: str = "en"
    """BCP-47 language of the outputs; picks the BLEU/chrF tokenizer (`zh` → sacrebleu's `zh`)."""
    data: DataSpec
    template: str | None = None
    """Jinja2 template for the user turn, rendered with the example's fields."""
    generation: GenerationSpec = GenerationSpec()
    metrics: list[MetricSpec] = Field(min_length=1)
    gates: list[GateSpec] = []
    rubric: Rubric = DEFAULT_RUBRIC
    """Criteria for human rating sheets; helpfulness, correctness and fluency by default."""

    @model_validator(mode="after")
    def _retention_gates(self):
        if self.role == "retention" and not self.gates:
            gates = [GateSpec(metric=m.name, no_significant_regression=True) for m in self.metrics]
            object.__setattr__(self, "gates", gates)
        return self

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_text(cls, v):
        # Unquoted, YAML turns `version: 1.10` into the number 1.1: refuse numbers rather than guess.
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

    @model_validator(mode="after")
    def _known_metrics(self):
        from .metrics import METRICS, make_metric

        for i, m in enumerate(self.metrics):
            if m.name not in METRICS:
                raise ValueError(f"metrics[{i}]: unknown metric {m.name!r}; known: {', '.join(sorted(METRICS))}")
            if any(other.name == m.name for other in self.metrics[:i]):
                raise ValueError(f"metrics[{i}]: metric {m.name!r} is listed twice")
            make_metric(m.name, self.language, m.options)  # raises ValueError on bad options
        names = {m.name for m in self.metrics}
        for i, g in enumerate(self.gates):
            if g.metric is not None and g.metric not in names:
                raise ValueError(f"gates[{i}]: metric {g.metric!r} is not in this suite's metrics")
        return self


@dataclass(frozen=True)
class Example:
    id: str
    messages: list[dict]
    """The prompt as chat messages (the last one is the user's)."""
    reference: str
    """The expected output."""
    fields: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Suite:
    spec: SuiteSpec
    path: Path
    """The suite's folder."""
    test: list[Example]
    train: list[Example]
    content_hash: str
    """sha256 of suite.yaml and its data files: a changed suite is a different suite."""

    @property
    def name(self) -> str:
        return self.spec.name


_ITEM_PREFIX = re.compile(r"^(?P<field>[a-z_]+)\[(?P<index>\d+)\]: ")
ALPACA_TEMPLATE = "{{ instruction }}{% if input %}\n\n{{ input }}{% endif %}"
_REQUIRED = {"prompt-completion": ("prompt", "completion"), "alpaca": ("instruction", "output"), "messages": ("messages",)}


def find_suites(paths: list[str | Path]) -> list[Path]:
    """Suite folders named by `paths`: a suite folder, its suite.yaml, or a folder of suites."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_file() and p.name == SUITE_FILE:
            found.append(p.parent)
        elif (p / SUITE_FILE).is_file():
            found.append(p)
        elif p.is_dir():
            inner = sorted(q.parent for q in p.glob(f"*/{SUITE_FILE}"))
            if not inner:
                raise HarnessError(f"no {SUITE_FILE} here or in its subfolders", str(p))
            found.extend(inner)
        else:
            raise HarnessError("no such suite folder or file", str(p))
    unique = list(dict.fromkeys(f.resolve() for f in found))
    return unique


def load_suite(folder: str | Path) -> Suite:
    """The suite in `folder`, validated, with every example's prompt rendered; a HarnessError names what is wrong."""
    folder = Path(folder)
    yaml_path = folder / SUITE_FILE
    where = str(yaml_path)
    try:
        text, raw = read_yaml(yaml_path)
    except FileNotFoundError:
        raise HarnessError("file not found", where) from None
    except OSError as e:
        raise HarnessError(f"cannot read: {e.strerror}", where) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark else ""
        raise HarnessError(f"{line}invalid YAML: {getattr(e, 'problem', e)}", where) from None
    if not isinstance(raw, dict):
        raise HarnessError("expected a mapping of suite fields at the top level", where)
    try:
        spec = SuiteSpec.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        loc = err["loc"]
        item = _ITEM_PREFIX.match(msg) if not loc else None  # a whole-suite check naming its item: metrics[1]: …
        line = _yaml_line(text, (item["field"], int(item["index"])) if item else loc)
        at = f"line {line}: " if line else ""
        field = f"field '{'.'.join(str(x) for x in loc)}': " if loc else ""
        raise HarnessError(f"{at}{field}{msg}", where) from None

    template = spec.template if spec.template is not None else (ALPACA_TEMPLATE if spec.data.format == "alpaca" else None)
    compiled = compile_template(template, f"{where}: template") if template is not None else None
    test = _load_split(folder / spec.data.test, spec.data.format, compiled)
    train = _load_split(folder / spec.data.train, spec.data.format, compiled) if spec.data.train else []
    if not test:
        raise HarnessError("the test split has no examples", str(folder / spec.data.test))

    digest = hashlib.sha256(text.encode())
    for rel in filter(None, (spec.data.test, spec.data.train)):
        digest.update((folder / rel).read_bytes())
    return Suite(spec=spec, path=folder, test=test, train=train, content_hash=digest.hexdigest())


def _load_split(path: Path, fmt: str, template) -> list[Example]:
    if not path.is_file():
        raise HarnessError("data file not found", str(path))
    examples, seen = [], {}
    for lineno, record in iter_jsonl(path):
        where = f"{path}:{lineno}"
        example = _example(record, fmt, template, where, default_id=f"{path.stem}-{lineno:05d}")
        if example.id in seen:
            raise HarnessError(f"duplicate id {quoted(example.id)} (first on line {seen[example.id]})", where)
        seen[example.id] = lineno
        examples.append(example)
    return examples


def _example(record: Any, fmt: str, template, where: str, default_id: str) -> Example:
    if not isinstance(record, dict):
        raise HarnessError("expected a JSON object", where)
    for key in _REQUIRED[fmt]:
        if key not in record:
            raise HarnessError(f"missing field '{key}' (format {fmt} needs {', '.join(_REQUIRED[fmt])})", where)
    ex_id = _example_id(record.get("id", default_id), where)
    if fmt == "messages":
        messages = record["messages"]
        if (not isinstance(messages, list) or len(messages) < 2
                or not all(isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in messages)):
            raise HarnessError("field 'messages' must be a list of {role, content} objects with at least two entries", where)
        if messages[-1]["role"] != "assistant" or messages[-2]["role"] != "user":
            raise HarnessError("field 'messages' must end with a user message and then the assistant's reference", where)
        prompt, reference = [dict(m) for m in messages[:-1]], messages[-1]["content"]
        if template is not None:
            variables = {k: v for k, v in record.items() if k != "messages"} | {"content": prompt[-1]["content"]}
            prompt[-1]["content"] = render(template, variables, where)
        return Example(ex_id, prompt, reference, record)
    out_key = "completion" if fmt == "prompt-completion" else "output"
    for key in _REQUIRED[fmt]:
        if not isinstance(record[key], str):
            raise HarnessError(f"field '{key}' must be a string", where)
    variables = {"input": "", **record} if fmt == "alpaca" else record  # alpaca's input is optional
    user = render(template, variables, where) if template is not None else record["prompt"]
    return Example(ex_id, [{"role": "user", "content": user}], record[out_key], record)


def _example_id(value: Any, where: str) -> str:
    """An id as text; ids are strings or integers (null, true or 1.5 would all become different text)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise HarnessError(f"field 'id' must be a string or an integer, not {json.dumps(value)[:40]}", where)
    if isinstance(value, str) and not value.strip():
        raise HarnessError("field 'id' is empty", where)
    return str(value)


def _yaml_line(text: str, loc: tuple) -> int | None:
    """The 1-based line of the YAML node at `loc` (or its nearest existing parent)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
            if match is None:
                break
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line
