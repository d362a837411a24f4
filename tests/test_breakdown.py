"""Where results come from: the primary metric per label with its interval, and failures by kind, checked on
hand-worked cases (the intervals against the statistics module's Wilson interval, itself cross-checked)."""
from __future__ import annotations

import json

import pytest

from harness.evaluation.breakdown import NO_REASON, by_label, failure_kind, failures
from harness.record import Prediction
from harness.stats import methods
from harness.suitedef.suite import load_suite

from .conftest import cut_suite


@pytest.mark.parametrize("reason, kind", [
    ("output is not valid JSON", "output is not valid JSON"),
    ("wrong 'arguments'", "wrong 'arguments'"),
    ("missing: 周六, 极兔", "missing"),
    ("SyntaxError: invalid syntax (solution line 2)", "SyntaxError"),
    ("NameError: name 'mirror' is not defined (tests line 1)", "NameError"),
    ("AssertionError (tests line 3)", "AssertionError"),
    ("", NO_REASON),
])
def test_a_reason_has_a_kind(reason, kind):
    assert failure_kind(reason) == kind


def _row(ex, output, score, reason=None):
    return Prediction(id=ex.id, state="base", suite="agent_tools", prompt="p", model_input="p", reference=ex.reference,
                      output=output, scores={"exact_match": score}, reasons={"exact_match": reason} if reason else {})


def test_labels_and_failures_of_a_suite(tmp_path):
    suite = load_suite(cut_suite("agent_tools", tmp_path / "s", 0, 12))
    # pass the first example of each tool, fail the rest: two kinds of failure
    seen: set[str] = set()
    rows = []
    for i, ex in enumerate(suite.test):
        tool = json.loads(ex.reference)["name"]
        if tool not in seen:
            seen.add(tool)
            rows.append(_row(ex, ex.reference, 1.0))
        else:
            rows.append(_row(ex, "{", 0.0, "output is not valid JSON" if i % 2 else "JSON differs from the reference"))
    labels = by_label(suite, "base", rows, seed=0)
    tools = {}
    for ex in suite.test:
        tools.setdefault(json.loads(ex.reference)["name"], []).append(ex.id)
    assert {r.label for r in labels} == set(tools)
    for r in labels:
        n = len(tools[r.label])
        assert (r.n, r.value, r.metric, r.ci_method) == (n, 1 / n, "exact_match", "wilson")
        assert (r.ci_low, r.ci_high) == pytest.approx(methods.wilson(1, n))
    (f,) = [f for f in failures(suite, "base", rows) if f.metric == "exact_match"]
    failing = [r for r in rows if r.scores["exact_match"] == 0]
    assert f.scored == len(rows) and sum(f.kinds.values()) == len(failing)
    assert f.kinds["output is not valid JSON"] == sum(r.reasons["exact_match"].startswith("output") for r in failing)


def test_a_suite_without_labels_has_no_label_rows(tmp_path):
    suite = load_suite(cut_suite("summarize_en", tmp_path / "s", 0, 4))
    rows = [Prediction(id=ex.id, state="base", suite=suite.name, prompt="p", model_input="p", reference=ex.reference,
                       output=ex.reference, scores={}, reasons={}) for ex in suite.test]
    assert by_label(suite, "base", rows, seed=0) == []
