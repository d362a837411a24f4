"""An episode suite's environment and its test split's tasks, as the suite loader needs them: each task is an
`Example` whose messages are the episode's opening (the environment's system turn, the user's first message),
whose reference is the expected end state and whose `task` the episode loop runs."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from harness.common.errors import HarnessError, quoted

from ..formats import Example
from ..problems import Problems
from ..sources import Rows
from .spec import EnvironmentSpec, load_environment, task_from


def suite_environment(folder: Path, file: str, where: str,
                      problems: Problems) -> tuple[EnvironmentSpec | None, dict[str, Any]]:
    """The suite's environment (None, with the problem added, when it does not load) and where it came from:
    the file and its sha256, which the suite's hashes and the run's record include like a data split's."""
    path = folder / file
    try:
        if not path.is_file():
            raise HarnessError(f"field 'environment': no file {quoted(file)} in the suite folder", where)
        if not path.resolve().is_relative_to(folder.resolve()):
            raise HarnessError(f"field 'environment': {quoted(file)} leads out of the suite folder", where)
        env = load_environment(path)
        return env, {"file": file, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    except HarnessError as e:
        problems.add(e)
        return None, {}


def task_examples(rows: Rows | None, env: EnvironmentSpec, problems: Problems) -> list[Example]:
    """Each task of the test split as an example; ids unique within the split."""
    if rows is None:
        return []
    examples: list[Example] = []
    seen: set[str] = set()
    for where, _, record in rows.records:
        try:
            task = task_from(record, env, where)
            if task.id in seen:
                raise HarnessError(f"a second task with id {quoted(task.id)}", where)
        except HarnessError as e:
            problems.add(e)
            continue
        seen.add(task.id)
        opening = ([{"role": "system", "content": env.system}] if env.system is not None else []) + \
            [{"role": "user", "content": task.user.opening}]
        examples.append(Example(id=task.id, messages=opening, tools=env.schemas(), task=task,
                                reference=json.dumps(task.expected, ensure_ascii=False, sort_keys=True),
                                fields={"goal": task.goal, **task.fields}))
    return examples
