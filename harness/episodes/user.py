"""The scripted simulated user: what it says when the assistant answers in plain text instead of calling a tool.

In order: if the assistant's message contains a word a fact is `asked_by` (case-insensitively), the user gives
the answers of every such fact; else, if the message is a question (it holds `?` or `？`) and the task has an
`otherwise` reply, the user says that; else, the next line of the task's `script`, if one is left; else
nothing, and the message is the assistant's final answer. The user says nothing else: it never volunteers a
fact it was not asked for, and it cannot judge whether the assistant's claims are true.
"""
from __future__ import annotations

from harness.suitedef.episodes.spec import SimulatedUser


def user_reply(user: SimulatedUser, message: str, script_used: int) -> tuple[str | None, int]:
    """(the user's reply or None when the episode ends, the script lines used after it)."""
    text = message.casefold()
    answers = [fact.answer for fact in user.facts if any(w.casefold() in text for w in fact.asked_by)]
    if answers:
        return " ".join(answers), script_used
    if user.otherwise is not None and ("?" in message or "？" in message):
        return user.otherwise, script_used
    if script_used < len(user.script):
        return user.script[script_used], script_used + 1
    return None, script_used
