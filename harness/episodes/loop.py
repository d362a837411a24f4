"""The episode loop: model turn → tool calls → the environment's answers → … until the model answers and the
user has nothing to add, or the turn limit.

Turns are generated in batches across the episodes still running: each round asks the turn generator once for
every running episode's next turn (`model_turns` renders them with the model's chat template and generates them
in one batched, cached call), so an episode's turn costs a row of a batch, not a generate call of its own.
Greedy decoding whose outputs do not depend on the batch makes the transcripts the same as one episode at a
time would give (`run_one_by_one`), and the generation cache, keyed by each turn's full prompt, makes a rerun
hit it turn by turn.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

from harness.record import EpisodeTurn
from harness.suitedef.episodes.spec import INVALID, EnvironmentSpec, Task

from .calls import MAX_CALLS_PER_TURN, parse_tool_calls
from .environment import Environment
from .user import user_reply

if TYPE_CHECKING:
    from harness.models.loading import Model

TurnGenerator = Callable[[list[list[dict]]], list[str]]
"""Chat histories (one per running episode) → the model's next turn for each, in order."""


@dataclass
class Episode:
    """One task's episode: its environment, transcript and counts."""

    task: Task
    environment: Environment
    transcript: list[EpisodeTurn] = field(default_factory=list)
    model_turns: int = 0
    calls: int = 0
    """Attempted calls: each call of a turn, and each turn that attempted one but did not parse."""
    invalid_calls: int = 0
    final_answer: str = ""
    """The model's last plain-text turn (empty when it gave none)."""
    script_used: int = 0
    end: str | None = None
    """None while running; `answer` or `turn_limit` once over."""

    def messages(self) -> list[dict]:
        """The chat history as the model reads it."""
        return [{"role": t.role, "content": t.content} for t in self.transcript]


def start(spec: EnvironmentSpec, task: Task) -> Episode:
    """A new episode: the environment's system turn (if any) and the user's opening message."""
    episode = Episode(task=task, environment=Environment(spec, task.state))
    if spec.system is not None:
        episode.transcript.append(EpisodeTurn(role="system", content=spec.system))
    episode.transcript.append(EpisodeTurn(role="user", content=task.user.opening))
    return episode


def step(episode: Episode, output: str) -> None:
    """Take the model's turn `output`: carry out its calls, or let the user answer, or end the episode."""
    episode.model_turns += 1
    parsed = parse_tool_calls(output)
    say = episode.transcript.append
    if parsed.calls:
        say(EpisodeTurn(role="assistant", content=output, status="calls"))
        for n, call in enumerate(parsed.calls):
            name = str(call.name)[:64]
            if n < MAX_CALLS_PER_TURN:
                outcome = episode.environment.call(call.name, call.arguments)
                message, status = outcome.message, outcome.status
            else:
                message, status = f"error: at most {MAX_CALLS_PER_TURN} calls in one turn", INVALID
            episode.calls += 1
            episode.invalid_calls += status == INVALID
            say(EpisodeTurn(role="tool", content=message, tool=name, status=status))
    elif parsed.problem is not None:
        say(EpisodeTurn(role="assistant", content=output, status=INVALID))
        episode.calls += 1
        episode.invalid_calls += 1
        say(EpisodeTurn(role="tool", content=f"error: {parsed.problem}", status=INVALID))
    else:
        say(EpisodeTurn(role="assistant", content=output, status="answer"))
        episode.final_answer = output
        reply, episode.script_used = user_reply(episode.task.user, output, episode.script_used)
        if reply is None:
            episode.end = "answer"
            return
        say(EpisodeTurn(role="user", content=reply))
    if episode.model_turns >= episode.task.max_turns:
        episode.end = "turn_limit"


def run_episodes(turns: TurnGenerator, spec: EnvironmentSpec, tasks: Sequence[Task], progress=None) -> list[Episode]:
    """Every task's episode, run together: one call of `turns` per round over the episodes still running.
    `progress` (a progress bar) advances by the episodes each round ends."""
    episodes = [start(spec, task) for task in tasks]
    while running := [e for e in episodes if e.end is None]:
        outputs = turns([e.messages() for e in running])
        if len(outputs) != len(running):
            raise ValueError(f"the turn generator gave {len(outputs)} turns for {len(running)} episodes")
        for episode, output in zip(running, outputs):
            step(episode, output)
        if progress is not None:
            progress.update(sum(e.end is not None for e in running))
    return episodes


def run_one_by_one(turns: TurnGenerator, spec: EnvironmentSpec, tasks: Sequence[Task]) -> list[Episode]:
    """The same episodes, each run to its end before the next starts (the baseline the batched loop is measured
    against; its transcripts must be the same)."""
    return [run_episodes(turns, spec, [task])[0] for task in tasks]


def model_turns(model: Model, spec: EnvironmentSpec, max_new_tokens: int, stop: Sequence[str] = (),
                batch_size: int | None = 32) -> TurnGenerator:
    """Turns from `model`: each history rendered with its chat template and the environment's tool schemas,
    all generated greedily in one batched call (through the model's generation cache when it has one)."""
    tools = spec.schemas()

    def turns(histories: list[list[dict]]) -> list[str]:
        prompts = [model.render(history, tools) for history in histories]
        return model.generate(prompts, max_new_tokens, stop, batch_size)

    return turns
