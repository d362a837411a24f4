"""What a run measured: values, paired comparisons, validity checks, gate outcomes and costs."""
from __future__ import annotations

from typing import Any, Literal

from .spec import GateSpec, MetricInfo, Record

IntervalMethod = Literal["wilson", "bootstrap"]
PairedTest = Literal["mcnemar-exact", "paired-permutation", "approximate-randomization", "identical outputs"]
Verdict = Literal["gain", "loss", "no detectable change"]
GateDecision = Literal["pass", "fail", "underpowered", "uncalibrated"]
"""A gate's outcome: `underpowered` when the data decided neither way and the run had too few examples
(or too much noise) to resolve the gate's margin; `uncalibrated` when the gate reads a judge metric whose
judge is not calibrated against the suite's raters (failed or skipped as the gate's `when_uncalibrated`
says). Neither is a pass."""
MemoryKind = Literal["rss", "cuda"]
ArtefactKind = Literal["full", "adapter"]


class EpisodeTurn(Record):
    """One message of an episode's transcript (episode suites: see docs/episodes.md)."""

    role: Literal["system", "user", "assistant", "tool"]
    """Who said it: the environment's system turn, the simulated user, the model, or a tool's answer."""
    content: str
    """The message as the model read it (the model's own turns exactly as generated)."""
    tool: str | None = None
    """Tool turns: the tool the call named, as written (cut to 64 characters)."""
    status: str | None = None
    """Model turns: `calls`, `invalid` (an attempted call that did not parse) or `answer` (plain text). Tool turns:
    `ok`, the failure's name (e.g. `sold_out`), `invalid` (no such tool, or arguments against its schema) or
    `error` (the effects could not be carried out; the state did not change)."""


class Prediction(Record):
    """One example's output in one state: a line of `predictions/<state>/<suite>.jsonl`."""

    id: str
    """The example's id (its line number when the data gives none)."""
    state: str
    """`base` or a backend name."""
    suite: str
    """The suite."""
    prompt: str
    """The last user turn as the suite rendered it."""
    model_input: str
    """The exact text the model was given (after its chat template)."""
    reference: str
    """The expected output."""
    output: str
    """What the model generated."""
    scores: dict[str, float]
    """Metric name → this example's score; metrics whose `when` excludes the example are absent."""
    reasons: dict[str, str] = {}
    """Metric name → why the score is not perfect, in a few words."""
    fields: dict[str, Any] = {}
    """The example's data that metrics read besides the reference (required facts, hidden tests)."""
    fewshot: list[str] = []
    """Ids of the train examples shown before this one (few-shot prompts of the base model)."""
    transcript: list[EpisodeTurn] = []
    """Episode suites: every message of the episode in order (empty for other suites); `output` is then the final
    answer and `reference` the expected end state as JSON."""
    end_state: dict[str, Any] | None = None
    """Episode suites: the environment's state when the episode ended (None for other suites)."""
    episode_end: Literal["answer", "turn_limit"] | None = None
    """Episode suites: how the episode ended: the model answered and the user had nothing to add, or the turn
    limit came first (None for other suites)."""


def change_letter(base_row: Prediction | None, row: Prediction | None, judge: MetricInfo | None) -> str:
    """One example's change from base to a tuned state, as one letter: `I` improved, `R` regressed, `P`
    unchanged and passing (or equal), `F` unchanged and failing, `-` not comparable. Pass/fail metrics
    compare pass and fail; other metrics compare the example's score in the metric's better direction."""
    if base_row is None or row is None or judge is None:
        return "-"
    b, s = base_row.scores.get(judge.name), row.scores.get(judge.name)
    if b is None or s is None:
        return "-"
    if judge.kind == "passfail":
        b, s = bool(b), bool(s)
        return "I" if s and not b else "R" if b and not s else "P" if s else "F"
    if not judge.higher_is_better:
        b, s = -b, -s
    return "I" if s > b else "R" if s < b else "P"


class Result(Record):
    """One state's value of one metric on one suite."""

    state: str
    """`base` or a backend name."""
    suite: str
    """The suite."""
    metric: str
    """The metric's name in the suite."""
    value: float
    """The value: mean score, or corpus score for corpus metrics."""
    n: int
    """Examples the value is computed over."""
    ci_low: float | None = None
    """Lower end of the 95% interval (None when not computed)."""
    ci_high: float | None = None
    """95% confidence interval (None when not computed)."""
    ci_method: IntervalMethod | None = None
    """`wilson` for pass/fail metrics, a seeded `bootstrap` over examples for mean and corpus metrics."""


class Comparison(Record):
    """One state against another on the same test examples (paired)."""

    suite: str
    """The suite."""
    metric: str
    """The metric."""
    baseline: str
    """The state compared against (`base`, another backend, or `RUN_ID:state` of a baseline run)."""
    state: str
    """The state compared."""
    delta: float
    """state − baseline."""
    ci_low: float
    """Lower end of the delta's interval."""
    ci_high: float
    """Paired bootstrap 95% interval of the delta (seeded, resampling examples)."""
    test: PairedTest
    """`mcnemar-exact` (pass/fail), `paired-permutation` (mean: sign-flip permutation of per-example
    differences), `approximate-randomization` (corpus), or `identical outputs` (p = 1, no test run)."""
    p_value: float
    """The test's two-sided p-value, before adjustment."""
    p_holm: float
    """Holm-adjusted over every comparison of the run."""
    significant: bool
    """p_holm < alpha."""
    verdict: Verdict
    """`gain` or `loss` (in the metric's better direction) when significant, else `no detectable change`."""
    mde: float | None = None
    """Minimum detectable effect at this n (80% power, two-sided alpha), in the metric's units."""
    table: dict[str, int] | None = None
    """Pass/fail metrics: {both_pass, only_baseline, only_state, both_fail} counts."""
    p_values: dict[str, float] = {}
    """Every p-value computed, by test (`bs` and `ar` for sacrebleu's paired bootstrap and randomization)."""
    signature: str | None = None
    """The test's reproducibility signature (sacrebleu's, or ours: resamples and seed)."""
    n: int | None = None
    """Paired examples compared (None in records that did not store it)."""
    se: float | None = None
    """Standard error of delta: the standard deviation of its paired bootstrap resamples."""
    bound_low: float | None = None
    """One-sided (1 − alpha) lower confidence bound of delta (the alpha percentile of the paired bootstrap);
    with `bound_high` it decides `max_drop`, `equivalent_within` and `min_delta` gates."""
    bound_high: float | None = None
    """One-sided (1 − alpha) upper confidence bound of delta (the 1 − alpha percentile)."""
    p_floor: float | None = None
    """The smallest p-value the test can report, 1/(resamples + 1), when it resamples (None when exact):
    a p-value at it means "below it", and is shown as `< floor`."""

    def p_text(self, adjusted: bool = True) -> str:
        """The Holm-adjusted (or raw) p-value as it should be read: `< x` at the resampling floor."""
        p = self.p_holm if adjusted else self.p_value
        if self.p_floor is not None and self.p_value <= self.p_floor * (1 + 1e-9):
            return f"< {p:.2g}"
        return f"{p:.3g}"


class VariantResult(Record):
    """One state's value of one metric under one prompt variant (suites with `templates:`)."""

    state: str
    """`base` or a tuned state."""
    suite: str
    """The suite."""
    metric: str
    """The metric."""
    variant: int
    """The variant's index in the suite's `templates:` (0 is the primary, whose value is the main result)."""
    value: float
    """The metric's value under that prompt."""
    n: int
    """Examples scored."""


class ModelChanged(Record):
    """Tuning changed at least one output: an adapter that is not applied, or zero steps, changes none."""

    differ: int
    """Examples whose output differs from base's."""
    compared: int
    """Examples compared."""
    ok: bool
    """Whether any output changed."""


class OutputsMatch(Record):
    """The same examples generated two ways give the same outputs."""

    checked: int
    """Examples compared."""
    mismatches: list[str] = []
    """`suite/id` of each example whose outputs differ."""
    ok: bool | None
    """None when the check could not run (see note)."""
    note: str = ""
    """Why the check could not run, when it could not; or which suites it left out (episode suites)."""


class Contamination(Record):
    """Test prompts that also occur in train, verbatim or after normalisation (runs of schema 3 and
    earlier; later runs record `DataReport` overlap instead)."""

    n_test: int
    """Test examples."""
    exact: int
    """Test prompts found verbatim in train."""
    near: int
    """Test prompts found in train after normalising case, width, punctuation and spacing."""
    fraction: float
    """near / n_test."""
    ok: bool
    """No test prompt occurs in train."""


class Checks(Record):
    """Validity checks: is a number about what it claims to be about?"""

    model_changed: dict[str, ModelChanged] = {}
    """By tuned state."""
    reload_equivalence: dict[str, OutputsMatch] = {}
    """By tuned state: the saved artefact, reloaded, reproduces the in-memory model's outputs on a sample."""
    batch_invariance: dict[str, OutputsMatch] = {}
    """By state: outputs regenerated in another batching match the batched ones on a sample."""
    contamination: dict[str, Contamination] = {}
    """By suite, in runs of schema 3 and earlier (later runs: `RunRecord.data`, suite overlap)."""

    def failures(self, state: str) -> list[str]:
        """Why this state's numbers cannot be trusted (empty when they can)."""
        problems = []
        changed = self.model_changed.get(state)
        if changed and not changed.ok:
            problems.append(f"tuning changed nothing: all {changed.compared} outputs equal base's")
        reload = self.reload_equivalence.get(state)
        if reload and reload.ok is False:
            problems.append(f"the saved model, reloaded, differs from the trained one on "
                            f"{len(reload.mismatches)} of {reload.checked} sampled examples")
        batch = self.batch_invariance.get(state)
        if batch and batch.ok is False:
            problems.append(f"outputs depend on the batch size ({len(batch.mismatches)} of {batch.checked} differ)")
        return problems


class GateOutcome(Record):
    """A gate as decided once, recorded, and then shown by the report, the comparison site and CI."""

    suite: str
    """The suite whose gate this is."""
    state: str
    """The tuned state gated, or `data` for gates on the data itself."""
    gate: GateSpec
    """The gate as written in suite.yaml."""
    label: str
    """The gate's short id (e.g. `exact_match>=0.7`)."""
    baseline_run: str | None = None
    """The run a `no_significant_regression` gate compared against (None: this run's base)."""
    value: float | None
    """What was compared with the threshold (a value, a delta or a fraction); None if not measured."""
    threshold: float | None
    """The gate's number (None for the significance gates)."""
    passed: bool
    """Whether the gate passes (False when it fails, is underpowered or its judge is not calibrated)."""
    message: str
    """One line saying what was compared and the outcome."""
    decided_by: str = "harness run"
    """Who decided it: `harness run`, `harness report [--baseline RUN]` or `pytest [--harness-baseline RUN]`."""
    decision: GateDecision | None = None
    """`pass`, `fail`, `underpowered` or `uncalibrated` (None in older records: read `passed`)."""
    detectable: float | None = None
    """The smallest change (or margin) the run resolves at 80% power given its n and the observed variance
    of the paired difference, in the metric's units; None for gates that are not paired comparisons."""
    powered: bool | None = None
    """Whether the gate's margin is at least `detectable` (None: the gate names no margin)."""
    examples_needed: int | None = None
    """Examples that would decide the margin at 80% power with the observed variance (`harness plan`)."""
    warning: str | None = None
    """A caveat that does not change the outcome (a point `min_delta` the run could not resolve)."""

    @property
    def status(self) -> GateDecision:
        """The decision, for older records derived from `passed`."""
        return self.decision or ("pass" if self.passed else "fail")


class LabelResult(Record):
    """One state's value of a suite's primary metric on the test examples of one label."""

    state: str
    """`base` or a tuned state."""
    suite: str
    """The suite."""
    metric: str
    """The suite's primary (first) metric."""
    label: str
    """The label: the value of the suite's `labels:` field, or the tool name of a JSON tool call."""
    n: int
    """Test examples with this label that the metric scored."""
    value: float
    """The metric's value over them."""
    ci_low: float
    """Lower end of the 95% interval."""
    ci_high: float
    """Upper end of the 95% interval."""
    ci_method: IntervalMethod
    """`wilson` for pass/fail metrics, a seeded `bootstrap` over these examples otherwise."""


class FailureKinds(Record):
    """How one state's examples fell short on one metric of one suite, by kind of failure."""

    state: str
    """`base` or a tuned state."""
    suite: str
    """The suite."""
    metric: str
    """The metric."""
    scored: int
    """Examples the metric scored."""
    kinds: dict[str, int]
    """Kind of failure → examples: the head of the metric's per-example reason (`output is not valid JSON`,
    `wrong 'name'`, `missing`, `SyntaxError`, `AssertionError`, …) for every example below the metric's best
    score; `(no reason given)` when the metric gave none."""
