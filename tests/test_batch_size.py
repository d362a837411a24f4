"""The GPU batch-size search, with a fake 'fits' in place of trial generations."""
from __future__ import annotations

import math

import pytest

from harness.common.errors import HarnessError
from harness.models.batch_size import CPU_BATCH_SIZE, cached_search, generation_batch_size, largest_fitting


@pytest.mark.parametrize("limit", [1, 2, 7, 64, 100, 512])
def test_finds_the_largest_size_that_fits_in_few_trials(limit):
    for capacity in sorted({1, 2, 3, limit // 3 or 1, limit // 2 or 1, limit - 1 or 1, limit, limit + 50}):
        tried: list[int] = []

        def fits(b, capacity=capacity):
            tried.append(b)
            return b <= capacity

        assert largest_fitting(fits, limit) == min(capacity, limit)
        assert all(1 <= b <= limit for b in tried)
        assert len(tried) <= 2 * math.ceil(math.log2(limit + 1)) + 2
        assert len(set(tried)) == len(tried)  # never the same trial twice


def test_nothing_fits_is_one_clear_error():
    with pytest.raises(HarnessError, match="not even one example fits"):
        largest_fitting(lambda b: False, 64)


def test_the_answer_is_searched_once_and_remembered(tmp_path):
    path = tmp_path / "sizes.json"
    calls = []

    def search():
        calls.append(1)
        return 24

    assert cached_search("k1", search, path) == 24
    assert cached_search("k1", search, path) == 24
    assert calls == [1]
    assert cached_search("k2", lambda: 8, path) == 8  # another model or length: its own search
    assert cached_search("k1", search, path) == 24 and calls == [1]
    path.write_text("not json")  # a damaged cache is searched again, never an error
    assert cached_search("k1", search, path) == 24 and calls == [1, 1]


def test_cpu_keeps_the_fixed_size(small_suites):
    from harness.models.loading import load_model
    from harness.suitedef.suite import find_suites, load_suite

    suites = [load_suite(p) for p in find_suites([small_suites])]
    model = load_model("tiny", suites=suites)
    assert generation_batch_size(model, ["a", "b"], 8) == CPU_BATCH_SIZE
