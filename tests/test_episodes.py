"""Episode suites without a model: the environment's transitions on hand-written traces, the call parser,
the simulated user, the episode metrics, and load-time errors that name the file and field."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.common.errors import HarnessError
from harness.episodes import (
    EPISODE_METRICS,
    Environment,
    episode_results,
    episode_rows,
    parse_tool_calls,
    run_episodes,
    run_one_by_one,
    state_matches,
)
from harness.record import Prediction
from harness.suitedef.episodes import environment_from, load_environment, load_tasks

from .conftest import ROOT

RESTAURANT = ROOT / "tests" / "data" / "episodes" / "restaurant"


@pytest.fixture(scope="module")
def env():
    return load_environment(RESTAURANT / "environment.yaml")


@pytest.fixture(scope="module")
def tasks(env):
    return {t.id: t for t in load_tasks(RESTAURANT / "tasks.jsonl", env)}


def call(name: str, **arguments) -> str:
    return json.dumps({"name": name, "arguments": arguments})


def scripted(policy: dict[str, list[str]]):
    """A turn generator that follows a script per task (found by the user's opening message): its n-th turn in
    an episode is the script's n-th line."""
    def turns(histories: list[list[dict]]) -> list[str]:
        out = []
        for history in histories:
            opening = next(m["content"] for m in history if m["role"] == "user")
            out.append(policy[opening][sum(m["role"] == "assistant" for m in history)])
        return out
    return turns


# A policy that does every task right, handling the failures on the way (sold out → offer an alternative,
# a table too small → try the other one, missing slots → ask the user).
GOOD = {
    "I'd like to order some food.": ["Which dish would you like?", "How many would you like?",
                                     call("order_food", item="noodles", quantity=2),
                                     "Done: 2 x noodles, 24 yuan."],
    "Two portions of dumplings, please.": [call("order_food", item="dumplings", quantity=2),
                                           "Dumplings are sold out. Would you like something else instead?",
                                           "```json\n" + call("order_food", item="rice", quantity=2) + "\n```",
                                           "Ordered two portions of rice."],
    "Can I book a table for three people?": [call("book_table", table="t1", people=3),
                                             "Let me try the other table. " + call("book_table", table="t2", people=3),
                                             "Table t2 is booked for you."],
    "A table for four, please.": [call("book_table", table="t2", people=4),
                                  "Sorry, no table for four is free tonight."],
}


def test_a_successful_call_applies_every_effect_and_fills_the_result(env, tasks):
    place = Environment(env, tasks["order-noodles"].state)
    got = place.call("order_food", {"item": "noodles", "quantity": 2})
    assert (got.message, got.status, got.valid) == ("Ordered 2 x noodles, 24 yuan.", "ok", True)
    assert place.state["menu"]["noodles"]["stock"] == 1  # 3 - 2
    assert place.state["orders"] == [{"item": "noodles", "quantity": 2}]
    assert env.state["menu"]["noodles"]["stock"] == 3  # the declaration's state is never touched
    assert place.call("check_menu", {"item": "noodles"}).message == "noodles: 12 yuan, 1 left."


def test_a_failed_precondition_answers_with_its_failure_and_changes_nothing(env, tasks):
    place = Environment(env, tasks["order-noodles"].state)
    before = json.dumps(place.state, sort_keys=True)
    sold_out = place.call("order_food", {"item": "dumplings", "quantity": 1})
    assert (sold_out.message, sold_out.status, sold_out.valid) == ("Sorry, dumplings is sold out.", "sold_out", True)
    assert place.call("order_food", {"item": "pizza", "quantity": 1}).status == "not_on_menu"
    short = place.call("order_food", {"item": "noodles", "quantity": 4})  # 3 in stock
    assert short.status == "not_enough" and "4 times" in short.message
    assert place.call("book_table", {"table": "t1", "people": 3}).message == "No free table seats 3."
    assert json.dumps(place.state, sort_keys=True) == before
    assert place.call("book_table", {"table": "t2", "people": 3}).status == "ok"
    assert place.call("book_table", {"table": "t2", "people": 1}).message == "Table t2 is already booked."


@pytest.mark.parametrize("name, arguments, why", [
    ("order_pizza", {"item": "noodles", "quantity": 1}, "no tool named 'order_pizza'"),
    ("order_food", {"item": "noodles", "quantity": "2"}, "arguments.quantity is not of type integer"),
    ("order_food", {"item": "noodles", "quantity": True}, "arguments.quantity is not of type integer"),
    ("order_food", {"item": "noodles", "quantity": 2.0}, "arguments.quantity is not of type integer"),
    ("order_food", {"item": "noodles", "quantity": 11}, "arguments.quantity is above 10"),
    ("order_food", {"item": "noodles"}, "arguments.quantity is missing"),
    ("order_food", {"item": "noodles", "quantity": 1, "note": "hot"}, "arguments.note is not a parameter"),
    ("book_table", {"table": "t3", "people": 2}, "arguments.table is not one of ['t1', 't2']"),
    ("order_food", ["noodles", 1], "arguments is not of type object"),
    (["order_food"], {}, "no tool named"),
])
def test_an_invalid_call_is_refused_with_the_reason_and_changes_nothing(env, tasks, name, arguments, why):
    place = Environment(env, tasks["order-noodles"].state)
    got = place.call(name, arguments)
    assert got.status == "invalid" and not got.valid and why in got.message
    assert place.state == tasks["order-noodles"].state


def test_effects_that_cannot_be_carried_out_roll_back_all_of_them():
    spec = environment_from({"state": {"count": 1, "log": "not a list"}, "tools": [{
        "name": "tick", "effects": [{"increment": "count"}, {"append": "log", "value": "tick"}]}]}, "inline.yaml")
    place = Environment(spec, spec.state)
    got = place.call("tick", {})
    assert got.status == "error" and got.valid and "log is not a list" in got.message
    assert place.state == {"count": 1, "log": "not a list"}  # the increment before it was undone too


@pytest.mark.parametrize("text, calls", [
    ('{"name": "a", "arguments": {"x": 1}}', [("a", {"x": 1})]),
    ('Sure! {"name": "a", "arguments": {}} and then more', [("a", {})]),
    ('```json\n[{"name": "a", "arguments": {"x": 1}}, {"name": "b", "arguments": {}}]\n```',
     [("a", {"x": 1}), ("b", {})]),
    ('{"note": {"deep": 1}} then {"name": "b"}', [("b", {})]),  # the first JSON value that is a call
    ('{"name": "a", "arguments": {"x": NaN}}', []),  # not JSON every reader accepts: an invalid attempt
    ("The table is booked {for you}.", []),
    ('<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>', [("a", {"x": 1})]),  # Hermes/Qwen tags
    ('<tool_call>{"name": "a"}</tool_call><tool_call>{"name": "b"}</tool_call>', [("a", {}), ("b", {})]),
    ("[" * 5000 + '{"name": "a"}' + "]" * 5000, []),  # nesting past Python's recursion limit is no call
])
def test_parse_tool_calls_finds_the_first_call_anywhere(text, calls):
    got = parse_tool_calls(text)
    assert [(c.name, c.arguments) for c in got.calls] == calls


def test_a_broken_attempt_is_an_invalid_call_and_prose_is_an_answer():
    assert parse_tool_calls('{"name": "a", "arguments": {"x": }').problem
    assert parse_tool_calls("```json\n{oops}\n```").problem
    assert parse_tool_calls("<tool_call>not json</tool_call>").problem
    plain = parse_tool_calls("Your table is booked; see you at {seven}.")
    assert plain.answer and plain.problem is None


def test_a_scripted_policy_that_does_every_task_succeeds(env, tasks):
    ended = []
    episodes = run_episodes(scripted(GOOD), env, list(tasks.values()), progress=SimpleNamespace(update=ended.append))
    assert ended == [0, 1, 1, 2]  # a progress bar advances as episodes end: after 2, 3, 4 and 4 turns (below)
    rows = episode_rows("restaurant", "base", episodes, lambda messages: json.dumps(messages))
    by_id = {r.id: r for r in rows}
    assert all(r.scores["task_success"] == 1.0 for r in rows), {r.id: r.reasons for r in rows}
    # Hand-counted from GOOD: noodles asks twice then calls once (4 turns); dumplings calls, asks, calls in a
    # fence, answers (4); table for three calls twice (1 fails) and answers (3); table for four calls (fails) and
    # answers (2). Every call parsed and met its schema.
    assert [r.scores["turns_used"] for r in rows] == [4.0, 4.0, 3.0, 2.0]
    assert all(r.scores["calls_valid"] == 1.0 and r.scores["invalid_calls"] == 0.0 for r in rows)
    assert by_id["order-noodles"].scores["answer_facts"] == 1.0 and "answer_facts" not in by_id["book-for-three"].scores
    noodles = by_id["order-noodles"]
    assert [(t.role, t.status) for t in noodles.transcript] == [
        ("system", None), ("user", None), ("assistant", "answer"), ("user", None), ("assistant", "answer"),
        ("user", None), ("assistant", "calls"), ("tool", "ok"), ("assistant", "answer")]
    assert [t.content for t in noodles.transcript if t.role == "user"][1:] == ["Noodles, please.", "Two."]
    assert noodles.end_state["orders"] == [{"item": "noodles", "quantity": 2}] and noodles.episode_end == "answer"
    dumplings = [t for t in by_id["dumplings-sold-out"].transcript if t.role == "tool"]
    assert [(t.tool, t.status) for t in dumplings] == [("order_food", "sold_out"), ("order_food", "ok")]
    # The rows are ordinary predictions: they survive the record's JSON round trip.
    assert Prediction.model_validate_json(noodles.model_dump_json()) == noodles
    results = {r.metric: r for r in episode_results("restaurant", "base", rows)}
    assert results["task_success"].value == 1.0 and results["task_success"].ci_method == "wilson"
    assert results["turns_used"].value == pytest.approx(13 / 4) and results["answer_facts"].n == 3


def test_a_policy_that_skips_a_required_step_fails_the_task(env, tasks):
    skipping = {**GOOD, "I'd like to order some food.": ["Which dish would you like?", "How many would you like?",
                                                         "Done: 2 x noodles, 24 yuan."]}
    episodes = run_episodes(scripted(skipping), env, [tasks["order-noodles"]])
    row, = episode_rows("restaurant", "base", episodes, str)
    assert row.scores["task_success"] == 0.0 and row.scores["answer_facts"] == 1.0  # said it, never did it
    assert row.reasons["task_success"] == "state.orders: expected 1 items, got 0 items; " \
                                          "state.menu.noodles.stock: expected 1, got 3"
    assert row.scores["calls_valid"] == 0.0 and row.reasons["calls_valid"] == "no tool call"


def test_invalid_calls_are_counted_and_the_turn_limit_ends_an_episode(env, tasks):
    broken = '```json\n{"name": "order_food", "arguments": {"item": "rice", "quantity": }\n```'
    looping = {"Two portions of dumplings, please.": [broken, call("order_food", item="rice", quantity="2"),
                                                      call("order_food", item="rice", quantity=2)]
               + ["Anything else?"] * 10}
    task = tasks["dumplings-sold-out"]
    episode, = run_episodes(scripted(looping), env, [task])
    # The broken fence, the string quantity, the good call; then "Anything else?" asks for no fact, and this
    # user has no `otherwise` reply and no script: it is the final answer.
    assert episode.end == "answer" and episode.model_turns == 4 and episode.calls == 3
    row, = episode_rows("restaurant", "base", [episode], str)
    assert row.scores["invalid_calls"] == 2.0 and row.scores["calls_valid"] == pytest.approx(1 / 3)
    assert row.scores["task_success"] == 1.0

    asking = {"I'd like to order some food.": ["What is your budget?"] * 10}
    limited, = run_episodes(scripted(asking), env, [tasks["order-noodles"]])  # `otherwise` answers every question
    assert limited.end == "turn_limit" and limited.model_turns == 6
    row, = episode_rows("restaurant", "base", [limited], str)
    assert row.scores["turns_used"] == 6.0 and row.reasons["turns_used"] == "turn limit reached"
    assert row.scores["task_success"] == 0.0 and row.scores["answer_facts"] == 0.0


def test_the_batched_loop_gives_the_transcripts_of_one_episode_at_a_time(env, tasks):
    calls: list[int] = []
    turns = scripted(GOOD)

    def counted(histories):
        calls.append(len(histories))
        return turns(histories)

    together = run_episodes(counted, env, list(tasks.values()))
    assert calls == [4, 4, 3, 2]  # one call per round over the episodes still running
    alone = run_one_by_one(turns, env, list(tasks.values()))
    assert [e.transcript for e in together] == [e.transcript for e in alone]


def test_state_matches_is_a_strict_subset_match():
    assert state_matches({"a": 1, "b": [{"x": 1, "y": 2}]}, {"b": [{"x": 1}]}) == []
    assert state_matches({"a": True}, {"a": 1}) == ["state.a: expected 1, got true"]
    assert state_matches({"a": 1}, {"a": 1.0}) == ["state.a: expected 1.0, got 1"]
    assert state_matches({"b": [1, 2]}, {"b": [1]}) == ["state.b: expected 1 items, got 2 items"]
    assert state_matches({}, {"c": {}}) == ["state.c: missing"]


def test_episode_metrics_declare_kinds_that_statistics_understand():
    kinds = {name: (m.kind, m.higher_is_better) for name, m in EPISODE_METRICS.items()}
    assert kinds == {"task_success": ("passfail", True), "calls_valid": ("mean", True),
                     "invalid_calls": ("mean", False), "turns_used": ("mean", False), "answer_facts": ("mean", True)}


BASE_TOOL = {"name": "order", "parameters": {"type": "object", "properties": {"item": {"type": "string"}}}}


@pytest.mark.parametrize("change, where, says", [
    ({"tools": [{**BASE_TOOL, "preconditions": [{"check": {"exists": "menu.{dish}"}, "fail": "gone"}]}]},
     "tools[0](order).preconditions[0].check.exists", "'{dish}' names no parameter"),
    ({"tools": [{**BASE_TOOL, "preconditions": [{"check": {"exists": "menu"}, "fail": "nope"}]}]},
     "tools[0](order).preconditions[0].fail", "names no failure"),
    ({"tools": [{**BASE_TOOL, "effects": [{"set": "price", "value": 1.5}]}]},
     "tools[0](order).effects[0].value", "no floats"),
    ({"tools": [{**BASE_TOOL, "effects": [{"set": "price", "value": {"eval": "1+1"}}]}]},
     "tools[0](order).effects[0].value", "unknown value operator 'eval'"),
    ({"tools": [{**BASE_TOOL, "parameters": {"type": "object", "oneOf": []}}]},
     "tools[0](order).parameters", "unsupported schema keyword(s) ['oneOf']"),
    ({"tools": [{**BASE_TOOL, "result": "Ordered {item} at {price}."}]},
     "tools[0](order).result", "{price} is neither a parameter nor a value"),
    ({"tools": [{**BASE_TOOL, "result": "Ordered {item"}]}, "tools[0](order).result", "a lone brace"),
    ({"tools": [BASE_TOOL, BASE_TOOL]}, "tools[1].name", "a second tool named 'order'"),
    ({"tools": []}, "tools", "expected a list of 1 to 64 tools"),
    ({"max_turns": 500}, "max_turns", "expected an integer from 1 to 50"),
])
def test_a_mistake_in_an_environment_is_one_error_naming_file_and_field(change, where, says):
    data = {"state": {"menu": {}}, "failures": {"gone": "{item} is gone"}, "tools": [BASE_TOOL], **change}
    with pytest.raises(HarnessError) as caught:
        environment_from(data, "env.yaml")
    message = str(caught.value)
    assert message.startswith(f"env.yaml: {where}") and says in message and "\n" not in message


@pytest.mark.parametrize("row, where, says", [
    ({"goal": "x", "user": {"opening": "hi"}, "expected": {}}, "id", "`id` must be"),
    ({"id": "a", "user": {"opening": "hi"}}, "expected", "expected a mapping"),
    ({"id": "a", "user": {"opening": "hi", "facts": [{"slot": "s", "asked_by": [], "answer": "x"}]},
      "expected": {}}, "user.facts[0].asked_by", "non-empty list"),
    ({"id": "a", "user": {"opening": "hi"}, "expected": {}, "reward": 1}, "", "unknown key(s) ['reward']"),
])
def test_a_mistake_in_a_task_names_its_line_and_field(tmp_path, env, row, where, says):
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps({"id": "ok", "user": {"opening": "hi"}, "expected": {}}) + "\n" + json.dumps(row) + "\n",
                    encoding="utf-8")
    with pytest.raises(HarnessError) as caught:
        load_tasks(path, env)
    assert str(caught.value).startswith(f"{path}:2{': ' + where if where else ''}") and says in str(caught.value)


def test_the_example_files_load(env, tasks):
    assert sorted(env.tools) == ["book_table", "check_menu", "order_food"]
    assert tasks["book-when-full"].state["tables"]["t2"]["booked"] is True  # the task's own top-level key
    assert tasks["book-when-full"].state["menu"] == env.state["menu"]
    assert Path(env.source).name == "environment.yaml"


def test_hostile_model_output_is_answered_not_raised(env, tasks):
    six = json.dumps([{"name": "check_menu", "arguments": {"item": "rice"}}] * 6)
    hostile = {"I'd like to order some food.": [
        "[" * 5000 + "]" * 5000 + "?",  # deeper than JSON readers go: a question, not a call
        '{"name": {"x": 1}, "arguments": {}}',
        '{"name": "order_food", "arguments": {"item": "noodles", "quantity": 99999999999999999999999}}',
        '{"name": "check_menu", "arguments": {"item": "__class__"}}',
        six, "Done."]}
    task = tasks["order-noodles"]
    episode, = run_episodes(scripted(hostile), env, [task])
    statuses = [t.status for t in episode.transcript if t.role == "tool"]
    assert statuses == ["invalid", "invalid", "not_on_menu", *["ok"] * 4, "invalid", "invalid"]
    assert episode.invalid_calls == 4 and episode.calls == 9 and episode.end == "answer"
    assert episode.transcript[2].status == "answer" and episode.transcript[3].content == "I only want to order food."
    # Without the preconditions that guard them, effects on a missing dish fail and change nothing.
    spec = environment_from({"state": task.state, "tools": [
        {"name": name, "parameters": tool.parameters, "effects": list(tool.effects)}
        for name, tool in env.tools.items()]}, "no-checks.yaml")
    place = Environment(spec, task.state)
    got = place.call("order_food", {"item": "pizza", "quantity": 1})
    assert got.status == "error" and place.state == task.state
