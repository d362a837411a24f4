"""Function schemas reach every model's prompt, whether or not its chat template knows `tools`.

A chat template without a `tools` branch drops the schemas silently (SmolLM2-135M-Instruct's does):
the model is then asked to call functions it was never shown. Whether a template renders them is
found by rendering a probe conversation with and without a probe schema: the same text both ways
means the template ignores `tools`. Such a model gets the schemas written into a system turn, in
one format (`SYSTEM_TURN_HEAD`, then each schema as compact JSON on a line of its own), put before
the text of the conversation's first system message, or as a new first message when there is none.
"""
from __future__ import annotations

import json
from typing import Any, Literal

ToolRendering = Literal["template", "system turn", "prompt head"]
"""How schemas reach the prompt: the chat template renders `tools`; they are written into a system turn
(the template ignores them); the model has no chat template and gets them as JSON before the turns."""

SYSTEM_TURN_HEAD = ('You can call the functions below. To call one, answer with a JSON object '
                    '{"name": <function name>, "arguments": <object of argument values>}.\nFunctions:')
PROBE_MESSAGES = [{"role": "user", "content": "probe"}]
PROBE_TOOLS = [{"type": "function", "function": {
    "name": "probe_function_7f3a", "description": "A probe: whether the chat template renders tools.",
    "parameters": {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}}}]


def template_renders_tools(tokenizer: Any) -> bool:
    """Whether `tokenizer`'s chat template puts `tools` into the prompt: the probe conversation renders
    differently with the probe schema than without. A template that fails on `tools` does not render them."""
    def render(tools):
        return tokenizer.apply_chat_template(PROBE_MESSAGES, tools=tools, tokenize=False, add_generation_prompt=True)

    try:
        with_tools = render(PROBE_TOOLS)
    except Exception:  # templates raise what they like (jinja2 errors, their own raise_exception)
        return False
    return with_tools != render(None)


def system_turn_text(tools: list[dict]) -> str:
    """The schemas as the system turn's text, in the one documented format."""
    return "\n".join([SYSTEM_TURN_HEAD, *(json.dumps(t, ensure_ascii=False, separators=(",", ":")) for t in tools)])


def with_system_turn(messages: list[dict], tools: list[dict]) -> list[dict]:
    """`messages` with the schemas in a system turn: before the first system message's text (a blank line
    between), or as a new first message."""
    text = system_turn_text(tools)
    out = [dict(m) for m in messages]
    first = next((i for i, m in enumerate(out) if m["role"] == "system"), None)
    if first is None:
        return [{"role": "system", "content": text}, *out]
    out[first]["content"] = f"{text}\n\n{out[first]['content']}"
    return out


def note(rendering: ToolRendering, model: str) -> str:
    """One line saying how the schemas reach `model`'s prompt."""
    if rendering == "template":
        return f"{model}'s chat template renders the function schemas (`tools`)"
    if rendering == "system turn":
        return (f"{model}'s chat template ignores `tools` (a probe rendered the same with and without a schema): "
                "the function schemas are written into a system turn")
    return f"{model} has no chat template: the function schemas are written as JSON before the turns"
