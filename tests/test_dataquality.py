"""The data-quality report: each finding on a suite that has exactly that defect, `--strict`, the data
gates, and every number cross-checked (similar pairs by brute force, lengths and truncation against
TRL's own preparation of the training data)."""
from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.dataquality.report import data_report
from harness.dataquality.similarity import jaccard, shingles, similar_pairs
from harness.dataquality.tokenlengths import token_counts
from harness.models.loading import load_text_side, resolve_model_path
from harness.suitedef.suite import load_suite

EN = [("What is the capital of France?", "Paris"), ("Name a large mammal that lives in the ocean.", "The blue whale"),
      ("How many legs does a spider have?", "Eight"), ("Which planet is known as the red planet?", "Mars")]
EN_TEST = [("Who wrote the play Hamlet?", "Shakespeare"), ("What colour is a ripe banana?", "Yellow")]
ZH = ["巴黎", "蓝鲸", "八", "火星"]
ZH_TEST = ["莎士比亚", "黄色"]
STORY = " ".join(itertools.islice(itertools.cycle("the train to Rome leaves on tuesday at noon".split()), 900))


def write_suite(folder: Path, train: list[dict], test: list[dict], **spec) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train.jsonl", train), ("test.jsonl", test)):
        lines = [json.dumps({"id": f"{name[:-6]}-{i}", **r}, ensure_ascii=False) for i, r in enumerate(rows, 1)]
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = {"name": folder.name, "version": "1", "data": {"format": "prompt-completion", "train": "train.jsonl",
                                                          "test": "test.jsonl"}, "metrics": ["exact_match"]} | spec
    (folder / "suite.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return folder


def clean(language: str = "en", **fields) -> tuple[list[dict], list[dict]]:
    refs, test_refs = (ZH, ZH_TEST) if language == "zh" else ([c for _, c in EN], [c for _, c in EN_TEST])
    train = [{"prompt": p, "completion": c, **fields} for (p, _), c in zip(EN, refs)]
    test = [{"prompt": p, "completion": c, **fields} for (p, _), c in zip(EN_TEST, test_refs)]
    return train, test


@pytest.fixture(scope="module")
def tiny_dir(small_suites) -> str:
    """One tiny model for every defect suite (its tokenizer knows the shipped suites' words)."""
    return resolve_model_path("tiny", [load_suite(small_suites / "agent_tools"),
                                       load_suite(small_suites / "translate_en_zh")])


def check(folder: Path, tiny_dir: str, *extra: str) -> int:
    return main(["data", "check", "--suite", str(folder), "--model", tiny_dir, *extra])


def kinds(folder: Path, tiny_dir: str) -> list[str]:
    report = data_report([load_suite(folder)], "tiny", tiny_dir, {"full": 512})
    return [f.kind for f in report.suites[0].findings]


def _defect(name: str):
    """(train, test, suite.yaml changes) of a suite with exactly one defect."""
    train, test = clean()
    spec: dict = {}
    if name == "duplicate":
        train.append(dict(train[0]))
    elif name == "near_duplicate":
        train.append({"prompt": "what is the capital of France ?!", "completion": "Paris, France"})
    elif name == "conflict":
        train.append({"prompt": train[0]["prompt"], "completion": "Lyon"})
    elif name == "identical_render":
        train.append({**train[0], "topic": "history"})  # a field the prompt never shows
    elif name == "empty_reference":
        train.append({"prompt": "Say nothing at all.", "completion": "  "})
    elif name == "truncated":
        train.append({"prompt": "Tell me a long story.", "completion": STORY})
    elif name == "unseen_label":
        train, test = clean(intent="quiz")
        test[1]["intent"] = "colour"
        spec["labels"] = "intent"
    elif name == "wrong_script":
        train, test = clean("zh")
        train.append({"prompt": "Name the capital of Italy.", "completion": "Rome"})
        spec["language"] = "zh"
    elif name == "overlap":
        train.append(dict(test[0]))
    elif name == "near_overlap":
        train.append({"prompt": "who wrote the play HAMLET", "completion": "Shakespeare"})
    return train, test, spec


DEFECTS = ["duplicate", "near_duplicate", "conflict", "identical_render", "empty_reference", "truncated",
           "unseen_label", "wrong_script", "overlap", "near_overlap"]


def test_a_clean_suite_has_no_findings_even_when_strict(tmp_path, tiny_dir, capsys):
    folder = write_suite(tmp_path / "clean", *clean())
    assert check(folder, tiny_dir, "--strict") == 0
    out = capsys.readouterr().out
    assert "no findings" in out and "Data: 1 suite, 0 warnings" in out
    zh = write_suite(tmp_path / "clean_zh", *clean("zh"), language="zh")
    assert kinds(zh, tiny_dir) == []


@pytest.mark.parametrize("defect", DEFECTS)
def test_each_defect_is_found_alone_and_strict_fails_on_it(defect, tmp_path, tiny_dir, capsys):
    train, test, spec = _defect(defect)
    folder = write_suite(tmp_path / defect, train, test, **spec)
    assert kinds(folder, tiny_dir) == [defect]
    assert check(folder, tiny_dir) == 0  # a warning, not a failure
    assert "WARNING" in capsys.readouterr().out
    assert check(folder, tiny_dir, "--strict") == 1


def test_what_the_findings_say(tmp_path, tiny_dir, capsys):
    train, test, spec = _defect("unseen_label")
    folder = write_suite(tmp_path / "labels", train, test, **spec)
    data = data_report([load_suite(folder)], "tiny", tiny_dir, {}).suites[0]
    assert data.label_source == "field intent" and data.unseen_labels == ["colour"]
    assert data.split("train").labels == {"quiz": 4} and data.split("test").labels == {"quiz": 1, "colour": 1}
    assert data.findings[0].ids == [["test-2"]]
    train, test, _ = _defect("conflict")
    data = data_report([load_suite(write_suite(tmp_path / "c", train, test))], "tiny", tiny_dir, {}).suites[0]
    assert data.findings[0].ids == [["train-1", "train-5"]] and data.findings[0].count == 1
    train, test, _ = _defect("truncated")
    check(write_suite(tmp_path / "t", train, test), tiny_dir, "--set", "full.max_length=400")
    out = capsys.readouterr().out
    assert "1 of 5 examples exceed max_length 400 (full)" in out and "max_length 512 (lora)" in out
    assert "never sees them stop" in out


def test_a_prompt_longer_than_max_length_leaves_nothing_to_train_on(tmp_path, tiny_dir):
    train, test = clean()
    train.append({"prompt": STORY, "completion": "ok"})
    data = data_report([load_suite(write_suite(tmp_path / "s", train, test))], "tiny", tiny_dir,
                       {"full": 512}).suites[0]
    assert [f.kind for f in data.findings] == ["truncated", "completion_lost"]
    assert (data.truncation[0].truncated, data.truncation[0].completion_lost) == (1, 1)


def test_data_gates_fail_the_check_without_strict(tmp_path, tiny_dir, capsys):
    train, test, _ = _defect("truncated")
    folder = write_suite(tmp_path / "g", train, test, gates=[{"max_truncated": 0.1}, {"max_overlap": 0.0}])
    assert check(folder, tiny_dir, "--backend", "lora") == 1  # 1 of 5 truncated > 0.1
    out = capsys.readouterr().out
    assert "FAIL gate g: lora's max_length 512 truncates 1 training examples" in out
    assert "pass gate g: 0 of 2 test prompts occur in train" in out
    assert check(folder, tiny_dir, "--backend", "lora", "--set", "lora.max_length=4096") == 0


def test_bad_input_is_one_line_and_status_2(tmp_path, tiny_dir, capsys):
    train, test = clean()
    folder = write_suite(tmp_path / "bad", train, test, labels="intent")
    assert check(folder, tiny_dir) == 2
    assert "field 'labels': no example has a field 'intent'" in capsys.readouterr().err


def test_the_shipped_suites(tiny_dir, capsys):
    from .conftest import SHIPPED

    assert main(["data", "check", "--suite", str(SHIPPED / "agent_tools"), "--suite", str(SHIPPED / "translate_en_zh"),
                 "--model", tiny_dir, "--strict"]) == 0
    out = capsys.readouterr().out
    assert "agent_tools (en): train 1,200 · test 240" in out and "labels (tool name): train 6 labels" in out
    assert main(["data", "check", "--suite", str(SHIPPED), "--model", tiny_dir]) == 0
    out = capsys.readouterr().out
    assert all(f"\n{p.name} (" in out for p in SHIPPED.iterdir() if (p / "suite.yaml").is_file())


def test_similar_pairs_match_brute_force():
    rng = random.Random(3)
    words = "alarm train table weather order message send book set the at for to a".split()
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(2, 9))) for _ in range(150)]
    texts += [t + "!" for t in texts[:20]] + [t[:-1] for t in texts[20:40] if len(t) > 8]  # near copies
    sets = [shingles(t) for t in texts]
    for threshold in (0.9, 0.75, 0.5):
        brute = [(i, j) for i, j in itertools.combinations(range(len(sets)), 2)
                 if jaccard(sets[i], sets[j]) >= threshold]
        assert [(i, j) for i, j, _ in similar_pairs(sets, threshold=threshold)] == brute
        left, right = sets[:60], sets[60:]
        brute = [(i, j) for i in range(len(left)) for j in range(len(right)) if jaccard(left[i], right[j]) >= threshold]
        assert [(i, j) for i, j, _ in similar_pairs(left, right, threshold)] == brute
    assert jaccard(shingles("Hello, World!"), shingles("hello world")) == 1.0


def test_lengths_and_truncation_agree_with_trl(tmp_path, tiny_dir):
    """Our token counts are the lengths TRL trains on, and our truncation is what its max_length does."""
    from backends.lora import LoRA
    from harness.tuning.contract import TrainExample

    train, test = clean()
    train += [{"prompt": "Tell me a long story.", "completion": STORY[:1500]}, {"prompt": STORY, "completion": "ok"}]
    suite = load_suite(write_suite(tmp_path / "trl", train, test))
    counts = token_counts(load_text_side(tiny_dir), suite.train)
    examples = [TrainExample(ex.messages, ex.reference) for ex in suite.train]
    backend = LoRA()
    backend.setup(tiny_dir, examples, LoRA.settings_class(learning_rate=1e-3, max_length=100_000), 0)
    assert [len(r["input_ids"]) for r in backend.trainer.train_dataset] == [c.total for c in counts]
    max_length = sorted(c.total for c in counts)[-2] - 1  # cuts the two long examples, one to nothing
    report = data_report([suite], "tiny", tiny_dir, {"lora": max_length}).suites[0].truncation[0]
    backend = LoRA()
    backend.setup(tiny_dir, examples, LoRA.settings_class(learning_rate=1e-3, max_length=max_length), 0)
    kept = [len(r["input_ids"]) for r in backend.trainer.train_dataset]
    assert len(kept) == len(examples) - report.completion_lost  # TRL drops what has no completion left
    assert sum(k == max_length for k in kept) == report.truncated - report.completion_lost
    assert (report.truncated, report.completion_lost) == (2, 1)
    lengths = data_report([suite], "tiny", tiny_dir, {}).suites[0].split("train").lengths
    assert sum(lengths.total.counts) == len(examples) and lengths.max == max(c.total for c in counts)


def test_a_run_decides_truncation_gates_per_backend(tmp_path):
    from bench.synthetic import make_run
    from harness.evaluation.gates import decide_all
    from harness.record import GateSpec, load_record

    record = load_record(make_run(tmp_path))
    outcomes = decide_all(record, gates={"agent_tools": [GateSpec(max_truncated=0.0, states=["lora"]),
                                                         GateSpec(max_overlap=0.001)]})
    assert [(o.state, o.label, o.passed, o.value) for o in outcomes] == [
        ("lora", "truncated<=0", True, 0.0), ("data", "overlap<=0.001", False, 1 / 240)]
    assert "lora's max_length 512 truncates 0 training examples" in outcomes[0].message


def test_unseen_labels_warn_only_when_train_labels_repeat_and_long_lists_are_cut(tmp_path, tiny_dir, capsys):
    # every example its own label (BFCL: one function per example): a new label in test is the rule, not a gap
    train, test = clean()
    train = [{**r, "intent": f"fn_{i}"} for i, r in enumerate(train)]
    test = [{**r, "intent": f"other_{i}"} for i, r in enumerate(test * 6)]
    test = [{**r, "prompt": f"{r['prompt']} ({i})"} for i, r in enumerate(test)]
    folder = write_suite(tmp_path / "own", train, test, labels="intent")
    data = data_report([load_suite(folder)], "tiny", tiny_dir, {}).suites[0]
    assert len(data.unseen_labels) == 12 and "unseen_label" not in [f.kind for f in data.findings]
    check(folder, tiny_dir)
    line = next(x for x in capsys.readouterr().out.splitlines() if "labels (field intent)" in x)
    shown = sorted(f"other_{i}" for i in range(12))[:8]
    assert line.endswith("not in train: " + ", ".join(shown) + ", … and 4 more")
    # the same test labels against a train split whose 4 examples share 2 labels: a warning naming its rule
    train = [{**r, "intent": f"fn_{i % 2}"} for i, r in enumerate(train)]
    data = data_report([load_suite(write_suite(tmp_path / "shared", train, test, labels="intent"))], "tiny",
                       tiny_dir, {}).suites[0]
    (finding,) = [f for f in data.findings if f.kind == "unseen_label"]
    assert finding.message == ("test: 12 labels never seen in train: " + ", ".join(shown) + ", … and 4 more "
                               "(warned because train's labels repeat: 2.0 examples per label, at least 2)")
