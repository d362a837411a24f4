"""Episode suites: an agent judged over whole episodes against a declarative environment.

An environment, declared as data and checked when its suite loads (`harness.suitedef.episodes`, a layer below),
holds a small JSON state and tools with JSON-schema parameters, preconditions, effects, result messages and
named failures, in a tiny bounded language that the harness interprets (`environment`): no suite code runs.
Each task brings a scripted simulated user (`user`), an initial state and the expected end state. The loop
(`loop`) generates every running episode's next turn in one batched, cached call, finds the tool calls in it
(`calls`), carries them out and scores the episodes (`metrics`).
The format is documented in docs/episodes.md.
"""
from harness.common.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "environment": ["Environment", "Outcome"],
    "calls": ["ParsedTurn", "ToolCall", "parse_tool_calls"],
    "loop": ["Episode", "model_turns", "run_episodes", "run_one_by_one"],
    "metrics": ["EPISODE_METRICS", "episode_results", "episode_rows", "state_matches"],
})
