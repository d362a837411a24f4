"""The code in a model's output: what the sandbox runs as the solution."""
from __future__ import annotations

import re


def extract_code(output: str) -> str:
    """The code in a model's output: the first fenced block that defines a function (else the first
    Python or unlabelled block, else the first block); without fences, the lines from the first that
    starts code (def, class, import, from, @) up to the first line of prose after them."""
    blocks = _fenced_blocks(output)
    if blocks:
        python = [code for lang, code in blocks if lang in ("", "python", "py", "python3")]
        for code in python + [code for _, code in blocks]:
            if "def " in code:
                return code.strip("\n")
        return (python or [blocks[0][1]])[0].strip("\n")
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(_CODE_STARTS)), None)
    if start is None:
        return output.strip()
    end = start
    while end < len(lines) and _looks_like_code(lines[end]):
        end += 1
    return "\n".join(lines[start:end]).strip("\n")


_CODE_STARTS = ("def ", "async def ", "class ", "import ", "from ", "@")
_STATEMENT_WORDS = ("if ", "elif ", "else:", "for ", "while ", "try:", "except", "finally:", "with ", "return",
                    "assert ", "raise", "pass", "#", ")", "]", "}")
_ASSIGNMENT_OR_CALL = re.compile(r"[A-Za-z_][\w.]*\s*(\(|\[|=|[-+*/%]=)")  # prose has words before any of these


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of each ``` block; an unclosed last block runs to the end of the text."""
    blocks = []
    parts = text.split("```")
    for i in range(1, len(parts), 2):
        header, _, code = parts[i].partition("\n")
        blocks.append(((header.split() or [""])[0].lower(), code))
    return blocks


def _looks_like_code(line: str) -> bool:
    """A line inside code: blank, indented, a statement, or an assignment or call; prose is none of these."""
    return (not line.strip() or line[0] in " \t" or line.startswith(_CODE_STARTS + _STATEMENT_WORDS)
            or _ASSIGNMENT_OR_CALL.match(line) is not None)

