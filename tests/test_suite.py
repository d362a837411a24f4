"""Suite validation: every bad input is one message naming the file, field or line."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.common.errors import HarnessError
from harness.suitedef.suite import find_suites, load_suite

from .conftest import ROOT, SHIPPED, cut_suite


def write_suite(folder: Path, spec: dict | str, train: list | None = None, test: list | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = spec if isinstance(spec, str) else yaml.safe_dump(spec, allow_unicode=True, sort_keys=False)
    (folder / "suite.yaml").write_text(text, encoding="utf-8")
    for name, rows in (("train.jsonl", train), ("test.jsonl", test)):
        if rows is not None:
            (folder / name).write_text("".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) + "\n"
                                               for r in rows), encoding="utf-8")
    return folder


def basic_spec(**changes) -> dict:
    spec = {"name": "s", "version": "1", "language": "en",
            # Most tests here train and test on the same two rows: said so, as a suite must.
            "data": {"format": "prompt-completion", "train": "train.jsonl", "test": "test.jsonl", "same_file_ok": True},
            "template": "Say: {{ prompt }}", "metrics": ["exact_match"], "gates": [{"metric": "exact_match", "min": 0.5}]}
    spec.update(changes)
    return spec


ROWS = [{"id": "a", "prompt": "hi", "completion": "hello"}, {"id": "b", "prompt": "bye", "completion": "goodbye"}]


def error_of(folder: Path) -> str:
    with pytest.raises(HarnessError) as e:
        load_suite(folder)
    return str(e.value)


def test_shipped_suites_load_with_their_sizes():
    suites = {s.name: s for s in map(load_suite, find_suites([SHIPPED]))}
    assert len(suites["agent_tools"].train) >= 1000 and len(suites["agent_tools"].test) >= 200
    assert len(suites["translate_en_zh"].train) >= 500 and len(suites["translate_en_zh"].test) >= 100
    seed = [e for e in suites["translate_en_zh"].train if e.reference == "你好，世界！"]
    assert seed and seed[0].messages[-1]["content"] == "翻译这句话：'Hello, world!'"


def test_template_renders_each_example(tmp_path):
    suite = load_suite(write_suite(tmp_path, basic_spec(), ROWS, ROWS))
    assert suite.test[0].messages == [{"role": "user", "content": "Say: hi"}]
    assert suite.test[1].reference == "goodbye"


def test_alpaca_and_messages_formats(tmp_path):
    alpaca = [{"instruction": "Translate", "input": "cat", "output": "猫"}, {"instruction": "Greet", "output": "hi"}]
    suite = load_suite(write_suite(tmp_path / "a", basic_spec(data={"format": "alpaca", "test": "test.jsonl"},
                                                             template=None), test=alpaca))
    assert [e.messages[0]["content"] for e in suite.test] == ["Translate\n\ncat", "Greet"]
    assert suite.test[0].id == "test-00001"
    msgs = [{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+2"},
                          {"role": "assistant", "content": "4"}]}]
    suite = load_suite(write_suite(tmp_path / "m", basic_spec(data={"format": "messages", "test": "test.jsonl"},
                                                             template="Q: {{ content }}"), test=msgs))
    assert suite.test[0].messages == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "Q: 2+2"}]
    assert suite.test[0].reference == "4"


def test_bad_yaml_names_file_and_line(tmp_path):
    folder = write_suite(tmp_path, "name: s\nversion: 1\ndata: [unclosed\n", test=ROWS)
    msg = error_of(folder)
    assert "suite.yaml" in msg and "line" in msg and "invalid YAML" in msg


def test_missing_field_is_named(tmp_path):
    spec = basic_spec()
    del spec["metrics"]
    msg = error_of(write_suite(tmp_path, spec, ROWS, ROWS))
    assert "suite.yaml" in msg and "field 'metrics'" in msg and "Field required" in msg


def test_wrong_value_names_field_and_line(tmp_path):
    spec = basic_spec(data={"format": "csv", "test": "test.jsonl"})
    msg = error_of(write_suite(tmp_path, spec, ROWS, ROWS))
    assert "field 'data.format'" in msg and "line 5" in msg


def test_unknown_metric_and_gate_on_unlisted_metric(tmp_path):
    assert "unknown metric 'accuracy'" in error_of(write_suite(tmp_path / "a", basic_spec(metrics=["accuracy"]), ROWS, ROWS))
    spec = basic_spec(gates=[{"metric": "bleu", "min": 1}])
    assert "gates[0]" in error_of(write_suite(tmp_path / "b", spec, ROWS, ROWS))
    spec = basic_spec(gates=[{"metric": "exact_match", "min": 1, "min_delta": 0.1}])
    assert "exactly one of `min`, `min_delta`" in error_of(write_suite(tmp_path / "c", spec, ROWS, ROWS))
    spec = basic_spec(metrics=[{"name": "exact_match", "parse": "xml"}])
    assert "parse must be" in error_of(write_suite(tmp_path / "d", spec, ROWS, ROWS))


def test_bad_jsonl_line_is_named(tmp_path):
    rows = [ROWS[0], "{not json\n", ROWS[1]]
    msg = error_of(write_suite(tmp_path, basic_spec(), ROWS, rows))
    assert "test.jsonl:2" in msg and "invalid JSON" in msg


def test_missing_jsonl_field_and_duplicate_id(tmp_path):
    msg = error_of(write_suite(tmp_path / "a", basic_spec(), ROWS, [ROWS[0], {"id": "c", "prompt": "x"}]))
    assert "test.jsonl:2" in msg and "missing field 'completion'" in msg
    msg = error_of(write_suite(tmp_path / "b", basic_spec(), ROWS, [ROWS[0], ROWS[0]]))
    assert "test.jsonl:2" in msg and "duplicate id 'a'" in msg


def test_template_errors(tmp_path):
    msg = error_of(write_suite(tmp_path / "a", basic_spec(template="{{ promt }}"), ROWS, ROWS))
    assert "test.jsonl:1" in msg and "'promt' is undefined" in msg
    msg = error_of(write_suite(tmp_path / "b", basic_spec(template="{% if %}"), ROWS, ROWS))
    assert "template line 1" in msg
    msg = error_of(write_suite(tmp_path / "c", basic_spec(template="{{ prompt.__class__.__mro__ }}"), ROWS, ROWS))
    assert "test.jsonl:1" in msg and "template" in msg


def test_sandbox_blocks_python_internals(tmp_path):
    spec = basic_spec(template="{{ ''.__class__.__mro__[1].__subclasses__() }}")
    msg = error_of(write_suite(tmp_path, spec, ROWS, ROWS))
    assert "test.jsonl:1" in msg and "not allowed in the sandbox" in msg


def test_validate_command_exit_codes(tmp_path, capsys):
    good = cut_suite("agent_tools", tmp_path / "good", 5, 5)
    assert main(["suites", "validate", str(good)]) == 0
    bad = write_suite(tmp_path / "bad", basic_spec(), ROWS, [ROWS[0], "oops\n"])
    assert main(["suites", "validate", str(bad)]) == 1
    assert "test.jsonl:2" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(p.parent.name for p in (ROOT / "suites").glob("*/make_data.py")))
def test_shipped_data_is_what_its_generator_writes(name, tmp_path):
    """The committed JSONL is byte for byte what make_data.py writes (run in a copy of the folder)."""
    import subprocess
    import sys

    folder = shutil.copytree(ROOT / "suites" / name, tmp_path / name)
    for data in folder.glob("*.jsonl"):
        data.unlink()
    subprocess.run([sys.executable, str(folder / "make_data.py")], check=True, capture_output=True, timeout=120,
                   cwd=tmp_path)
    for data in (ROOT / "suites" / name).glob("*.jsonl"):
        assert (folder / data.name).read_bytes() == data.read_bytes(), f"{name}/{data.name} differs from its generator"
