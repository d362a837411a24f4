"""Extraction: the JSON a tool metric scores, found in a model's output before any comparison.

`auto` (the default) takes, in this order:

1. the whole output, when it is valid JSON (of any kind: `[1, 2]` and `"yes"` too);
2. `<tool_call>…</tool_call>` blocks, the tool-call format of Hermes/Qwen-style chat templates: one
   block gives its JSON object, several give the list of them (parallel calls);
3. otherwise the first JSON object, or list of objects, anywhere in the output: prose before it,
   a ```json fence around it and text after it are ignored.

`whole` takes the whole output as JSON, nothing else (the behaviour before extraction existed).

The episode loop (`harness.episodes.calls`) finds a turn's tool calls with the same step, asking for the first
value that is a call (`accept`) and refusing `NaN`/`Infinity`, which are not JSON (`strict`).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

EXTRACTIONS = ("auto", "whole")
TAGGED = re.compile(r"<tool_call>(.*?)</tool_call>", re.S)
_STARTS = re.compile(r"[{\[]")
MAX_STARTS = 200
"""Positions tried as the start of a JSON value: keeps a long output of stray brackets cheap."""
MAX_CHARS = 100_000
"""Output read for JSON: longer outputs are cut (generation limits keep real outputs far shorter)."""
_DECODER = json.JSONDecoder()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_STRICT = json.JSONDecoder(parse_constant=_refuse_constant)


def objects(value: Any) -> bool:
    """A JSON object, or a non-empty list of them: what `auto` takes from inside an output."""
    return isinstance(value, dict) or (isinstance(value, list) and bool(value) and all(isinstance(v, dict)
                                                                                       for v in value))


@dataclass(frozen=True)
class Extracted:
    """What extraction found: a JSON value and how it was found, or None and why not."""

    value: Any = None
    how: str = ""
    """`whole output`, `<tool_call> tags` or `first JSON in the output`."""
    failure: str = ""
    """Why nothing was found (empty when something was)."""

    @property
    def found(self) -> bool:
        return not self.failure


def extract(text: str, how: str = "auto", accept: Callable[[Any], bool] | None = None,
            strict: bool = False) -> Extracted:
    """The JSON value `how` finds in `text` (see the module's docstring). With `accept`, `auto` takes only values it
    accepts (the whole output, or the first such value inside it); `strict` refuses `NaN` and `Infinity`."""
    if how not in EXTRACTIONS:
        raise ValueError(f"extract must be one of {', '.join(EXTRACTIONS)}, not {how!r}")
    decoder = _STRICT if strict else _DECODER
    text = text[:MAX_CHARS]
    try:
        whole = decoder.decode(text)
        if accept is None or accept(whole):
            return Extracted(whole, "whole output")
    except (ValueError, TypeError, RecursionError):
        if how == "whole":
            return Extracted(failure="extraction (whole): the output is not valid JSON")
    blocks = TAGGED.findall(text)
    if blocks:
        values = []
        for block in blocks:
            try:
                values.append(decoder.decode(block.strip()))
            except (ValueError, RecursionError):
                return Extracted(failure="extraction (auto): a <tool_call> block is not valid JSON")
        value = values[0] if len(values) == 1 else values
        if accept is None or accept(value):
            return Extracted(value, "<tool_call> tags")
        return Extracted(failure="extraction (auto): the <tool_call> blocks hold no call")
    for i, start in enumerate(_STARTS.finditer(text)):
        if i == MAX_STARTS:
            break
        try:
            value, _ = decoder.raw_decode(text, start.start())
        except (ValueError, RecursionError):
            continue
        if (accept or objects)(value):
            return Extracted(value, "first JSON in the output")
    return Extracted(failure="extraction (auto): no JSON object in the output")


def signature(how: str) -> str:
    """How JSON was found and compared, for the metric's recorded signature; ValueError on an unknown `how`."""
    if how not in EXTRACTIONS:
        raise ValueError(f"extract must be one of {', '.join(EXTRACTIONS)}, not {how!r}")
    return f"extract:{how}|types:strict|numbers:by-value"
