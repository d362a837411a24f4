"""The CPU thread default: one fewer than the cores, shared among processes, overridable, recorded."""
from __future__ import annotations

import pytest
import torch

from harness.common.errors import HarnessError
from harness.runtime import threads


@pytest.fixture(autouse=True)
def keep_torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("cores, processes, expected", [(1, 1, 1), (2, 1, 1), (16, 1, 15), (16, 4, 3), (4, 8, 1)])
def test_default_leaves_a_core_free_and_shares_the_rest(cores, processes, expected):
    assert threads.default_threads(cores, processes) == expected


def test_option_beats_environment_beats_default(monkeypatch):
    monkeypatch.setenv(threads.ENV, "1")
    assert threads.configure(2) == 2 and torch.get_num_threads() == 2
    assert threads.current() == 2
    monkeypatch.setenv(threads.ENV, "1")
    assert threads.configure() == 1 and torch.get_num_threads() == 1
    monkeypatch.delenv(threads.ENV)
    monkeypatch.setattr(threads, "usable_cores", lambda: 3)
    assert threads.configure() == 2 and torch.get_num_threads() == 2
    import os

    assert os.environ[threads.ENV] == "2"  # exported, so children and accelerate agree


def test_zero_threads_is_an_input_error():
    with pytest.raises(HarnessError, match="at least one thread"):
        threads.configure(0)
