"""Data formats, sources, column mappings, prompt variants, few-shot prompts, --limit and scaffolding."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.common.errors import HarnessError
from harness.record import load_predictions, load_record
from harness.run import orchestrate as run
from harness.suitedef.formats import with_shots
from harness.suitedef.scaffold import new_suite
from harness.suitedef.suite import SuiteProblems, limited, load_suite

from .conftest import cut_suite


def write_suite(folder: Path, spec: dict, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    (folder / "suite.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def jsonl(*rows) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def spec(fmt: str, **changes) -> dict:
    return {"name": "s", "version": "1", "data": {"format": fmt, "test": "test.jsonl"}, "metrics": ["exact_match"],
            **changes}


def test_sharegpt_maps_speakers_to_roles(tmp_path):
    row = {"system": "Be brief.", "conversations": [
        {"from": "human", "value": "Weather in Oslo?"}, {"from": "function_call", "value": '{"name":"w"}'},
        {"from": "observation", "value": '{"t":3}'}, {"from": "gpt", "value": "3 degrees."}]}
    (ex,) = load_suite(write_suite(tmp_path / "s", spec("sharegpt"), {"test.jsonl": jsonl(row)})).test
    assert [m["role"] for m in ex.messages] == ["system", "user", "assistant", "tool"]
    assert ex.reference == "3 degrees."
    bad = {"conversations": [{"from": "human", "value": "x"}, {"from": "robot", "value": "y"}]}
    with pytest.raises(HarnessError, match=r"test.jsonl:1: .*unknown speaker 'robot'"):
        load_suite(write_suite(tmp_path / "b", spec("sharegpt"), {"test.jsonl": jsonl(bad)}))


def test_chat_format_turns_tool_calls_into_json_and_keeps_tools(tmp_path):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
    first = {"tools": tools, "messages": [{"role": "user", "content": "Weather in Oslo?"},
                                          {"role": "assistant", "content": None, "tool_calls": [call]}]}
    second = {"tools": tools, "messages": [*first["messages"], {"role": "tool", "tool_call_id": "c1", "content": "3C"},
                                           {"role": "assistant", "content": "It is 3C in Oslo."}]}
    suite = load_suite(write_suite(tmp_path / "s", spec("chat"), {"test.jsonl": jsonl(first, second)}))
    a, b = suite.test
    assert a.reference == '{"name":"get_weather","arguments":{"city":"Oslo"}}' and a.tools == tools
    assert b.messages[1] == {"role": "assistant", "content": a.reference} and b.messages[-1]["role"] == "tool"
    assert b.reference == "It is 3C in Oslo."


def test_tiny_renders_tools_and_tool_turns(small_run):
    from harness.models.loading import load_model

    model = load_model(load_record(small_run).model_path)
    tools = [{"type": "function", "function": {"name": "f"}}]
    text = model.render([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "{}"},
                         {"role": "tool", "content": "ok"}], tools)
    assert text.startswith("<|system|>f()<|end|><|user|>hi") and "<|tool|>ok<|end|>" in text
    assert text.endswith("<|assistant|>") and "<|tool|>" in model.tokenizer.get_vocab()


@pytest.mark.parametrize("suffix", [".json", ".csv", ".parquet"])
def test_files_read_through_datasets_with_a_column_mapping(tmp_path, suffix):
    import datasets

    rows = [{"question": f"q{i}", "answer": f"a{i}", "id": f"x{i}"} for i in range(3)]
    folder = tmp_path / "s"
    folder.mkdir()
    ds = datasets.Dataset.from_list(rows)
    {".json": lambda p: ds.to_json(p), ".csv": lambda p: ds.to_csv(p, index=False),
     ".parquet": lambda p: ds.to_parquet(p)}[suffix](str(folder / f"test{suffix}"))
    data = {"format": "prompt-completion", "test": f"test{suffix}", "columns": {"question": "prompt",
                                                                                "answer": "completion"}}
    (folder / "suite.yaml").write_text(yaml.safe_dump(spec("prompt-completion", data=data)), encoding="utf-8")
    suite = load_suite(folder)
    assert [(e.id, e.messages[0]["content"], e.reference) for e in suite.test] == [(r["id"], r["question"], r["answer"])
                                                                                   for r in rows]
    assert suite.sources["test"]["file"] == f"test{suffix}" and len(suite.sources["test"]["sha256"]) == 64


def test_a_hub_dataset_offline_is_one_clear_line(tmp_path):
    data = {"format": "prompt-completion", "test": {"dataset": "nobody/nothing", "split": "test"}}
    folder = write_suite(tmp_path / "s", spec("prompt-completion", data=data), {})
    with pytest.raises(HarnessError, match=r"data.test: dataset 'nobody/nothing': cannot read it through datasets"):
        load_suite(folder)


def test_validate_reports_every_problem_at_once(tmp_path, capsys):
    rows = jsonl({"prompt": "a"}, {"prompt": "b", "completion": 1}, {"prompt": "c", "completion": "ok"})
    folder = write_suite(tmp_path / "s", spec("prompt-completion", metrics=["exact_match", {"name": "format",
                                                                                           "min_chars": -1}]),
                         {"test.jsonl": rows})
    with pytest.raises(SuiteProblems) as problems:
        load_suite(folder, every_problem=True)
    assert len(problems.value.problems) == 3
    with pytest.raises(HarnessError, match="field 'metrics.1'"):
        load_suite(folder)  # a run stops at the first
    assert main(["suites", "validate", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "metrics.1" in err and "test.jsonl:1: missing field 'completion'" in err and "test.jsonl:2: field" in err


def test_limit_takes_a_seeded_sample_and_is_recorded(tmp_path, small_suites):
    suite = load_suite(small_suites / "agent_tools")
    a, b = limited(suite, 5, seed=0), limited(suite, 5, seed=0)
    assert [e.id for e in a.test] == [e.id for e in b.test] and len(a.test) == 5 and a.limit == 5
    assert [e.id for e in limited(suite, 5, seed=1).test] != [e.id for e in a.test]
    assert limited(suite, 1000, seed=0) is suite


def test_prompt_variants_and_few_shot_end_to_end(tmp_path):
    suite = cut_suite("agent_tools", tmp_path / "suites" / "agent_tools", 20, 6, fewshot={"n": 2, "seed": 3},
                      templates=["{{ content }}", "Request: {{ content }}", "{{ content }} (answer in JSON)"])
    assert main(["run", "--suite", str(suite), "--backend", "lora", "--set", "lora.max_steps=2", "--limit", "4",
                 "--out", str(tmp_path / "runs")]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    record = load_record(run_dir)
    info = record.suite("agent_tools")
    assert (info.limit, info.prompt_variants, info.fewshot, info.n_test) == (4, 3, 2, 4)
    variants = {(v.state, v.variant) for v in record.variant_results}
    assert variants == {(s, k) for s in ("base", "lora") for k in (1, 2)}
    base = load_predictions(run_dir, "base", "agent_tools")
    lora = load_predictions(run_dir, "lora", "agent_tools")
    assert all(len(r.fewshot) == 2 for r in base) and all(r.fewshot == [] for r in lora)
    train = {e.id: e for e in load_suite(suite).train}
    assert all(train[i].reference in r.model_input for r in base for i in r.fewshot)


def test_with_shots_is_seeded_per_example(small_suites):
    suite = load_suite(small_suites / "agent_tools")
    ex = suite.test[0]
    a, b = with_shots(ex, suite.train, 3, 0), with_shots(ex, suite.train, 3, 0)
    assert a.shots == b.shots and len(a.shots) == 3 and a.messages[-1] == ex.messages[-1]
    assert [m["role"] for m in a.messages] == ["user", "assistant"] * 3 + ["user"]


@pytest.mark.parametrize("fmt", ["prompt-completion", "messages", "alpaca", "sharegpt", "chat"])
def test_scaffolded_suites_validate(tmp_path, fmt):
    folder = new_suite(tmp_path / "new", "fresh", fmt)
    suite = load_suite(folder)
    assert suite.name == "fresh" and suite.test and suite.train and (folder / "README.md").is_file()
    with pytest.raises(HarnessError, match="already exists"):
        new_suite(folder, "fresh", fmt)


def test_fewshot_option_overrides_every_suite_and_is_recorded(tmp_path, capsys):
    suite = cut_suite("agent_tools", tmp_path / "suites" / "agent_tools", 20, 6)
    assert load_suite(suite).spec.fewshot is None
    out = tmp_path / "runs"
    assert main(["eval", "--model", "tiny", "--suite", str(suite), "--fewshot", "3", "--limit", "2",
                 "--out", str(out)]) == 0
    (run_dir,) = out.iterdir()
    record = load_record(run_dir)
    assert record.fewshot == 3 and record.suite("agent_tools").fewshot == 3
    rows = load_predictions(run_dir, "base", "agent_tools")
    assert len(rows) == 2 and all(len(r.fewshot) == 3 for r in rows)
    assert run.request_from_record(record).fewshot == 3  # a resumed run keeps it
    zero = run.plan(run.RunRequest(suites=[str(suite)], backends=[], fewshot=0, limit=2))
    assert zero.suites[0].spec.fewshot is None and zero.config_key != record.config_key
    with pytest.raises(SystemExit) as exit_:
        main(["eval", "--model", "tiny", "--suite", str(suite), "--fewshot", "17"])
    assert exit_.value.code == 2 and "--fewshot: must be between 0 and 16, not 17" in capsys.readouterr().err
