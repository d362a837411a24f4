"""A chat model's training example as the trainer sees it: token ids, and which of them carry the loss.

An example is a conversation whose last turn is the completion. Usually only that turn is trained on; an
episode's transcript trains as one sequence with the loss on every assistant turn, and on nothing of the system,
user or tool turns. Each trained turn's tokens are found through the chat template itself, as TRL finds a
completion's: from where the conversation before the turn, rendered with the generation prompt, stops agreeing
with the conversation through the turn, to the end of the latter (the turn's closing tokens included).

One sequence needs the template to render a conversation's beginning the same whether or not more follows.
Where it does not (a template that rewrites earlier turns, say), that transcript trains as one sequence per
assistant turn instead, each with everything before the turn as its prompt, which holds for every template.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .loading import Model

Row = tuple[list[int], list[int]]
"""Token ids and their loss mask (1: trained on)."""


def chat_rows(model: Model, messages: list[dict], completion: str, tools: list[dict] | None,
              every_turn: bool = False) -> list[Row]:
    """The training sequences of one example for a chat model: one, or one per trained turn (see above)."""
    conversation = [*messages, {"role": "assistant", "content": completion}]
    rendered, schemas = model.chat_parts(conversation, tools)
    shift = len(rendered) - len(conversation)  # a system turn put in front for a template without tools
    last = len(conversation) - 1
    trained = [i + shift for i, m in enumerate(conversation)
               if m["role"] == "assistant" and (every_turn or i == last)]

    def ids(turns: list[dict], generation_prompt: bool = False) -> list[int]:
        return list(model.tokenizer.apply_chat_template(turns, tools=schemas, tokenize=True, return_dict=True,
                                                        add_generation_prompt=generation_prompt)["input_ids"])

    def turn(i: int) -> tuple[list[int], int]:
        """The conversation through turn i, and where turn i starts in it."""
        through = ids(rendered[:i + 1])
        return through, common_prefix_length(ids(rendered[:i], generation_prompt=True), through)

    turns = [turn(i) for i in trained]
    whole = turns[-1][0]
    if all(whole[:len(through)] == through for through, _ in turns):
        mask = [0] * len(whole)
        for through, start in turns:
            mask[start:len(through)] = [1] * (len(through) - start)
        return [(whole, mask)]
    return [(through, [0] * start + [1] * (len(through) - start)) for through, start in turns]


def common_prefix_length(a: list[int], b: list[int]) -> int:
    """How many leading tokens the two sequences share: where a completion starts when a prompt's tokens are
    not all a prefix of the prompt and completion's (a merge across the boundary, a template's difference)."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n
