"""Bringing one's own data: one file split by the harness, `suites new --from`, the command line around it,
and validation that reports each problem once (the stumbles of a new user with a 40-record file)."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.common.errors import HarnessError
from harness.suitedef.suite import SuiteProblems, load_suite


def alpaca_rows(n: int = 40, answer: str = "output") -> list[dict]:
    return [{"instruction": "Add the numbers.", "input": f"{i} and {i % 7}", answer: str(i + i % 7),
             "category": "small" if i % 4 else "round"} for i in range(n)]


def write(folder: Path, spec: dict, files: dict[str, list[dict]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "suite.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    for name, rows in files.items():
        text = json.dumps(rows) if name.endswith(".json") else "".join(json.dumps(r) + "\n" for r in rows)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def split_spec(**data) -> dict:
    return {"name": "own", "version": 1, "data": {"format": "alpaca", "file": "data.json", **data},
            "metrics": ["exact_match"]}


# --- 1. one file, split by the harness ----------------------------------------------------------------------

def test_one_file_is_split_seeded_disjoint_and_recorded(tmp_path):
    folder = write(tmp_path / "s", split_spec(test_fraction=0.25, split_seed=3), {"data.json": alpaca_rows()})
    suite = load_suite(folder)
    test, train = {e.id for e in suite.test}, {e.id for e in suite.train}
    assert len(test) == 10 and len(train) == 30 and not test & train  # round(0.25 × 40) held out, the rest trains
    assert test | train == {f"data-{n:05d}" for n in range(1, 41)}
    assert suite.sources["test"]["split"] == {"test_fraction": 0.25, "split_seed": 3, "stratified_by": None,
                                              "test": 10, "train": 30}
    assert {e.id for e in load_suite(folder).test} == test, "the same seed holds out the same records"
    other = write(tmp_path / "t", split_spec(test_fraction=0.25, split_seed=4), {"data.json": alpaca_rows()})
    assert {e.id for e in load_suite(other).test} != test
    from harness.suitedef.suite import results_hash

    assert results_hash(load_suite(other)) != results_hash(suite), "another split is another result"


def test_the_split_keeps_each_labels_share(tmp_path):
    # 10 "round" and 30 "small" records: 0.2 holds out 2 and 6 (hand-worked), not whatever a plain shuffle gives.
    spec = split_spec(test_fraction=0.2) | {"labels": "category"}
    suite = load_suite(write(tmp_path / "s", spec, {"data.json": alpaca_rows()}))
    assert Counter(e.fields["category"] for e in suite.test) == {"round": 2, "small": 6}
    assert Counter(e.fields["category"] for e in suite.train) == {"round": 8, "small": 24}
    assert suite.sources["train"]["split"]["stratified_by"] == "category"


@pytest.mark.parametrize("data, message", [
    ({"test": "t.jsonl"}, "give `file` (split by the harness) or `test` and `train`, not both"),
    ({"test_fraction": 1.5}, "field 'data.test_fraction': Input should be less than 1"),
])
def test_a_split_is_asked_for_clearly(tmp_path, data, message):
    with pytest.raises(HarnessError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_suite(write(tmp_path / "s", split_spec(**data), {"data.json": alpaca_rows()}))


def test_splitting_needs_no_file_when_test_and_train_are_given(tmp_path):
    spec = {"name": "own", "version": "1", "metrics": ["exact_match"],
            "data": {"format": "alpaca", "test": "t.jsonl", "split_seed": 1}}
    with pytest.raises(HarnessError, match="`split_seed` splits `file`, and this suite gives none"):
        load_suite(write(tmp_path / "s", spec, {"t.jsonl": alpaca_rows(4)}))


def test_too_few_records_to_split_is_one_line(tmp_path):
    with pytest.raises(HarnessError, match=r"data.json: test_fraction 0.2 of 1 records leaves no test examples"):
        load_suite(write(tmp_path / "s", split_spec(), {"data.json": alpaca_rows(1)}))


def test_the_same_file_as_train_and_test_is_an_error_unless_meant(tmp_path):
    spec = {"name": "own", "version": "1", "metrics": ["exact_match"],
            "data": {"format": "alpaca", "train": "d.jsonl", "test": "d.jsonl"}}
    folder = write(tmp_path / "s", spec, {"d.jsonl": alpaca_rows()})
    with pytest.raises(HarnessError, match="field 'data.train': holds the same data as data.test") as e:
        load_suite(folder)
    line = (folder / "suite.yaml").read_text(encoding="utf-8").splitlines().index("  train: d.jsonl") + 1
    assert f"line {line}:" in str(e.value) and "same_file_ok: true" in str(e.value) and "test_fraction" in str(e.value)
    assert main(["suites", "validate", str(folder)]) == 1
    spec["data"]["same_file_ok"] = True
    assert len(load_suite(write(tmp_path / "s", spec, {})).train) == 40


# --- `suites new --from FILE` -------------------------------------------------------------------------------

def test_suites_new_from_a_file_guesses_says_and_validates(tmp_path, capsys):
    source = tmp_path / "mine.json"
    source.write_text(json.dumps(alpaca_rows(answer="response")), encoding="utf-8")
    folder = tmp_path / "project" / "suites" / "mine"
    assert main(["suites", "new", "mine", "--from", str(source), "--dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "guessed format: alpaca" in out and "guessed columns: response → output" in out
    assert "guessed labels: category (2 values)" in out
    spec = yaml.safe_load((folder / "suite.yaml").read_text(encoding="utf-8"))
    assert spec["data"] == {"format": "alpaca", "file": "data.json", "test_fraction": 0.2, "split_seed": 0,
                            "columns": {"response": "output"}}
    assert (folder / "data.json").read_bytes() == source.read_bytes(), "the suite holds its own copy"
    suite = load_suite(folder)
    assert (len(suite.train), len(suite.test)) == (32, 8)
    # 32 examples at batch size 16 are 2 steps an epoch: the default 3 epochs make 6, 25 make 50.
    assert "are 6 optimizer steps" in out and f"harness run --suite {folder} --backend lora --set lora.epochs=25" in out
    assert main(["suites", "validate", str(folder)]) == 0


@pytest.mark.parametrize("rows, fmt, columns", [
    ([{"question": "2+2", "answer": "4"}] * 3 + [{"question": "1+1", "answer": "2"}] * 3,
     "prompt-completion", {"question": "prompt", "answer": "completion"}),
    ([{"prompt": f"p{i}", "completion": f"c{i}"} for i in range(6)], "prompt-completion", None),
    ([{"conversations": [{"from": "human", "value": f"q{i}"}, {"from": "gpt", "value": "a"}]} for i in range(6)],
     "sharegpt", None),
])
def test_suites_new_from_reads_other_shapes(tmp_path, rows, fmt, columns):
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["suites", "new", "x", "--from", str(source), "--dir", str(tmp_path / "x")]) == 0
    data = yaml.safe_load((tmp_path / "x" / "suite.yaml").read_text(encoding="utf-8"))["data"]
    assert data["format"] == fmt and data.get("columns") == columns and data["file"] == "data.jsonl"


def test_suites_new_from_unknown_fields_names_them_and_leaves_nothing(tmp_path, capsys):
    source = tmp_path / "odd.jsonl"
    source.write_text('{"foo": "a", "bar": "b"}\n{"foo": "c", "bar": "d"}\n', encoding="utf-8")
    assert main(["suites", "new", "x", "--from", str(source), "--dir", str(tmp_path / "out" / "x")]) == 2
    err = capsys.readouterr().err
    assert f"{source}: cannot tell which fields hold the prompt and the reference" in err and "foo, bar" in err
    assert not (tmp_path / "out").exists()
    source.write_text("".join(json.dumps({"question": f"{i}+{i}", "answer": 2 * i}) + "\n" for i in range(6)),
                      encoding="utf-8")
    assert main(["suites", "new", "x", "--from", str(source), "--dir", str(tmp_path / "out" / "x")]) == 2
    err = capsys.readouterr().err
    assert (f"the suite guessed from it does not fit the data: {source}: lines 1–6 (6 records): field 'completion' "
            "must be a string") in err
    assert list((tmp_path / "out").iterdir()) == [], "nothing half-written"


# --- 2. the command line ------------------------------------------------------------------------------------

@pytest.fixture
def outside_suite(tmp_path) -> Path:
    """A suite whose data lies beside its folder, not in it."""
    (tmp_path / "shared.json").write_text(json.dumps(alpaca_rows()), encoding="utf-8")
    return write(tmp_path / "orders", split_spec() | {"data": {"format": "alpaca", "file": "../shared.json"}}, {})


@pytest.mark.parametrize("order", ["before", "after"])
def test_options_may_come_before_or_after_the_paths(outside_suite, capsys, order):
    args = ["--allow-outside-data", str(outside_suite)]
    assert main(["suites", "validate", *(args if order == "before" else args[::-1])]) == 0
    assert "ok       own" in capsys.readouterr().out
    assert main(["suites", "validate", str(outside_suite)]) == 1


def test_data_check_passes_allow_outside_data_on(outside_suite, capsys):
    code = main(["data", "check", "--allow-outside-data", "--suite", str(outside_suite), "--backend", "lora"])
    captured = capsys.readouterr()
    assert code in (0, 1) and "--allow-outside-data" not in captured.err, captured.err
    assert "own" in captured.out


def test_rows_sharing_a_problem_are_one_line_with_their_fields(tmp_path, capsys):
    rows = [{"prompt": f"p{i}", "answer": "a"} for i in range(40)]
    spec = {"name": "own", "version": "1", "metrics": ["exact_match"], "data": {"format": "alpaca", "test": "t.jsonl"}}
    folder = write(tmp_path / "s", spec, {"t.jsonl": rows})
    with pytest.raises(SuiteProblems) as e:
        load_suite(folder, every_problem=True)
    assert e.value.problems == [f"{folder / 't.jsonl'}: lines 1–40 (40 records): missing field 'instruction' (format "
                                "alpaca needs instruction, output); fields found: prompt, answer — map them to the "
                                "format's fields with data.columns"]


def test_two_misspelt_metrics_are_reported_in_one_run(tmp_path, capsys):
    spec = {"name": "own", "version": 1.5, "data": {"format": "alpaca", "test": "t.jsonl"},
            "metrics": ["exact_macth", "chrf", "blue"]}
    rows = alpaca_rows(3) + [{"prompt": "p", "answer": "a"}] * 2
    folder = write(tmp_path / "s", spec, {"t.jsonl": rows})
    assert main(["suites", "validate", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "field 'metrics.0': unknown metric 'exact_macth' (did you mean 'exact_match'?)" in err
    assert "field 'metrics.2': unknown metric 'blue' (did you mean 'bleu'?)" in err
    assert "field 'version': must be a quoted string" in err, "problems of every kind in one run"
    assert "t.jsonl: lines 4–5 (2 records): missing field 'instruction'" in err, "the data's too"
    assert err.count("INVALID") == 4


def test_examples_lacking_a_metrics_field_are_one_problem(tmp_path):
    rows = [{"id": f"q{i}", "prompt": f"p{i}", "completion": "c"} for i in range(8)]
    spec = {"name": "own", "version": "1", "metrics": ["facts_present"],
            "data": {"format": "prompt-completion", "test": "t.jsonl"}}
    folder = write(tmp_path / "s", spec, {"t.jsonl": rows})
    with pytest.raises(SuiteProblems) as e:
        load_suite(folder, every_problem=True)
    assert e.value.problems == [f"{folder / 't.jsonl'}: examples 'q0', 'q1', 'q2', 'q3', 'q4' and 3 more: missing "
                                "field 'facts', which metric 'facts_present' reads"]


def test_suites_new_takes_a_format_or_a_file_not_both(tmp_path, capsys):
    source = tmp_path / "d.jsonl"
    source.write_text(json.dumps({"prompt": "p", "completion": "c"}) + "\n", encoding="utf-8")
    assert main(["suites", "new", "x", "--from", str(source), "--format", "alpaca", "--dir", str(tmp_path / "x")]) == 2
    assert "give --format or --from, not both" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert main(["suites", "new", "y", "--dir", str(tmp_path / "y")]) == 0
    assert "New suite y (prompt-completion)" in capsys.readouterr().out


def test_export_reads_the_suites_as_the_run_was_allowed_to(outside_suite, tmp_path):
    from bench.synthetic import make_run
    from harness.record import load_record
    from harness.tuning.export import _sample

    run_dir = make_run(tmp_path / "runs", suites={"agent_tools": 4}, backends=("lora",))
    record = load_record(run_dir)
    record.suites[0].path = str(outside_suite)
    with pytest.raises(HarnessError, match="must be a path inside the suite folder"):
        _sample(record, run_dir, "lora")
    record.allow_outside_data = True
    assert len(_sample(record, run_dir, "lora")) == 4
