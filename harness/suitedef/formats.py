"""Data formats: one record of a suite's data → one `Example` (chat messages, reference, tools, fields).

- `prompt-completion`: `prompt` and `completion` (the reference);
- `alpaca`: `instruction`, optional `input`, and `output` (the reference);
- `messages`: `messages`, a list of {role, content} (system, user, assistant, tool) ending with the
  assistant's reference;
- `sharegpt`: `conversations`, a list of {from, value} (human, gpt, system, tool or observation,
  function_call), and optional `system`; the last gpt turn is the reference;
- `chat`: OpenAI-style `messages` (assistant `tool_calls`, `tool` results) and optional `tools`;
  the last assistant message is the reference, a tool call becoming compact JSON `{"name", "arguments"}`;
- `bfcl`: the Berkeley Function Calling Leaderboard's question files as they are (`id`, `question`: a list
  of turns, each a list of messages, `function`: the schemas), joined by id to its possible-answer files
  (`data.answers`: `id`, `ground_truth`); single-turn categories only (simple, multiple, parallel,
  parallel_multiple). The reference is the possible answer, as compact JSON, which the tool metrics read
  with its accepted alternatives; the schemas become `tools` with BFCL's types named as JSON Schema's
  (`dict` → `object`, `float` → `number`, `tuple` → `array`).

Conversations end with the assistant's reference, preceded by a user turn or a tool result. A tool
call anywhere is carried as its compact JSON in the assistant's content, so one model sees the same
text for calls in its history, in training targets and in the references it is scored against;
`tools` (the functions' schemas) go to the model's chat template.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, replace
from typing import Any

from harness.common import limits
from harness.common.errors import HarnessError, quoted
from harness.metrics.toolcalls.compare import is_possible_answer

from .templates import render

FORMATS = ("prompt-completion", "messages", "alpaca", "sharegpt", "chat", "bfcl")
REQUIRED = {"prompt-completion": ("prompt", "completion"), "alpaca": ("instruction", "output"),
            "messages": ("messages",), "sharegpt": ("conversations",), "chat": ("messages",),
            "bfcl": ("question", "function", "ground_truth")}
BFCL_TYPES = {"dict": "object", "float": "number", "tuple": "array"}
"""BFCL's parameter types → JSON Schema's, as BFCL itself converts them for OpenAI-style models."""
ALPACA_TEMPLATE = "{{ instruction }}{% if input %}\n\n{{ input }}{% endif %}"
ROLES = ("system", "user", "assistant", "tool")
SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "function_call": "assistant", "tool": "tool", "observation": "tool", "function_response": "tool"}


@dataclass(frozen=True)
class Example:
    """One example, as every model sees it."""

    id: str
    messages: list[dict]
    """The prompt as chat messages ({role, content}); the last is the user's turn or a tool result."""
    reference: str
    """The expected output."""
    fields: dict = field(default_factory=dict, compare=False)
    """The record as read (after the suite's column mapping): templates and metrics read from it."""
    tools: list[dict] | None = None
    """Function schemas offered to the model (`chat` format), passed to its chat template."""
    shots: tuple[str, ...] = ()
    """Ids of the train examples shown before this one (few-shot prompts), in order."""
    task: Any = None
    """An episode suite's task (`harness.suitedef.episodes.Task`): `messages` are then only its opening turns."""


def with_shots(example: Example, train: list[Example], n: int, seed: int) -> Example:
    """The example preceded by `n` train examples (each its turns and its reference), drawn for it
    alone from a generator seeded by `seed` and its id; system turns stay first, once."""
    shots = random.Random(f"{seed}:{example.id}").sample(train, min(n, len(train)))
    system = [m for m in example.messages if m["role"] == "system"]
    prefix = [m for shot in shots for m in shot.messages + [{"role": "assistant", "content": shot.reference}]
              if m["role"] != "system"]
    rest = [m for m in example.messages if m["role"] != "system"]
    return replace(example, messages=system + prefix + rest, shots=tuple(s.id for s in shots))


def to_example(record: Any, fmt: str, template, where: str, default_id: str) -> Example:
    """The example in `record`; one error naming `where` when the record does not fit `fmt`."""
    if not isinstance(record, dict):
        raise HarnessError("expected a JSON object", where)
    for key in REQUIRED[fmt]:
        if key not in record:
            found = ", ".join(list(record)[:12]) or "none"
            raise HarnessError(f"missing field '{key}' (format {fmt} needs {', '.join(REQUIRED[fmt])}); fields found: "
                               f"{found} — map them to the format's fields with data.columns", where)
    ex_id = example_id(record.get("id", default_id), where)
    if fmt in ("prompt-completion", "alpaca"):
        out_key = "completion" if fmt == "prompt-completion" else "output"
        for key in REQUIRED[fmt] + (("input",) if fmt == "alpaca" and "input" in record else ()):
            if not isinstance(record[key], str):
                raise HarnessError(f"field '{key}' must be a string", where)
        variables = {"input": "", **record} if fmt == "alpaca" else record  # alpaca's input is optional
        user = render(template, variables, where) if template is not None else record["prompt"]
        return Example(ex_id, [{"role": "user", "content": user}], record[out_key], record)
    if fmt == "bfcl":
        return _bfcl_example(record, ex_id, template, where)
    if fmt == "sharegpt":
        turns = _sharegpt_messages(record, where)
        tools = None
    elif fmt == "chat":
        turns, tools = _chat_messages(record["messages"], where), _tools(record.get("tools"), where)
    else:
        turns, tools = _plain_messages(record["messages"], where), None
    _check_conversation(turns, fmt, where)
    prompt, reference = [dict(m) for m in turns[:-1]], turns[-1]["content"]
    if template is not None and prompt[-1]["role"] == "user":
        variables = {k: v for k, v in record.items() if k not in REQUIRED[fmt]} | {"content": prompt[-1]["content"]}
        prompt[-1]["content"] = render(template, variables, where)
    return Example(ex_id, prompt, reference, record, tools)


def example_id(value: Any, where: str) -> str:
    """An id as text; ids are strings or integers (null, true or 1.5 would all become different text)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise HarnessError(f"field 'id' must be a string or an integer, not {json.dumps(value)[:40]}", where)
    if isinstance(value, str) and not value.strip():
        raise HarnessError("field 'id' is empty", where)
    text = str(value)
    if len(text) > limits.EXAMPLE_ID_MAX_CHARS:
        raise HarnessError(f"field 'id' is {len(text):,} characters, over the limit of {limits.EXAMPLE_ID_MAX_CHARS} "
                           "(EXAMPLE_ID_MAX_CHARS)", where)
    if any(c < " " or c == "\x7f" for c in text):
        raise HarnessError(f"field 'id' holds a control character: {quoted(text)}", where)
    return text


def _plain_messages(messages: Any, where: str) -> list[dict]:
    if not isinstance(messages, list) or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in messages):
        raise HarnessError("field 'messages' must be a list of {role, content} objects with string values", where)
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def _sharegpt_messages(record: dict, where: str) -> list[dict]:
    turns = record["conversations"]
    if not isinstance(turns, list) or not all(isinstance(t, dict) and isinstance(t.get("from"), str)
                                              and isinstance(t.get("value"), str) for t in turns):
        raise HarnessError("field 'conversations' must be a list of {from, value} objects with string values", where)
    unknown = sorted({t["from"] for t in turns} - set(SHAREGPT_ROLES))
    if unknown:
        raise HarnessError(f"field 'conversations': unknown speaker {unknown[0]!r}; known: "
                           f"{', '.join(SHAREGPT_ROLES)}", where)
    system = record.get("system")
    if system is not None and not isinstance(system, str):
        raise HarnessError("field 'system' must be a string", where)
    head = [{"role": "system", "content": system}] if system else []
    return head + [{"role": SHAREGPT_ROLES[t["from"]], "content": t["value"]} for t in turns]


def _chat_messages(messages: Any, where: str) -> list[dict]:
    if not isinstance(messages, list) or not all(isinstance(m, dict) and isinstance(m.get("role"), str)
                                                 for m in messages):
        raise HarnessError("field 'messages' must be a list of message objects with a 'role'", where)
    out = []
    for i, m in enumerate(messages):
        calls = m.get("tool_calls")
        if calls:
            if m["role"] != "assistant" or not isinstance(calls, list) or len(calls) != 1:
                raise HarnessError(f"messages[{i}]: 'tool_calls' must be one call by the assistant "
                                   "(one call per turn is what the metrics score)", where)
            out.append({"role": "assistant", "content": tool_call_json(calls[0], f"{where}: messages[{i}]")})
        elif isinstance(m.get("content"), str):
            out.append({"role": m["role"], "content": m["content"]})
        else:
            raise HarnessError(f"messages[{i}]: 'content' must be a string (or the assistant's 'tool_calls')", where)
    return out


def tool_call_json(call: Any, where: str) -> str:
    """An OpenAI-style tool call as compact JSON `{"name": …, "arguments": {…}}`, the form metrics parse."""
    function = call.get("function", call) if isinstance(call, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    arguments = function.get("arguments", {}) if isinstance(function, dict) else None
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            raise HarnessError("tool call 'arguments' is a string that is not JSON", where) from None
    if not isinstance(name, str) or not isinstance(arguments, dict):
        raise HarnessError("a tool call needs a 'function' with a string 'name' and object 'arguments'", where)
    return json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False, separators=(",", ":"))


def _bfcl_example(record: dict, ex_id: str, template, where: str) -> Example:
    question, functions, truth = record["question"], record["function"], record["ground_truth"]
    if not isinstance(question, list) or not question or not all(isinstance(t, list) for t in question):
        raise HarnessError("field 'question' must be a list of turns, each a list of messages", where)
    if len(question) > 1:
        raise HarnessError(f"field 'question' has {len(question)} turns: multi-turn BFCL categories are not "
                           "supported (simple, multiple, parallel and parallel_multiple are)", where)
    turns = question[0]
    if not turns or not all(isinstance(m, dict) and m.get("role") in ("system", "user")
                            and isinstance(m.get("content"), str) for m in turns) or turns[-1]["role"] != "user":
        raise HarnessError("field 'question': a turn must be system or user messages {role, content} ending with "
                           "the user's", where)
    if not isinstance(functions, list) or not functions or not all(
            isinstance(f, dict) and isinstance(f.get("name"), str) for f in functions):
        raise HarnessError("field 'function' must be a list of function schemas, each with a 'name'", where)
    if not is_possible_answer(truth):
        raise HarnessError("field 'ground_truth' must be BFCL's possible answer: a list of {function: {argument: "
                           "[accepted values]}}", where)
    prompt = [{"role": m["role"], "content": m["content"]} for m in turns]
    if template is not None:
        variables = {k: v for k, v in record.items() if k not in REQUIRED["bfcl"]} | {"content": prompt[-1]["content"]}
        prompt[-1]["content"] = render(template, variables, where)
    reference = json.dumps(truth, ensure_ascii=False, separators=(",", ":"))
    return Example(ex_id, prompt, reference, record, [{"type": "function", "function": _json_schema_types(f)}
                                                      for f in functions])


def _json_schema_types(node: Any) -> Any:
    """A BFCL schema with its types named as JSON Schema names them (`BFCL_TYPES`)."""
    if isinstance(node, dict):
        return {k: BFCL_TYPES.get(v, v) if k == "type" and isinstance(v, str) else _json_schema_types(v)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_json_schema_types(v) for v in node]
    return node


def _tools(tools: Any, where: str) -> list[dict] | None:
    if tools is None:
        return None
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise HarnessError("field 'tools' must be a list of function schemas (objects)", where)
    return tools


def _check_conversation(turns: list[dict], fmt: str, where: str) -> None:
    name = "conversations" if fmt == "sharegpt" else "messages"
    unknown = sorted({m["role"] for m in turns} - set(ROLES))
    if unknown:
        raise HarnessError(f"field '{name}': unknown role {unknown[0]!r}; roles are {', '.join(ROLES)}", where)
    if len(turns) < 2 or turns[-1]["role"] != "assistant" or turns[-2]["role"] not in ("user", "tool"):
        raise HarnessError(f"field '{name}' must end with a user message (or a tool result) and then the "
                           "assistant's reference", where)
