"""What the data looked like before any training: the data-quality report recorded in a run.

`harness data check` prints it and `harness run` records it in `run.json` (`RunRecord.data`); the
report's Data page draws it. Lists of example ids are capped (`FindingIds`), counts never are.
"""
from __future__ import annotations

from typing import Literal

from .spec import Record

Split = Literal["train", "test"]
FindingKind = Literal[
    "duplicate", "near_duplicate", "conflict", "identical_render", "empty_reference", "wrong_script",
    "overlap", "near_overlap", "truncated", "completion_lost", "unseen_label", "tools_dropped",
]
MAX_IDS = 20
"""At most this many groups of example ids are kept per finding (the count is always complete)."""


class Histogram(Record):
    """Counts in consecutive bins [edges[i], edges[i+1]); the last bin includes its upper edge."""

    edges: list[float]
    """Bin edges, one more than counts."""
    counts: list[int]
    """Examples per bin."""


class Lengths(Record):
    """Token lengths of one split's examples in the tokenizer of the model being tuned, as it trains on
    them: the rendered prompt (chat template included) and the completion (with the end-of-turn token)."""

    prompt: Histogram
    """Prompt tokens."""
    completion: Histogram
    """Completion tokens."""
    total: Histogram
    """Prompt + completion tokens: what `max_length` limits."""
    median: float
    """Median of the totals."""
    p95: float
    """95th percentile of the totals (linear interpolation)."""
    max: int
    """Longest total."""


class SplitData(Record):
    """One split of a suite."""

    split: Split
    """`train` or `test`."""
    n: int
    """Examples."""
    lengths: Lengths | None = None
    """Token lengths (None for an empty split)."""
    labels: dict[str, int] = {}
    """Label → examples with it, most frequent first (empty when the suite has no labels)."""


class Truncation(Record):
    """Training examples that one backend's `max_length` cuts. Causal LMs train on prompt + completion cut
    from the end (TRL keeps the start): a cut example loses the end of its completion, so the model never
    sees it stop; one whose prompt alone fills `max_length` has no completion token left and is dropped.
    Encoder-decoders cut the prompt and the target separately, each to `max_length`."""

    backend: str
    """The backend whose resolved settings give `max_length`."""
    max_length: int
    """Longest tokenised training example the backend keeps."""
    truncated: int
    """Training examples longer than `max_length`."""
    into_completion: int
    """Of those, examples that lose completion tokens (for causal LMs: all of them)."""
    completion_lost: int
    """Examples left with no completion token: they train on nothing."""
    fraction: float
    """truncated / training examples (0 without a train split)."""
    ids: list[str] = []
    """Ids of truncated examples (at most `MAX_IDS`), longest first."""


class Overlap(Record):
    """Test prompts that also occur in train: verbatim, or near (similarity at or above the threshold)."""

    n_test: int
    """Test examples."""
    exact: int
    """Test prompts found verbatim in train."""
    near: int
    """Test prompts with a train prompt at least `DataReport.threshold` similar (verbatim ones included)."""
    fraction: float
    """near / n_test: what a `max_overlap` gate compares."""
    pairs: list[tuple[str, str, float]] = []
    """(test id, most similar train id, similarity) of overlapping prompts (at most `MAX_IDS`)."""


class Finding(Record):
    """One kind of defect in one split: a warning, which `harness data check --strict` turns into exit code 1."""

    kind: FindingKind
    """`duplicate` (identical examples), `near_duplicate` (prompts at least the threshold similar),
    `conflict` (the same prompt with different references), `identical_render` (different inputs that the
    template renders to the same prompt), `empty_reference`, `wrong_script` (a reference without the
    script of the suite's language), `overlap` / `near_overlap` (test prompts in train), `truncated`
    (training examples cut by `max_length`), `completion_lost` (nothing of the completion left),
    `unseen_label` (test labels training never shows, when train's labels repeat: at least 2 train examples
    per distinct label), `tools_dropped` (prompts that render the same with and without their function
    schemas: the model never sees them)."""
    split: str
    """`train`, `test`, or `train/test`."""
    count: int
    """Examples concerned (for pairs and groups: examples beyond the first of each group)."""
    message: str
    """One line saying what is wrong."""
    ids: list[list[str]] = []
    """Groups of example ids that show it (at most `MAX_IDS` groups)."""


class SuiteData(Record):
    """The data report of one suite."""

    suite: str
    """The suite's name."""
    language: str
    """The suite's language (decides the script check)."""
    splits: list[SplitData]
    """Train (when the suite has one), then test."""
    label_source: str | None = None
    """Where labels come from: `field NAME` (suite.yaml `labels: NAME`), `tool name` (inferred from JSON
    tool-call references), or None when the suite has none."""
    unseen_labels: list[str] = []
    """Test labels that never occur in train (listed whether or not they make an `unseen_label` finding)."""
    tool_rendering: Literal["template", "system turn", "prompt head"] | None = None
    """How the suite's function schemas reach the model's prompt: `template` (its chat template renders
    `tools`), `system turn` (the template ignores them, so they are written into a system turn, see
    README "Tool calls"), `prompt head` (no chat template: JSON before the turns); None when the suite
    offers no tools."""
    tools_note: str = ""
    """The same in one line, naming the model (empty when the suite offers no tools)."""
    overlap: Overlap | None = None
    """Train/test overlap (None without a train split)."""
    truncation: list[Truncation] = []
    """One entry per backend of the run (or of `harness data check`)."""
    findings: list[Finding] = []
    """Every warning, in a fixed order of kinds."""

    def split(self, name: str) -> SplitData | None:
        """The split called `name`, or None when the suite has none."""
        return next((s for s in self.splits if s.split == name), None)


class DataReport(Record):
    """Data quality per suite, measured before any training."""

    model: str
    """The model whose tokenizer measured lengths (as named: `tiny`, a directory or a hub id)."""
    similarity: str
    """The similarity measure of near duplicates and near overlap, in words."""
    threshold: float
    """Pairs at or above this similarity are near duplicates."""
    suites: list[SuiteData]
    """One per suite, in the run's order."""

    def suite(self, name: str) -> SuiteData | None:
        """The suite called `name`, or None."""
        return next((s for s in self.suites if s.suite == name), None)

    @property
    def warnings(self) -> int:
        """Findings over every suite."""
        return sum(len(s.findings) for s in self.suites)
