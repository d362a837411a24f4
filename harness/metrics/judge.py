"""Judge metrics: a judge model scores each output, after generation (`harness.judging` asks it).

A suite declares one with a `judge:` block beside its result name (`- name: judge_help` / `judge: {...}`):
pointwise, a 1–5 score per rubric criterion (a `mean` metric, scale 5, lowest 1; an example's score is the
mean over its criteria); pairwise, each tuned output against base's, asked in both orders (1 win, 0.5 tie or
orders that disagree, 0 loss; a `mean` metric on 0..1, for tuned states only). The metric here only
describes the scores: its `score` is never called (`deferred`), and its signature pins the template's
hash, the judge and the decoding, so a changed judge prompt is a different metric.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, ClassVar, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.record import Criterion, MetricKind

from .base import NO_FIELDS, Metric, Score

TEMPLATES = Path(__file__).resolve().parent / "judge_templates"
"""The default judge prompts, one per mode (`pointwise.jinja`, `pairwise.jinja`)."""
TEMPLATE_MAX_BYTES = 64 * 1024
"""A suite's own judge template may be at most this big."""
PARSE_VERSION = 1
"""Bump when the answer format the parser accepts changes."""
OVERALL = "overall"
"""The criterion a pairwise verdict is recorded under."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class EndpointSpec(_Strict):
    """An OpenAI-compatible chat-completions endpoint as judge."""

    base_url: str = Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$", max_length=500)
    """Up to `/v1` (e.g. `http://127.0.0.1:8000/v1`); `/chat/completions` is added."""
    model: str = Field(min_length=1, max_length=200)
    """The model name the endpoint serves."""
    api_key_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
    """The environment variable holding the API key (never the key itself; it is not recorded)."""
    timeout_s: float = Field(60.0, gt=0, le=600)
    """Seconds one request may take before it is retried."""
    max_attempts: int = Field(4, ge=1, le=10)
    """Attempts per request, on 429, 5xx, timeouts and refused connections (exponential backoff between)."""
    concurrency: int = Field(4, ge=1, le=32)
    """Requests in flight at once."""


class JudgeSpec(_Strict):
    """A metric entry's `judge:` block."""

    mode: Literal["pointwise", "pairwise"] = "pointwise"
    """`pointwise`: a 1–5 score per criterion; `pairwise`: each tuned output against base's."""
    model: str | None = None
    """A model the harness loads (`tiny`, a named model such as `smollm2-135m-instruct`, a folder, a GGUF file,
    a hub id); or give `endpoint`."""
    endpoint: EndpointSpec | None = None
    """An OpenAI-compatible endpoint instead of `model`."""
    criteria: list[str] | None = Field(None, min_length=1)
    """Rubric criteria to score (pointwise); every criterion of the suite's rubric when omitted."""
    template: str | None = Field(None, max_length=500)
    """A Jinja2 judge prompt inside the suite folder; the shipped one for the mode when omitted."""
    reference: bool | None = None
    """Whether the judge sees the reference; the rubric's `show_reference` when omitted."""
    samples: int = Field(1, ge=1, le=16)
    """Ask each question this many times (sampling at `temperature` from `seed`); 1: greedy decoding."""
    temperature: float = Field(0.7, gt=0, le=2)
    """Sampling temperature when `samples` is above 1."""
    seed: int = Field(0, ge=0, le=2**31 - 1)
    """Seed of the first sample when `samples` is above 1 (sample k: seed + k)."""
    max_new_tokens: int = Field(96, gt=0, le=1024)
    """Most tokens in the judge's answer."""

    @model_validator(mode="after")
    def _one_judge(self):
        if (self.model is None) == (self.endpoint is None):
            raise ValueError("a judge needs exactly one of `model` (a model the harness loads) or `endpoint`")
        return self

    @field_validator("template")
    @classmethod
    def _inside_the_suite(cls, v):
        if v is not None and (Path(v).is_absolute() or ".." in Path(v).parts):
            raise ValueError(f"must be a path inside the suite folder, not {v!r}")
        return v

    @property
    def judge_name(self) -> str:
        """The judge as the record names it: the model, or `model@base_url`."""
        return self.model if self.model is not None else f"{self.endpoint.model}@{self.endpoint.base_url}"  # type: ignore[union-attr]

    @property
    def decoding(self) -> dict[str, Any]:
        """The decoding settings that decide an answer (besides the sample's seed)."""
        if self.samples == 1:
            return {"greedy": True, "max_new_tokens": self.max_new_tokens}
        return {"greedy": False, "temperature": self.temperature, "max_new_tokens": self.max_new_tokens}


def read_template(spec: JudgeSpec, suite_dir: Path) -> tuple[str, str]:
    """(the template's text, its version `name@sha256-prefix`); ValueError naming the file when unusable."""
    if spec.template is None:
        path, name = TEMPLATES / f"{spec.mode}.jinja", str(spec.mode)
    else:
        path, name = suite_dir / spec.template, spec.template
        if not path.resolve().is_relative_to(suite_dir.resolve()):
            raise ValueError(f"template {spec.template!r} leads outside the suite folder")
    try:
        if path.stat().st_size > TEMPLATE_MAX_BYTES:
            raise ValueError(f"template {spec.template!r} is over {TEMPLATE_MAX_BYTES:,} bytes")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"template {spec.template!r}: no such file in the suite folder") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"template {spec.template!r} is not readable UTF-8 text ({e})") from None
    return text, f"{name}@{hashlib.sha256(text.encode()).hexdigest()[:12]}"


class JudgeMetric(Metric):
    """A judge model's scores of each output (see the module's docstring)."""

    name = "judge"
    kind: ClassVar[MetricKind] = "mean"
    deferred = True

    def __init__(self, spec: JudgeSpec, criteria: list[Criterion], template: str, template_version: str,
                 show_reference: bool, language: str = "en"):
        super().__init__(language)
        self.spec, self.criteria, self.template = spec, criteria, template
        self.template_version, self.show_reference = template_version, show_reference

    def score(self, output: str, reference: str, fields: Mapping[str, Any] = NO_FIELDS) -> Score:
        raise RuntimeError("a judge metric is scored by harness.judging after every state is generated")

    @property
    def signature(self) -> str:
        spec = self.spec
        parts = [f"judge:{spec.mode}", f"by:{spec.judge_name}", f"template:{self.template_version}",
                 f"criteria:{','.join(c.name for c in self.criteria)}",
                 f"reference:{'yes' if self.show_reference else 'no'}", f"parse:{PARSE_VERSION}",
                 f"max_new_tokens:{spec.max_new_tokens}"]
        parts += (["decoding:greedy"] if spec.samples == 1 else
                  [f"samples:{spec.samples}", f"temperature:{spec.temperature:g}", f"seed:{spec.seed}"])
        return "|".join(parts)


class PointwiseJudge(JudgeMetric):
    """A judge model's 1–5 score per rubric criterion, averaged over the criteria."""

    scale = 5.0
    lowest = 1.0


class PairwiseJudge(JudgeMetric):
    """A judge model's preference for the tuned output over base's: 1 win, 0.5 tie, 0 loss."""

    scale = 1.0
    lowest = 0.0


def make_judge(name: str, spec: JudgeSpec, rubric_criteria: list[Criterion], rubric_shows_reference: bool,
               language: str, suite_dir: Path) -> JudgeMetric:
    """The judge metric `name` of a suite; ValueError naming what is wrong."""
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name):
        raise ValueError(f"a judge metric's name is letters, digits and `_ . -`, not {name!r}")
    known = {c.name: c for c in rubric_criteria}
    wanted = spec.criteria or list(known)
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise ValueError(f"judge criterion {unknown[0]!r} is not in the suite's rubric ({', '.join(known)})")
    text, version = read_template(spec, suite_dir)
    cls = PointwiseJudge if spec.mode == "pointwise" else PairwiseJudge
    show = rubric_shows_reference if spec.reference is None else spec.reference
    return cls(spec, [known[c] for c in wanted], text, version, show, language)
