"""Suites: a folder with `suite.yaml` and its data, loaded and validated into a `Suite`.

Every problem is reported with the file and the field (and, for YAML and JSONL, the line),
before any model is loaded: every metric is built and every example's prompt rendered at load
time. `load_suite` stops at the first problem; with `every_problem=True` it goes on and raises
`SuiteProblems` listing all it found (what `harness suites validate` prints).
"""
from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Sequence, cast

from pydantic import ValidationError

from harness.common.errors import HarnessError, quoted
from harness.common.files import load_yaml
from harness.metrics import build, judge_metric, metric_class
from harness.record import MetricInfo

from .episodes.examples import suite_environment, task_examples
from .formats import ALPACA_TEMPLATE, Example, to_example
from .problems import MAX_PROBLEMS, Problems, SuiteProblems, field_at, yaml_line
from .sources import Rows, read_split, split_rows, with_answers
from .spec import DataSpec, FewShotSpec, GenerationSpec, MetricSpec, SuiteSpec
from .templates import compile_template, render

SUITE_FILE = "suite.yaml"

__all__ = ["SUITE_FILE", "DataSpec", "Example", "GenerationSpec", "MetricSpec", "Suite", "SuiteProblems",
           "SuiteSpec", "applies", "check_unique_names", "find_suites", "limited", "load_suite", "metric_field",
           "results_hash", "staged", "with_fewshot"]


@dataclass(frozen=True)
class Suite:
    spec: SuiteSpec
    path: Path
    """The suite's folder."""
    test: list[Example]
    train: list[Example]
    content_hash: str
    """sha256 of suite.yaml and its data: a changed suite is a different suite."""
    metrics: dict[str, tuple[Any, MetricInfo]] = field(default_factory=dict, compare=False)
    """Metric name → (its scorer, what the record says about it, unsigned), built once when the suite loads."""
    variants: list[list[Example]] = field(default_factory=list, compare=False)
    """The test examples under each further prompt variant (`templates:`), in the same order as `test`."""
    sources: dict[str, dict] = field(default_factory=dict, compare=False)
    """Split → where its data came from (a file and its hash, or a dataset and its resolved revision)."""
    limit: int | None = None
    """When set, `test` is a seeded sample of this many examples (`--limit`)."""
    environment: Any = field(default=None, compare=False)
    """An episode suite's environment (`harness.suitedef.episodes.EnvironmentSpec`); None for other suites."""

    @property
    def name(self) -> str:
        return self.spec.name

    def metric_infos(self) -> list[MetricInfo]:
        """What the run record says about each metric, with its signature (found here, when a run records it)."""
        return [info.model_copy(update={"signature": metric.signature}) for metric, info in self.metrics.values()]


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
    return list(dict.fromkeys(f.resolve() for f in found))


def load_suite(folder: str | Path, every_problem: bool = False, allow_outside_data: bool = False) -> Suite:
    """Load and validate a suite folder: spec, metrics, every example's prompt; one clear error otherwise.

    Data files must lie inside the folder unless `allow_outside_data` (which the run records). Code the
    suite brings (an `evaluate:` module) is not run: its metric is its declaration until `trust.trusted`.
    """
    folder = Path(folder)
    where = str(folder / SUITE_FILE)
    text, raw = _read_yaml(folder / SUITE_FILE)
    try:
        spec = SuiteSpec.model_validate(raw, context={"allow_outside_data": allow_outside_data})
    except ValidationError as e:
        found = [_spec_problem(err, text, where) for err in e.errors()]
        if every_problem:
            found += _data_problems(folder, raw, where, allow_outside_data)
        raise SuiteProblems(found[:MAX_PROBLEMS]) from None
    problems = Problems(every_problem)
    metrics: dict[str, tuple[Any, MetricInfo]] = {}
    for i, m in enumerate(spec.metrics):
        try:
            if m.judge is not None:
                judge, info = judge_metric(m.id, m.judge, spec.rubric, m.when, spec.language, folder)
                _check_judge_template(judge, f"{where}: metrics.{i}.judge.template")
                metrics[m.id] = (judge, info)
                continue
            options = m.options
            takes_preamble = m.evaluate is None and getattr(metric_class(m.id), "takes_preamble", False)
            if spec.preamble and takes_preamble:
                options = {"preamble": spec.preamble, **options}
            # unsigned: a signature loads the metric's library (sacrebleu), which listing or validating suites
            # does not need; a run signs its metrics when it records them
            metrics[m.id] = build(m.name, m.evaluate, options, m.when, spec.language, folder, signed=False)
            if metrics[m.id][0].episodic != (spec.environment is not None):
                raise ValueError(f"{m.id!r} scores whole episodes and needs `environment:`" if spec.environment is None
                                 else f"{m.id!r} scores single outputs; an episode suite takes episode metrics")
        except ValueError as e:
            problems.add(HarnessError(f"{field_at(text, ('metrics', i))}: {e}", where))
        except HarnessError as e:  # a judge template that does not compile
            problems.add(e)
    templates = []
    for k, source in enumerate(spec.prompt_templates):
        try:
            name = "template" if not spec.templates else f"templates[{k}]"
            templates.append(compile_template(source, f"{where}: {name}") if source is not None else None)
        except HarnessError as e:
            problems.add(e)
    if len(templates) < len(spec.prompt_templates):
        problems.raise_if_any()  # without every template no prompt can be checked
    rows = _read_rows(folder, spec, where, allow_outside_data, problems)
    _check_same_data(rows, spec, text, where, problems)
    env, env_origin = suite_environment(folder, spec.environment, where, problems) if spec.environment else (None, {})
    test = task_examples(rows.get("test"), env, problems) if env else _examples(rows.get("test"), spec,
                                                                                 templates[0], problems)
    train = _examples(rows.get("train"), spec, templates[0], problems)
    if env is not None:  # transcripts are trained on with the tools the episodes offer
        train = [replace(ex, tools=ex.tools or env.schemas()) for ex in train]
    variants = [_examples(rows.get("test"), spec, t, problems) for t in templates[1:]]
    if "test" in rows and not test and not problems.found:
        problems.add(HarnessError("the test split has no examples", rows["test"].where))
    digest = hashlib.sha256(text.encode())
    sources = {k: r.origin for k, r in rows.items()} | ({"environment": env_origin} if env_origin else {})
    digest.update(env_origin.get("sha256", "").encode())
    for split in ("test", "train"):
        if split in rows:
            digest.update(rows[split].fingerprint.encode())
    suite = Suite(spec=spec, path=folder, test=test, train=train, content_hash=digest.hexdigest(), metrics=metrics,
                  variants=variants, sources=sources, environment=env)
    _check_metric_fields(suite, problems)
    _check_when_fields(suite, text, where, problems)
    _check_gate_thresholds(suite, text, where, problems)
    _check_rewards(suite, text, where, problems)
    if spec.labels is not None and not any(spec.labels in ex.fields for ex in test + train):
        problems.add(HarnessError(f"{field_at(text, ('labels',))}: no example has a field "
                                  f"{spec.labels!r}", where))
    problems.raise_if_any()
    return suite


def _read_rows(folder: Path, spec: SuiteSpec, where: str, allow_outside: bool, problems: Problems) -> dict[str, Rows]:
    """Each split's records by name: the suite's own `test` and `train`, or `file` split in two."""
    data, rows = spec.data, {}
    sources = {"file": data.file} if data.file is not None else {"test": data.test, "train": data.train}
    answers = [data.answers] if isinstance(data.answers, str) else data.answers or []
    for split, source in sources.items():
        if source is not None:
            try:
                rows[split] = read_split(folder, source.model_dump() if not isinstance(source, str) else source,
                                         data.columns, f"{where}: data.{split}", allow_outside)
                if answers:  # bfcl: each question joined to its possible answer
                    rows[split] = with_answers(rows[split], [read_split(folder, a, {}, f"{where}: data.answers",
                                                                        allow_outside) for a in answers])
            except HarnessError as e:
                problems.add(e)
    if "file" in rows:
        try:
            rows["test"], rows["train"] = split_rows(rows.pop("file"), data.test_fraction, data.split_seed,
                                                     spec.labels)
        except HarnessError as e:
            problems.add(e)
    return rows


def _data_problems(folder: Path, raw: dict, where: str, allow_outside: bool) -> list[str]:
    """With a spec that does not validate: the problems of its data too, read as far as a valid `data:` section
    allows (each record against the format, with the format's own prompt), so that one validation lists them."""
    try:
        data = DataSpec.model_validate(raw.get("data"), context={"allow_outside_data": allow_outside})
    except ValidationError:
        return []  # its problems are among the spec's
    labels = raw.get("labels") if isinstance(raw.get("labels"), str) else None
    stand_in = cast(SuiteSpec, SimpleNamespace(data=data, labels=labels))
    problems = Problems(collect=True)
    template = compile_template(ALPACA_TEMPLATE, f"{where}: data.format") if data.format == "alpaca" else None
    for rows in _read_rows(folder, stand_in, where, allow_outside, problems).values():
        _examples(rows, stand_in, template, problems)
    return problems.found


def _check_same_data(rows: dict[str, Rows], spec: SuiteSpec, text: str, where: str, problems: Problems) -> None:
    """Test and train holding the same data make every test example one trained on: an error unless the
    suite says it is meant (`data.same_file_ok`)."""
    test, train = rows.get("test"), rows.get("train")
    if spec.data.file is not None or test is None or train is None or test.fingerprint != train.fingerprint \
            or spec.data.same_file_ok:
        return
    problems.add(HarnessError(
        f"{field_at(text, ('data', 'train'))}: holds the same data as data.test, so every test "
        "example is one the model trained on; hold some out with `data: {file: F, test_fraction: 0.2}`, or set "
        "`same_file_ok: true` under data: when measuring recall of the training data is meant", where))


def _read_yaml(path: Path) -> tuple[str, dict]:
    text, raw = load_yaml(path)
    if not isinstance(raw, dict):
        raise HarnessError("expected a mapping of suite fields at the top level", str(path))
    return text, raw


def _spec_problem(err: Any, text: str, where: str) -> str:
    loc = ".".join(str(x) for x in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    # Whole-suite checks name their item in the message ("gates[1]: ..."): point at its line.
    item = re.match(r"(\w+)\[(\d+)\]:", msg)
    lineno = yaml_line(text, err["loc"] or ((item[1], int(item[2])) if item else ()))
    at = f"line {lineno}: " if lineno else ""
    return f"{where}: {at}{f'field {loc!r}: ' if loc else ''}{msg}"


def _examples(rows: Rows | None, spec: SuiteSpec, template, problems: Problems) -> list[Example]:
    """The split's records as examples; ids unique within the split."""
    if rows is None:
        return []
    examples: list[Example] = []
    seen: dict[str, str] = {}
    for where, default_id, record in rows.records:
        try:
            example = to_example(record, spec.data.format, template, where, default_id)
            if example.id in seen:
                first = seen[example.id].removeprefix(rows.where).lstrip(": ")
                first = f"line {first}" if first.isdigit() else first
                raise HarnessError(f"duplicate id {example.id!r} (first on {first})", where)
        except HarnessError as e:
            problems.add(e)
            continue
        seen[example.id] = where
        examples.append(example)
    return examples


def _check_judge_template(judge: Any, where: str) -> None:
    """A judge template that does not compile, or fails on a stand-in question (a misspelt variable), fails
    when the suite loads rather than after the run generated everything."""
    criteria = [c.model_dump() for c in judge.criteria]
    stand_in = {"criterion": criteria[0], "criteria": criteria, "prompt": "p", "reference": "r", "output": "o",
                "output_a": "a", "output_b": "b"}
    render(compile_template(judge.template, where), stand_in, f"{where} (a stand-in question)")


def metric_field(suite_file: Path, i: int) -> str:
    """How a message names the suite's `i`th metric: `line N: field 'metrics.i'`."""
    return field_at(load_yaml(suite_file)[0], ("metrics", i))


def _check_metric_fields(suite: Suite, problems: Problems) -> None:
    """Every test example a metric scores carries the fields that metric reads (facts, hidden tests), and a
    reference the metric can score against."""
    where = str(suite.path / suite.sources.get("test", {}).get("file", "data.test"))
    for name, (metric, info) in suite.metrics.items():
        lacking: dict[str, list[str]] = {}  # field → the examples without it: one problem each, however many
        for ex in suite.test:
            missing = [f for f in metric.reads if f not in ex.fields] if applies(info, ex) else []
            if missing:
                lacking.setdefault(missing[0], []).append(ex.id)
        for field_name, ids in lacking.items():
            problems.add(HarnessError(f"{_examples_named(ids)}: missing field {field_name!r}, which metric {name!r} "
                                      "reads", where))
        wrong = [(ex.id, p) for ex in suite.test if applies(info, ex) and (p := metric.reference_problem(ex.reference))]
        if wrong:
            problems.add(HarnessError(f"{_examples_named([i for i, _ in wrong])}: metric {name!r}: {wrong[0][1]}",
                                      where))


def _examples_named(ids: list[str]) -> str:
    named = ", ".join(repr(i) for i in ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    return f"example{'s' if len(ids) > 1 else ''} {named}"


def _check_when_fields(suite: Suite, text: str, where: str, problems: Problems) -> None:
    """A metric's `when:` names fields test examples have: a misspelt one would silently score nothing."""
    if not suite.test:
        return
    for i, m in enumerate(suite.spec.metrics):
        absent = next((f for f in m.when or {} if not any(f in ex.fields for ex in suite.test)), None)
        if absent is not None:
            problems.add(HarnessError(f"{field_at(text, ('metrics', i, 'when'))}: no test example "
                                      f"has a field {quoted(absent)}", where))


def _check_gate_thresholds(suite: Suite, text: str, where: str, problems: Problems) -> None:
    """A `min` or `min_delta` gate lies within its metric's declared scale: `min: 7` on a 0–1 metric never passes."""
    for i, gate in enumerate(suite.spec.gates):
        if gate.kind not in ("min", "min_delta") or gate.metric not in suite.metrics:
            continue
        info = suite.metrics[gate.metric][1]
        low, high = (info.lowest, info.scale) if gate.kind == "min" else (
            -(info.scale - info.lowest), info.scale - info.lowest)
        value = gate.threshold
        if value is not None and not low <= value <= high:
            problems.add(HarnessError(f"{field_at(text, ('gates', i, gate.kind))}: {value:g} is "
                                      f"outside {gate.metric}'s scale ({low:g} to {high:g}), so the gate could "
                                      f"{'never pass' if value > high else 'never fail'}", where))


def _check_rewards(suite: Suite, text: str, where: str, problems: Problems) -> None:
    """A reward metric scores one output alone: a corpus metric's sentence score is not the metric."""
    for name in suite.spec.rewards or {}:
        if name in suite.metrics and suite.metrics[name][1].kind == "corpus":
            problems.add(HarnessError(f"{field_at(text, ('rewards', name))}: {name} is a corpus "
                                      "metric (its value is not a mean of per-output scores), so it cannot reward one "
                                      "output; use a passfail or mean metric", where))


def check_unique_names(suites: Sequence[Suite]) -> None:
    """Suites read together have distinct names: results, predictions and reports are keyed by the name."""
    first: dict[str, Suite] = {}
    for suite in suites:
        if suite.name in first:
            other = first[suite.name].path / SUITE_FILE
            raise HarnessError(f"field 'name': {suite.name!r} is also the name of {other}; suites read together "
                               "need distinct names", str(suite.path / SUITE_FILE))
        first[suite.name] = suite


def applies(info: MetricInfo, example: Example) -> bool:
    """Whether a metric scores this example (its `when` fields all match)."""
    return not info.when or all(example.fields.get(k) == v for k, v in info.when.items())


def limited(suite: Suite, n: int | None, seed: int) -> Suite:
    """The suite with a seeded sample of `n` test examples (all of them when n is None or larger)."""
    if n is None or n >= len(suite.test):
        return suite
    keep = sorted(random.Random(f"{seed}:{suite.name}").sample(range(len(suite.test)), n))
    return replace(suite, test=[suite.test[i] for i in keep],
                   variants=[[v[i] for i in keep] for v in suite.variants], limit=n)


def staged(suite: Suite, share: float, seed: int) -> Suite:
    """The suite with the first `share` of a seeded order of its test examples: the samples of increasing
    shares are nested, so a later stage of `--sequential` re-reads the earlier stage's examples (from the
    generation cache) and adds new ones."""
    n = max(1, round(share * len(suite.test)))
    if n >= len(suite.test):
        return suite
    order = list(range(len(suite.test)))
    random.Random(f"stages:{seed}:{suite.name}").shuffle(order)
    keep = sorted(order[:n])
    return replace(suite, test=[suite.test[i] for i in keep],
                   variants=[[v[i] for i in keep] for v in suite.variants], limit=n)


def with_fewshot(suite: Suite, n: int | None) -> Suite:
    """The suite with the base model shown `n` train examples before each test prompt, whatever its own
    `fewshot:` says (0: zero-shot; None: the suite's own). Suites without a train split stay zero-shot, and
    episode suites too: their prompts are the episodes' conversations."""
    if n is None or not suite.train or suite.environment is not None:
        return suite
    shots = FewShotSpec(n=n, seed=suite.spec.fewshot.seed if suite.spec.fewshot else 0) if n else None
    return replace(suite, spec=suite.spec.model_copy(update={"fewshot": shots}))


def results_hash(suite: Suite) -> str:
    """sha256 of what decides a suite's results: its data (each split's file hash or resolved dataset
    revision), templates, metrics (and local `evaluate` modules), generation settings, language, role and the
    train reward's weights (`rewards:`, which decides what reward-trained states learn).
    Not its gates, rubric, judge calibration rule, description or version: editing those changes no number, so a
    finished run stays reusable."""
    spec = suite.spec.model_dump(mode="json", exclude={"gates", "rubric", "judge_calibration", "description",
                                                       "version"})
    if spec.get("rewards") is None:  # absent: the hash of a suite that declares no rewards stays what it was
        spec.pop("rewards", None)
    digest = hashlib.sha256(json.dumps([spec, suite.sources], sort_keys=True, ensure_ascii=False).encode())
    for m in suite.spec.metrics:
        module = suite.path / m.evaluate if m.evaluate else None
        if module is not None and module.is_dir():
            for path in sorted(p for p in module.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
                digest.update(path.relative_to(suite.path).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
