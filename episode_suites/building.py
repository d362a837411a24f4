"""The vocabulary the scenarios are written in: a task row, a tool call as the policy writes it, a parameter
schema, a fact the simulated user may reveal, and the limits every scenario shares."""
from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    row: dict
    """The task, as a line of tasks.jsonl."""
    plan: list[str]
    """The scripted policy's turns: tool calls (compact JSON) and plain-text messages."""


def call(name: str, **arguments: object) -> str:
    """A tool call as the policy writes it: compact JSON."""
    return json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False, separators=(",", ":"))


def obj(properties: dict, required: list[str]) -> dict:
    """A tool's parameters: an object schema."""
    return {"type": "object", "properties": properties, "required": required}


def fact(slot: str, asked_by: list[str], answer: str) -> dict:
    """Something the simulated user says when a message asks for it."""
    return {"slot": slot, "asked_by": asked_by, "answer": answer}


def task(lang: str, variant: str, opening: str, facts: list[dict], otherwise: str, state: dict, expected: dict,
         answer_facts: list[str]) -> dict:
    """A task row (its id is given when the split is assembled)."""
    return {"goal": "", "user": {"opening": opening, "facts": facts, "otherwise": otherwise}, "state": state,
            "expected": expected, "answer_facts": answer_facts, "fields": {"variant": variant, "language": lang}}


COUNT = {"type": "integer"}
"""Counts are checked by preconditions (1 to 9), not by schema bounds: every schema token counts against `tiny`'s
512 positions, since the schemas are rendered into each prompt."""


MAX_TURNS = 6
"""One more than the longest policy needs (5): a wandering episode stops early, which bounds both its prompt's
length and the rounds a run costs."""


def count_ok(arg: str) -> dict:
    """A precondition: the count argument lies in 1..9."""
    return {"check": {"all": [{"ge": [{"arg": arg}, 1]}, {"le": [{"arg": arg}, 9]}]}, "fail": "bad_count"}
