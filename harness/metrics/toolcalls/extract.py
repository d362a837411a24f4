"""Extraction: the JSON a tool metric scores, found in a model's output before any comparison.

`auto` (the default) takes, in this order:

1. the whole output, when it is valid JSON (of any kind: `[1, 2]` and `"yes"` too);
2. `<tool_call>…</tool_call>` blocks, the tool-call format of Hermes/Qwen-style chat templates: one
   block gives its JSON object, several give the list of them (parallel calls);
3. otherwise the first JSON object, or list of objects, anywhere in the output: prose before it,
   a ```json fence around it and text after it are ignored.

`whole` takes the whole output as JSON, nothing else (the behaviour before extraction existed).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

EXTRACTIONS = ("auto", "whole")
TAGGED = re.compile(r"<tool_call>(.*?)</tool_call>", re.S)
_STARTS = re.compile(r"[{\[]")
MAX_STARTS = 200
"""Positions tried as the start of a JSON value: keeps a long output of stray brackets cheap."""
MAX_CHARS = 100_000
"""Output read for JSON: longer outputs are cut (generation limits keep real outputs far shorter)."""
_DECODER = json.JSONDecoder()


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


def extract(text: str, how: str = "auto") -> Extracted:
    """The JSON value `how` finds in `text` (see the module's docstring)."""
    if how not in EXTRACTIONS:
        raise ValueError(f"extract must be one of {', '.join(EXTRACTIONS)}, not {how!r}")
    text = text[:MAX_CHARS]
    try:
        return Extracted(json.loads(text), "whole output")
    except (json.JSONDecodeError, TypeError):
        if how == "whole":
            return Extracted(failure="extraction (whole): the output is not valid JSON")
    blocks = TAGGED.findall(text)
    if blocks:
        values = []
        for block in blocks:
            try:
                values.append(json.loads(block))
            except json.JSONDecodeError:
                return Extracted(failure="extraction (auto): a <tool_call> block is not valid JSON")
        return Extracted(values[0] if len(values) == 1 else values, "<tool_call> tags")
    for i, start in enumerate(_STARTS.finditer(text)):
        if i == MAX_STARTS:
            break
        try:
            value, _ = _DECODER.raw_decode(text, start.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) or (isinstance(value, list) and value and all(isinstance(v, dict) for v in value)):
            return Extracted(value, "first JSON in the output")
    return Extracted(failure="extraction (auto): no JSON object in the output")


def signature(how: str) -> str:
    """How JSON was found and compared, for the metric's recorded signature; ValueError on an unknown `how`."""
    if how not in EXTRACTIONS:
        raise ValueError(f"extract must be one of {', '.join(EXTRACTIONS)}, not {how!r}")
    return f"extract:{how}|types:strict|numbers:by-value"
