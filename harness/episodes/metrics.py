"""Scores of whole episodes, as metrics of the usual kinds, so that intervals, paired tests and gates apply
to them as to any other (`harness.record.MetricKind`), and the prediction rows that carry them.

- `task_success` (passfail): the end state contains the expected one (`state_matches`).
- `calls_valid` (mean, 0–1): the share of attempted calls that parsed, named a tool and met its schema; an
  episode without any attempt scores 0 (every task needs at least one call).
- `invalid_calls` (mean, lower is better): attempted calls that were not valid, counted.
- `turns_used` (mean, lower is better): the model's turns.
- `answer_facts` (mean, 0–1): the share of the task's required facts found in the final answer
  (case-insensitively); tasks that require none are not scored.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Mapping

from harness.metrics.base import NO_FIELDS, Metric, Score
from harness.record import Prediction, Result
from harness.stats.compare import value_interval
from harness.suitedef.episodes.expressions import same
from harness.suitedef.episodes.spec import MAX_TURNS

from .calls import MAX_CALLS_PER_TURN
from .loop import Episode


class EpisodeMetric(Metric):
    """A metric of a whole episode (its transcript and end state), not of one output string."""

    episodic = True

    def score(self, output: str, reference: str, fields: Mapping[str, Any] = NO_FIELDS) -> Score:
        raise TypeError(f"{self.name} scores episodes (score_episode), not single outputs")

    def score_episode(self, episode: Episode) -> Score | None:
        """The episode's score (None: the metric does not apply to its task)."""
        raise NotImplementedError


class TaskSuccess(EpisodeMetric):
    """The episode's end state contains the expected one."""

    name = "task_success"
    kind = "passfail"

    def score_episode(self, episode: Episode) -> Score:
        wrong = state_matches(episode.environment.state, episode.task.expected)
        return Score(0.0 if wrong else 1.0, "; ".join(wrong[:3]))


class CallsValid(EpisodeMetric):
    """Share of the attempted tool calls that parsed, named a tool and met its schema."""

    name = "calls_valid"
    kind = "mean"

    def score_episode(self, episode: Episode) -> Score:
        if not episode.calls:
            return Score(0.0, "no tool call")
        valid = episode.calls - episode.invalid_calls
        return Score(valid / episode.calls, f"{episode.invalid_calls} of {episode.calls} calls invalid"
                     if episode.invalid_calls else "")


class InvalidCalls(EpisodeMetric):
    """Attempted tool calls that were not valid (did not parse, named no tool, or broke its schema)."""

    name = "invalid_calls"
    kind = "mean"
    higher_is_better = False
    scale = float(MAX_TURNS * MAX_CALLS_PER_TURN)
    digits = 2

    def score_episode(self, episode: Episode) -> Score:
        return Score(float(episode.invalid_calls))


class TurnsUsed(EpisodeMetric):
    """The model's turns in the episode."""

    name = "turns_used"
    kind = "mean"
    higher_is_better = False
    scale = float(MAX_TURNS)
    digits = 2

    def score_episode(self, episode: Episode) -> Score:
        return Score(float(episode.model_turns), "turn limit reached" if episode.end == "turn_limit" else "")


class AnswerFacts(EpisodeMetric):
    """Share of the task's required facts found in the final answer."""

    name = "answer_facts"
    kind = "mean"

    def score_episode(self, episode: Episode) -> Score | None:
        facts = episode.task.answer_facts
        if not facts:
            return None
        answer = episode.final_answer.casefold()
        missing = [f for f in facts if f.casefold() not in answer]
        return Score(1 - len(missing) / len(facts), "missing: " + ", ".join(missing) if missing else "")


EPISODE_METRICS: dict[str, EpisodeMetric] = {m.name: m for m in (TaskSuccess(), CallsValid(), InvalidCalls(),
                                                                   TurnsUsed(), AnswerFacts())}


def state_matches(actual: Any, expected: Any, where: str = "state") -> list[str]:
    """Where `actual` fails to contain `expected` (empty: it does). Objects match when every expected key
    matches (other keys may be there); lists match element by element, with the same length; other values
    must be equal and of the same JSON type (`true` is not `1`)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object"]
        out: list[str] = []
        for key, want in expected.items():
            out += [f"{where}.{key}: missing"] if key not in actual else state_matches(actual[key], want,
                                                                                      f"{where}.{key}")
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            got = f"{len(actual)} items" if isinstance(actual, list) else "no list"
            return [f"{where}: expected {len(expected)} items, got {got}"]
        return [d for i, (a, e) in enumerate(zip(actual, expected)) for d in state_matches(a, e, f"{where}[{i}]")]
    if not same(actual, expected):
        return [f"{where}: expected {json.dumps(expected, ensure_ascii=False)[:60]}, "
                f"got {json.dumps(actual, ensure_ascii=False)[:60]}"]
    return []


def episode_rows(suite: str, state: str, episodes: list[Episode],
                 render: Callable[[list[dict]], str]) -> list[Prediction]:
    """One prediction row per episode: `model_input` is the first prompt (`render` of the opening messages),
    `output` the final answer, `reference` the expected end state, with the transcript and end state."""
    rows = []
    for episode in episodes:
        scores: dict[str, float] = {}
        reasons: dict[str, str] = {}
        for name, metric in EPISODE_METRICS.items():
            got = metric.score_episode(episode)
            if got is None:
                continue
            scores[name] = got.value
            if got.reason:
                reasons[name] = got.reason
        task = episode.task
        first_user = next(i for i, t in enumerate(episode.transcript) if t.role == "user")
        opening = episode.messages()[:first_user + 1]
        rows.append(Prediction(
            id=task.id, state=state, suite=suite, prompt=task.user.opening, model_input=render(opening),
            reference=json.dumps(task.expected, ensure_ascii=False, sort_keys=True), output=episode.final_answer,
            scores=scores, reasons=reasons, fields={"goal": task.goal, **task.fields},
            transcript=list(episode.transcript), end_state=episode.environment.state, episode_end=episode.end))
    return rows


def episode_results(suite: str, state: str, rows: list[Prediction], seed: int = 0) -> list[Result]:
    """Each episode metric's value with its 95% interval, over the episodes it scored."""
    results = []
    for name, metric in EPISODE_METRICS.items():
        scored = [r for r in rows if name in r.scores]
        if not scored:
            continue
        value = metric.aggregate([], [], [r.scores[name] for r in scored])
        low, high, method = value_interval(metric, scored, name, seed)
        results.append(Result(state=state, suite=suite, metric=name, n=len(scored), value=value, ci_low=low,
                              ci_high=high, ci_method=method))
    return results
