"""Why an example changed: teacher-forced token probabilities of the reference in each state.

Each line of `explanations/<state>/<suite>.jsonl` is an `Explanation`; the run records what was
explained in `RunRecord.explanations`. The report's example pages draw them as heat strips.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from harness.common.errors import HarnessError
from harness.common.files import read_jsonl, write_jsonl

from .spec import Record


class NextTokens(Record):
    """The most probable next tokens at one reference position, given the reference before it."""

    position: int
    """Index into `Explanation.tokens`."""
    tokens: list[str]
    """The top tokens as text, most probable first."""
    probs: list[float]
    """Their probabilities (4 decimals)."""


class Attention(Record):
    """Last-layer attention, heads averaged, from each output token (rows) to each prompt token (columns)."""

    rows: list[str]
    """The state's output tokens (at most 24)."""
    columns: list[str]
    """The prompt's tokens, the chat template's included (the last 48 at most)."""
    weights: list[list[int]]
    """Attention weight × 1000, rounded, one list per row (rows sum to ≤ 1000 over the prompt: the rest
    goes to earlier output tokens and prompt tokens beyond the shown ones)."""


class Explanation(Record):
    """One example in one state."""

    id: str
    """The example's id."""
    state: str
    """`base` or a backend name."""
    suite: str
    """The suite."""
    tokens: list[str]
    """The reference as the model's tokens (the end-of-turn token included), as text."""
    logprobs: list[float]
    """Natural log-probability of each reference token given the prompt and the reference before it
    (teacher-forced, one forward pass; 3 decimals)."""
    divergence: int | None = None
    """Index of the first reference token this state's output does not reproduce (None: the output
    reproduces the reference token for token)."""
    generated: str | None = None
    """The token the state's output has at `divergence` (None: the output ended there)."""
    top: list[NextTokens] = []
    """Top-5 next tokens at the divergence positions known when this state was explained (its own and
    base's; base is explained last and has every state's)."""
    attention: Attention | None = None
    """For the one example per suite selected for an attention view, when the model exposes attentions."""

    def next_tokens(self, position: int) -> NextTokens | None:
        """The top tokens at `position`, when recorded."""
        return next((t for t in self.top if t.position == position), None)


class ExplanationsInfo(Record):
    """What the run explained: flipped examples (capped) and a seeded sample of the others."""

    cap: int
    """At most this many flipped examples per tuned state and suite."""
    sample: int
    """Unflipped examples added per suite, drawn with the run's seed."""
    counts: dict[str, dict[str, int]] = {}
    """State → suite → examples explained."""
    attention: dict[str, str] = {}
    """Suite → the example with an attention view, or why there is none (`not shown: …`)."""
    seconds: dict[str, float] = {}
    """State → seconds spent explaining (forward passes, and for base its reload)."""


def explanations_path(run_dir: str | Path, state: str, suite: str) -> Path:
    """Where one state's explanations of one suite live."""
    return Path(run_dir) / "explanations" / state / f"{suite}.jsonl"


def save_explanations(run_dir: str | Path, state: str, suite: str, rows: list[Explanation]) -> None:
    """Write one state's explanations of one suite atomically."""
    write_jsonl(explanations_path(run_dir, state, suite), [r.model_dump(mode="json", exclude_defaults=True)
                                                          for r in rows])


def load_explanations(run_dir: str | Path, state: str, suite: str) -> list[Explanation]:
    """One state's explanations of one suite (empty when there are none)."""
    path = explanations_path(run_dir, state, suite)
    if not path.is_file():
        return []
    try:
        return [Explanation.model_validate(row) for row in read_jsonl(path)]
    except ValidationError as e:
        first = e.errors()[0]
        raise HarnessError(f"invalid explanation: field '{'.'.join(map(str, first['loc']))}': {first['msg']}",
                           str(path)) from None
