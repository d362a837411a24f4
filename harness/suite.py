"""Suites: a folder with `suite.yaml` and JSONL data, validated into records.

Every problem is reported with the file and the field (and, for YAML and JSONL, the line),
before any model is loaded: prompts for every example are rendered and every metric is built
at load time.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import HarnessError
from .metrics.hf_evaluate import module_name
from .record import DEFAULT_RUBRIC, GateSpec, MetricInfo, Rubric
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


class GenerationSpec(_Strict):
    max_new_tokens: int = Field(64, gt=0, le=4096)
    """Most tokens generated per example."""
    stop: list[str] = []
    """Strings that end an output (besides the end-of-sequence token); the output is cut before them."""


class MetricSpec(_Strict):
    """One entry of `metrics:`: a metric by `name` (its options follow), or an `evaluate` module."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str | None = None
    """A registered metric (`harness metrics` lists them); for `evaluate`, its name in results."""
    evaluate: str | None = None
    """A Hugging Face `evaluate` module: a folder inside the suite, or a Hub name."""
    when: dict[str, Any] | None = None
    """Score only examples whose fields equal these values (e.g. `{step: call}`)."""

    @model_validator(mode="after")
    def _named(self):
        if self.name is None and self.evaluate is None:
            raise ValueError("a metric needs a `name` (or `evaluate: MODULE`)")
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
            gates = [GateSpec(metric=m.id, no_significant_regression=True) for m in self.metrics]
            object.__setattr__(self, "gates", gates)
        return self

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, v):
        return str(v) if isinstance(v, (int, float)) else v

    @field_validator("metrics", mode="before")
    @classmethod
    def _metric_shorthand(cls, v):
        if isinstance(v, list):
            return [{"name": m} if isinstance(m, str) else m for m in v]
        return v

    @model_validator(mode="after")
    def _known_metrics(self):
        from .metrics import available

        known = available()
        ids = [m.id for m in self.metrics]
        for i, (m, name) in enumerate(zip(self.metrics, ids)):
            if m.evaluate is None and name not in known:
                raise ValueError(f"metrics[{i}]: unknown metric {name!r}; known: {', '.join(sorted(known))}")
            if name in ids[:i]:
                raise ValueError(f"metrics[{i}]: metric {name!r} is listed twice")
        for i, g in enumerate(self.gates):
            if g.metric is not None and g.metric not in ids:
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
    metrics: dict[str, tuple[Any, MetricInfo]] = field(default_factory=dict, compare=False)
    """Metric name → (its scorer, what the record says about it), built once when the suite loads."""

    @property
    def name(self) -> str:
        return self.spec.name


ALPACA_TEMPLATE = "{{ instruction }}{% if input %}\n\n{{ input }}{% endif %}"
_REQUIRED = {"prompt-completion": ("prompt", "completion"), "alpaca": ("instruction", "output"),
             "messages": ("messages",)}


def find_suites(paths: Sequence[str | Path]) -> list[Path]:
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
    """Load and validate a suite folder: spec, metrics, every example's prompt; one clear error otherwise."""
    folder = Path(folder)
    yaml_path = folder / SUITE_FILE
    where = str(yaml_path)
    try:
        text = yaml_path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except FileNotFoundError:
        raise HarnessError("file not found", where) from None
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
        loc = ".".join(str(x) for x in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        # Whole-suite checks name their item in the message ("gates[1]: ..."): point at its line.
        item = re.match(r"(\w+)\[(\d+)\]:", msg)
        lineno = _yaml_line(text, err["loc"] or ((item[1], int(item[2])) if item else ()))
        at = f"line {lineno}: " if lineno else ""
        field = f"field '{loc}': " if loc else ""
        raise HarnessError(f"{at}{field}{msg}", where) from None
    metrics = _build_metrics(spec, folder, text, where)

    template = spec.template if spec.template is not None else (
        ALPACA_TEMPLATE if spec.data.format == "alpaca" else None)
    compiled = compile_template(template, f"{where}: template") if template is not None else None
    test = _load_split(folder / spec.data.test, spec.data.format, compiled)
    train = _load_split(folder / spec.data.train, spec.data.format, compiled) if spec.data.train else []
    if not test:
        raise HarnessError("the test split has no examples", str(folder / spec.data.test))

    digest = hashlib.sha256(text.encode())
    for rel in filter(None, (spec.data.test, spec.data.train)):
        digest.update((folder / rel).read_bytes())
    suite = Suite(spec=spec, path=folder, test=test, train=train, content_hash=digest.hexdigest(), metrics=metrics)
    _check_metric_fields(suite, folder / spec.data.test)
    return suite


def _build_metrics(spec: SuiteSpec, folder: Path, text: str, where: str) -> dict[str, tuple[Any, MetricInfo]]:
    from .metrics import build

    built = {}
    for i, m in enumerate(spec.metrics):
        try:
            built[m.id] = build(m.name, m.evaluate, m.options, m.when, spec.language, folder)
        except ValueError as e:
            line = _yaml_line(text, ("metrics", i))
            raise HarnessError(f"{f'line {line}: ' if line else ''}field 'metrics.{i}': {e}", where) from None
    return built


def _check_metric_fields(suite: Suite, test_path: Path) -> None:
    """Every test example a metric scores carries the fields that metric reads (facts, hidden tests)."""
    for name, (metric, info) in suite.metrics.items():
        for ex in suite.test:
            if applies(info, ex):
                missing = [f for f in metric.reads if f not in ex.fields]
                if missing:
                    raise HarnessError(f"example {ex.id!r}: missing field {missing[0]!r}, which metric {name!r} "
                                       "reads", str(test_path))


def applies(info: MetricInfo, example: Example) -> bool:
    """Whether a metric scores this example (its `when` fields all match)."""
    return not info.when or all(example.fields.get(k) == v for k, v in info.when.items())


def _load_split(path: Path, fmt: str, template) -> list[Example]:
    if not path.is_file():
        raise HarnessError("data file not found", str(path))
    examples: list[Example] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise HarnessError(f"invalid JSON: {e.msg} (column {e.colno})", where) from None
            example = _example(record, fmt, template, where, default_id=f"{path.stem}-{lineno:05d}")
            if example.id in seen:
                raise HarnessError(f"duplicate id {example.id!r} (first on line {seen[example.id]})", where)
            seen[example.id] = lineno
            examples.append(example)
    return examples


def _example(record: Any, fmt: str, template, where: str, default_id: str) -> Example:
    if not isinstance(record, dict):
        raise HarnessError("expected a JSON object", where)
    for key in _REQUIRED[fmt]:
        if key not in record:
            raise HarnessError(f"missing field '{key}' (format {fmt} needs {', '.join(_REQUIRED[fmt])})", where)
    ex_id = str(record.get("id", default_id))
    if fmt == "messages":
        messages = record["messages"]
        if (not isinstance(messages, list) or len(messages) < 2
                or not all(isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                           for m in messages)):
            raise HarnessError("field 'messages' must be a list of {role, content} objects with at least two entries",
                               where)
        if messages[-1]["role"] != "assistant" or messages[-2]["role"] != "user":
            raise HarnessError("field 'messages' must end with a user message and then the assistant's reference",
                               where)
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
    return line or (node.start_mark.line + 1 if node is not None else None)
