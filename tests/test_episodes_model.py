"""Episodes with a real model (`tiny`): batched turns give the transcripts of one episode at a time, the
transcripts are deterministic, and a rerun takes every turn from the generation cache."""
from __future__ import annotations

import pytest

from harness.cache import Cache
from harness.cache.keys import OUTPUTS
from harness.episodes import model_turns, run_episodes, run_one_by_one
from harness.models.loading import load_model
from harness.suitedef.episodes import load_environment, task_from
from harness.suitedef.suite import find_suites, load_suite

from .conftest import ROOT

RESTAURANT = ROOT / "tests" / "data" / "episodes" / "restaurant"
MAX_NEW_TOKENS = 12


@pytest.fixture(scope="module")
def suites(small_suites):
    return [load_suite(p) for p in find_suites([small_suites])]


@pytest.fixture(scope="module")
def env():
    return load_environment(RESTAURANT / "environment.yaml")


@pytest.fixture(scope="module")
def tasks(env):
    """Episodes of different lengths: a random model answers in plain text, and each user has a script of a
    different length to say after such answers, so the running batch shrinks round by round."""
    openings = ["I'd like to order some food.", "Two portions of dumplings, please.", "A table for four, please.",
                "Can I book a table for three people?", "What is on the menu?"]
    return [task_from({"id": f"t{i}", "user": {"opening": text, "script": ["Go on.", "And then?", "Thanks."][:i]},
                       "expected": {"orders": []}}, env, f"tasks:{i}") for i, text in enumerate(openings)]


def test_batched_turns_give_the_transcripts_of_one_episode_at_a_time(suites, env, tasks):
    model = load_model("tiny", suites=suites)  # no cache: both loops generate every turn
    rounds: list[int] = []
    turns = model_turns(model, env, MAX_NEW_TOKENS)

    def counted(histories):
        rounds.append(len(histories))
        return turns(histories)

    together = run_episodes(counted, env, tasks)
    alone = run_one_by_one(turns, env, tasks)
    lengths = [e.model_turns for e in together]
    assert len(set(lengths)) > 1 and rounds[0] == len(tasks) and len(rounds) == max(lengths)
    assert rounds == [sum(n > r for n in lengths) for r in range(max(lengths))]  # the running ones, each round
    assert [e.transcript for e in together] == [e.transcript for e in alone]
    # Deterministic: the same episodes again, in one batch, are the same turn for turn.
    assert [e.transcript for e in run_episodes(turns, env, tasks)] == [e.transcript for e in together]


def test_the_tools_reach_the_prompt_and_a_rerun_takes_every_turn_from_the_cache(suites, env, tasks, tmp_path):
    cache = Cache(tmp_path / "cache")
    first_model = load_model("tiny", suites=suites, cache=cache)
    first = run_episodes(model_turns(first_model, env, MAX_NEW_TOKENS), env, tasks)
    hits, computed = first_model.cache.use(OUTPUTS)
    turns = sum(e.model_turns for e in first)
    assert (hits, computed) == (0, turns)
    prompt = first_model.render(first[0].messages(), env.schemas())
    assert "order_food(item: string, quantity: integer)" in prompt  # tiny writes one signature per tool

    again = load_model("tiny", suites=suites, cache=cache)
    second = run_episodes(model_turns(again, env, MAX_NEW_TOKENS), env, tasks)
    assert again.cache.use(OUTPUTS) == (turns, 0)
    assert [e.transcript for e in second] == [e.transcript for e in first]
