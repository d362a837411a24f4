"""Collecting a suite's problems so that `harness suites validate` lists each one once.

A problem that many records share (every row of a file missing the same field) is one entry naming the
rows, `rows 1–40: missing field 'instruction' …`, not forty lines.
"""
from __future__ import annotations

import re

import yaml

from harness.common.errors import HarnessError

MAX_PROBLEMS = 100
"""`harness suites validate` lists at most this many problems per suite."""
MAX_RANGES = 12
"""Row ranges named in one grouped problem; the rest are counted."""
_ROW = re.compile(r"^(?P<file>.+?)(?::(?P<line>\d+)|: row (?P<row>\d+))$")


class SuiteProblems(HarnessError):
    """Every problem found in a suite (the message is the first; `problems` holds them all)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        more = f" (and {len(problems) - 1} more: `harness suites validate` lists them)" if len(problems) > 1 else ""
        super().__init__(problems[0] + more)


class Problems:
    """Collects problems when asked to (grouping one message repeated over a file's records), else raises the
    first."""

    def __init__(self, collect: bool):
        self.collect = collect
        self._entries: list[str | tuple[str, str, str]] = []  # a problem, or (file, unit, message) of a group
        self._rows: dict[tuple[str, str, str], list[int]] = {}

    @property
    def found(self) -> list[str]:
        """Every problem so far, each once, groups with their rows."""
        return [e if isinstance(e, str) else _grouped(*e, self._rows[e]) for e in self._entries]

    def add(self, error: HarnessError) -> None:
        if not self.collect:
            raise error
        row = _ROW.match(error.where or "")
        if row is None:
            if len(self._entries) < MAX_PROBLEMS:
                self._entries.append(str(error))
            return
        unit, number = ("line", row["line"]) if row["line"] else ("row", row["row"])
        key = (row["file"], unit, str(error)[len(error.where or "") + 2:])
        if key not in self._rows:
            if len(self._entries) >= MAX_PROBLEMS:
                return
            self._entries.append(key)
            self._rows[key] = []
        self._rows[key].append(int(number))

    def raise_if_any(self) -> None:
        if self._entries:
            raise SuiteProblems(self.found)


def _grouped(file: str, unit: str, message: str, numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"{file}:{numbers[0]}: {message}" if unit == "line" else f"{file}: row {numbers[0]}: {message}"
    ranges = _ranges(sorted(set(numbers)))
    shown = ", ".join(f"{a}–{b}" if a != b else str(a) for a, b in ranges[:MAX_RANGES])
    if len(ranges) > MAX_RANGES:
        shown += f" and {sum(b - a + 1 for a, b in ranges[MAX_RANGES:])} more"
    return f"{file}: {unit}s {shown} ({len(numbers)} records): {message}"


def _ranges(numbers: list[int]) -> list[tuple[int, int]]:
    """Sorted numbers as runs of consecutive ones: [1, 2, 3, 7] → [(1, 3), (7, 7)]."""
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def yaml_line(text: str, loc: tuple) -> int | None:
    """The 1-based line of the YAML node at `loc` (or its nearest existing parent)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
            if match is None:
                break
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def field_at(text: str, loc: tuple) -> str:
    """How a message names the suite.yaml field at `loc`: `line N: field 'a.0.b'` (no line where none is found)."""
    line = yaml_line(text, loc)
    return f"{f'line {line}: ' if line else ''}field '{'.'.join(map(str, loc))}'"
