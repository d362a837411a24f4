"""The `dpo` backend end to end: metric-verified pairs and raters' A/B choices as pairs, test examples refused,
per-source counts recorded, the reloaded adapter equal to the model as trained; and the pairs in the tuning key."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from harness.cache import keys
from harness.cli import main
from harness.record import load_predictions, load_record
from harness.run.orchestrate import request_from_record
from harness.tuning.contract import PreferencePair
from harness.tuning.pairs import HeldOut, prompt_text
from reports.sheets import export_sheets, import_ratings

from .conftest import SHIPPED
from .test_sheets_support import fill_csv, key_items, prefers_tuned


def _lines(split: str) -> list[dict]:
    text = (SHIPPED / "agent_tools" / f"{split}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _suite(dest: Path, name: str, train: list[dict], test: list[dict]) -> Path:
    """An agent_tools suite named `name` with these examples."""
    dest.mkdir(parents=True)
    spec = yaml.safe_load((SHIPPED / "agent_tools" / "suite.yaml").read_text(encoding="utf-8"))
    spec["name"] = name
    for split, rows in (("train", train), ("test", test)):
        (dest / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (dest / "suite.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return dest


@pytest.fixture(scope="module")
def suites(tmp_path_factory) -> dict[str, Path]:
    """`rated`: a suite a first run evaluates and raters rate; `target`: the suite dpo is tuned and tested on,
    whose train split holds one of its test examples as it is (same id) and one under another id."""
    root = tmp_path_factory.mktemp("dpo-suites")
    train, test = _lines("train"), _lines("test")
    leaked_id = dict(test[100])
    leaked_prompt = dict(test[101], id="train-leak")
    target_test = test[100:106]
    return {"rated": _suite(root / "rated", "rated_tools", train[:40], test[:6]),
            "target": _suite(root / "target", "agent_tools", train[40:70] + [leaked_id, leaked_prompt], target_test)}


def _run(out: Path, *args: str) -> Path:
    assert main(["run", "--out", str(out), "--batch-size", "4", *args]) == 0
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


@pytest.fixture(scope="module")
def metric_run(suites, tmp_path_factory) -> Path:
    return _run(tmp_path_factory.mktemp("metric"), "--suite", str(suites["target"]), "--backend", "dpo",
                "--limit", "4", "--set", "dpo.max_prompts=10", "--set", "dpo.max_steps=2")


@pytest.fixture(scope="module")
def rated_run(suites, tmp_path_factory) -> Path:
    """A run of lora against base on the rated suite, whose pairwise sheets a rater filled preferring lora."""
    run_dir = _run(tmp_path_factory.mktemp("rated"), "--suite", str(suites["rated"]), "--backend", "lora",
                   "--set", "lora.max_steps=30", "--set", "lora.learning_rate=0.003")
    folder = export_sheets(run_dir, per_suite=6, raters=["r1"]).folder
    filled = fill_csv(folder / "pairwise-lora-r1.csv", run_dir.parent / "filled.csv", prefers_tuned,
                      key_items(run_dir))
    import_ratings(run_dir, [filled])
    return run_dir


def _pairs(run_dir: Path) -> list[dict]:
    info = load_record(run_dir).backends[0].pairs
    assert info is not None
    text = (run_dir / info.file).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def _json_equal(a: str, b: str) -> bool:
    """agent_tools' exact match, worked by hand: both parse as JSON and are equal."""
    try:
        return json.loads(a) == json.loads(b)
    except ValueError:
        return False


def _refusals(train: list[dict], test: list[dict]) -> tuple[int, int]:
    """(train examples sharing a test id, others sharing a test prompt's text), counted by hand."""
    ids = {r["id"] for r in test}
    prompts = {" ".join(r["messages"][0]["content"].split()) for r in test}
    by_id = sum(r["id"] in ids for r in train)
    by_prompt = sum(r["id"] not in ids and " ".join(r["messages"][0]["content"].split()) in prompts for r in train)
    return by_id, by_prompt


def test_metric_pairs_are_verified_by_the_metric_and_never_from_test_examples(metric_run, suites):
    record = load_record(metric_run)
    (state,) = record.backends
    info = state.pairs
    pairs = _pairs(metric_run)
    train = {r["id"]: r for r in map(json.loads, (suites["target"] / "train.jsonl").read_text().splitlines())}
    test = [json.loads(line) for line in (suites["target"] / "test.jsonl").read_text().splitlines()]
    # every test example of the suite is guarded, not only the 4 --limit evaluated
    assert _refusals(list(train.values()), test) == (info.refused_test_id, info.refused_test_prompt) == (1, 1)
    assert info.by_source == {"sheets": 0, "metric": len(pairs)} and len(pairs) > 0
    assert info.prompts_sampled == 10 and len(pairs) + info.prompts_without_pair == 10
    assert info.sampling["samples_per_prompt"] == 4 and info.sampling["seed"] == 0
    assert info.metric == "agent_tools:exact_match" and info.content_hash == keys.pairs_hash(
        [PreferencePair(**{k: v for k, v in p.items() if k != "chosen_from"}) for p in pairs])
    test_ids, test_prompts = {r["id"] for r in test}, {prompt_text(r["messages"][:1]) for r in test}
    for p in pairs:
        assert p["source"] == "metric" and p["example_id"] in train and p["example_id"] not in test_ids
        assert prompt_text(p["messages"]) not in test_prompts
        reference = train[p["example_id"]]["messages"][-1]["content"]
        assert _json_equal(p["chosen"], reference) and not _json_equal(p["rejected"], reference)
        assert (p["chosen_from"] == "reference") == (p["chosen"] == reference)
    assert info.chosen_from_reference == sum(p["chosen_from"] == "reference" for p in pairs)
    # trained, saved as an adapter, and the reloaded artefact reproduces the model as trained
    assert state.kind == "adapter" and state.cost.steps == 2 and state.settings["beta"] == 0.1
    assert record.checks.reload_equivalence["dpo"].ok and record.checks.reload_equivalence["dpo"].checked > 0
    assert record.checks.batch_invariance["dpo"].ok
    # the training page shows the record's counts, in its column order
    page = (metric_run / "report" / "training.html").read_text(encoding="utf-8")
    table = page[page.index("<h2>Preference pairs</h2>"):]
    row = table[table.index("<tr><td>dpo</td>"):table.index("</tr>", table.index("<tr><td>dpo</td>"))]
    assert re.findall(r'<td class="num">(\d+)</td>', row) == [str(n) for n in (
        0, len(pairs), info.chosen_from_reference, 1, 1, 10, info.prompts_without_pair)]
    assert "<code>pairs/dpo.jsonl</code>" in row


def test_sheet_pairs_follow_the_raters_choices(rated_run, suites, tmp_path):
    run_dir = _run(tmp_path, "--suite", str(suites["target"]), "--backend", "dpo", "--pairs-from", str(rated_run),
                   "--limit", "4", "--set", "dpo.max_steps=2")
    record = load_record(run_dir)
    info = record.backends[0].pairs
    assert record.pairs_from == str(rated_run.resolve()) and record.backends[0].settings["pairs"] == "sheets"
    resumed = request_from_record(record)  # `harness run --resume` takes its pairs from the same run
    assert resumed.pairs_from == record.pairs_from and resumed.overrides["dpo"]["pairs"] == "sheets"
    # the rater preferred lora's output to base's on every rated example: those outputs, where they differ
    lora = {r.id: r.output for r in load_predictions(rated_run, "lora", "rated_tools")}
    base = {r.id: r.output for r in load_predictions(rated_run, "base", "rated_tools")}
    rated = {r["example"] for r in map(json.loads, (rated_run / "sheets" / "ratings.jsonl").read_text().splitlines())}
    expected = {(i, lora[i], base[i]) for i in rated if lora[i] != base[i]}
    pairs = _pairs(run_dir)
    assert {(p["example_id"], p["chosen"], p["rejected"]) for p in pairs} == expected and expected
    assert info.by_source == {"sheets": len(expected), "metric": 0} and info.sheets_run == str(rated_run.resolve())
    assert (info.refused_test_id, info.refused_test_prompt, info.sheets_undecided) == (0, 0, 0)
    assert all(p["source"] == "sheets" and p["suite"] == "rated_tools" for p in pairs)
    assert record.checks.reload_equivalence["dpo"].ok


def test_sheet_pairs_from_the_suite_under_test_are_refused_before_a_run_starts(rated_run, tmp_path, capsys):
    # rating the rated suite's own test outputs and testing on that suite again: every pair is a test example
    rated_suite = load_record(rated_run).suites[0].path
    assert main(["run", "--out", str(tmp_path), "--suite", rated_suite, "--backend", "dpo",
                 "--pairs-from", str(rated_run)]) != 0
    err = capsys.readouterr().err
    assert "every candidate pair comes from a test example of this run (" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())  # nothing half-written


@pytest.mark.parametrize("args, message", [
    (["--backend", "dpo", "--set", "dpo.pairs=sheets"], "pairs=sheets takes the A/B choices of an earlier run"),
    (["--backend", "lora", "--pairs-from", "{metric_run}"], "preference pairs are for a backend that learns"),
    (["--backend", "dpo", "--pairs-from", "{metric_run}"], "this run has no imported A/B choices"),
    (["--backend", "dpo", "--pairs-from", "{missing}"], "--pairs-from"),
])
def test_clear_errors_for_pair_sources(args, message, metric_run, suites, tmp_path, capsys):
    args = [a.format(metric_run=metric_run, missing=tmp_path / "no-such-run") for a in args]
    assert main(["run", "--out", str(tmp_path / "out"), "--suite", str(suites["target"]), *args]) != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_held_out_refuses_by_id_then_by_prompt_text(suites):
    from harness.suitedef.suite import load_suite

    splits = HeldOut([load_suite(suites["target"])])
    test = load_suite(suites["target"]).test[0]
    messages = [{"role": "user", "content": "  " + test.messages[0]["content"].replace(" ", "\n ") + " "}]
    pairs = [PreferencePair(test.messages, "a", "b", "metric", "agent_tools", test.id),
             PreferencePair(messages, "a", "b", "sheets", "other_suite", "x1"),  # same text, other whitespace
             PreferencePair([{"role": "user", "content": "never a test prompt"}], "a", "b", "metric", "agent_tools",
                            "x2"),
             PreferencePair(test.messages, "a", "b", "sheets", "other_suite", test.id)]  # another suite's id
    assert splits.refuse(pairs) == ([2], 1, 2)


def test_pairs_decide_the_tuning_key():
    from backends.dpo import DPO

    pair = PreferencePair([{"role": "user", "content": "q"}], "good", "bad", "metric", "s", "e1")
    flipped = PreferencePair(pair.messages, "bad", "good", "metric", "s", "e1")

    def key(pairs):
        return keys.tuning_key("dir:base", [], "dpo", DPO, {"beta": 0.1}, 0, "cpu", 1, pairs)

    assert key([pair]) == key([PreferencePair(**vars(pair))])
    assert len({key([pair]), key([flipped]), key([pair, flipped]), key(None)}) == 4
    assert keys.training_identity("dpo", "b", [], {}, 0, 1, [pair]) != keys.training_identity(
        "dpo", "b", [], {}, 0, 1, [flipped])


def test_the_short_training_warning_counts_pairs_not_train_examples():
    from harness.tuning.advice import few_steps

    settings = {"pairs": "metric", "max_prompts": 64, "batch_size": 8, "epochs": 2.0, "max_steps": None}
    # 1,200 train examples, but at most 64 pairs: 2 × ⌈64 / 8⌉ = 16 steps, and 7 epochs make 56
    assert few_steps("dpo", "dpo", 1200, settings) == (
        "dpo will take only 16 optimizer steps (64 preference pairs at most, batch size 8, 2 epochs) and may learn "
        "nothing; --set dpo.epochs=7 makes 56")
    assert few_steps("dpo", "dpo", 1200, {**settings, "max_prompts": 400}) is None  # 2 × 50 = 100 steps


def test_sampling_is_seeded(base_and_data):
    from harness.models.generate import sample
    from harness.models.loading import load_model

    model = load_model(base_and_data[0])
    prompts = [model.render([{"role": "user", "content": text}]) for text in ("weather in Oslo", "call Ana")]
    first = sample(model, prompts, 3, 8, [], 1.0, 1.0, seed=0)
    assert [len(outs) for outs in first] == [3, 3]
    assert sample(model, prompts, 3, 8, [], 1.0, 1.0, seed=0) == first
    assert sample(model, prompts, 3, 8, [], 1.0, 1.0, seed=1) != first
    assert len(set(first[0])) > 1  # sampled, not greedy: a random model's samples differ


def test_both_sources_together_and_the_merged_export(rated_run, suites, tmp_path):
    run_dir = _run(tmp_path / "runs", "--suite", str(suites["target"]), "--backend", "dpo", "--pairs-from",
                   str(rated_run), "--set", "dpo.pairs=both", "--set", "dpo.max_prompts=4", "--limit", "4",
                   "--set", "dpo.max_steps=2")
    info = load_record(run_dir).backends[0].pairs
    pairs = _pairs(run_dir)
    sources = [p["source"] for p in pairs]
    assert sources == sorted(sources, reverse=True) and set(sources) == {"sheets", "metric"}  # sheets' first
    assert info.by_source == {"sheets": sources.count("sheets"), "metric": sources.count("metric")}
    assert info.prompts_sampled == 4 and info.sheets_run == str(rated_run.resolve())
    # the adapter merges into its base, and the merged model reproduces base + adapter
    assert main(["export", str(run_dir), "--backend", "dpo", "--out", str(tmp_path / "merged")]) == 0
    check = json.loads((tmp_path / "merged" / "export.json").read_text(encoding="utf-8"))["check"]
    assert check["ok"] and check["checked"] > 0 and check["mismatches"] == []


def test_raters_choices_are_summed_per_example_and_draws_give_no_pair(tmp_path):
    """Two raters on a synthetic run: one always prefers the tuned output, one answers A, B, tie or both bad by
    example; a pair exists where wins and losses, summed over both, do not cancel."""
    from harness.record import load_ratings, save_record
    from harness.suitedef.suite import load_suite
    from harness.tuning.pairs import sheet_pairs

    from .test_sheets_support import make_run, varied

    run_dir = make_run(tmp_path / "run")
    record = load_record(run_dir)
    for info in record.suites:  # the synthetic run's suites, as folders whose prompts are the rated ones
        rows = [{"id": f"ex{i}", "messages": [{"role": "user", "content": f"prompt {i} <b>&amp;</b>"},
                                               {"role": "assistant", "content": json.dumps({"name": f"tool_{i}", "arguments": {}})}]}
                for i in range(10)]
        folder = _suite(tmp_path / info.name, info.name, rows[:2], rows)
        info.path, info.content_hash = str(folder), load_suite(folder).content_hash
    save_record(run_dir, record)
    folder = export_sheets(run_dir, per_suite=10, raters=["r1", "r2"]).folder
    items = key_items(run_dir)
    import_ratings(run_dir, [fill_csv(folder / "pairwise-lora-r1.csv", tmp_path / "a1.csv", prefers_tuned, items),
                             fill_csv(folder / "pairwise-lora-r2.csv", tmp_path / "a2.csv", varied, items)])
    net: dict[tuple[str, str], int] = {}
    for r in load_ratings(run_dir):
        if r["kind"] == "preference":
            key = (r["suite"], r["example"])
            net[key] = net.get(key, 0) + {"win": 1, "loss": -1}.get(r["outcome"], 0)
    found = sheet_pairs(run_dir)
    outputs = {(s, state): {p.id: p.output for p in load_predictions(run_dir, state, s)}
               for s in ("agent_tools", "translate_en_zh") for state in ("base", "lora")}
    expected = {(s, e, outputs[(s, "lora" if n > 0 else "base")][e], outputs[(s, "base" if n > 0 else "lora")][e])
                for (s, e), n in net.items() if n}
    assert {(p.suite, p.example_id, p.chosen, p.rejected) for p in found.pairs} == expected
    assert found.facts["sheets_undecided"] == sum(n == 0 for n in net.values()) > 0
    assert set(net.values()) == {0, 1, 2}  # cancelled, one win beside a tie or both bad, two wins


def test_a_rated_suite_changed_since_is_refused(tmp_path, monkeypatch):
    from harness.common.errors import HarnessError
    from harness.tuning.pairs import sheet_pairs

    from .conftest import ROOT
    from .test_sheets_support import make_run

    run_dir = make_run(tmp_path / "run")  # records suites/agent_tools with a content hash it never had
    folder = export_sheets(run_dir, per_suite=4, raters=["r1"]).folder
    import_ratings(run_dir, [fill_csv(folder / "pairwise-lora-r1.csv", tmp_path / "a.csv", prefers_tuned,
                                      key_items(run_dir))])
    monkeypatch.chdir(ROOT)
    with pytest.raises(HarnessError, match="changed since this run rated it: its prompts are not the ones rated"):
        sheet_pairs(run_dir)
