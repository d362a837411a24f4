"""A sweep over two LoRA settings with two training seeds, end to end on tiny: states, record, seed-aware
comparisons checked against the predictions, gates on sweep states, the report and pytest item ids."""
from __future__ import annotations

import json
import shutil
from html import escape

import numpy as np
import pytest

from harness.cli import main
from harness.record import BASE, SCHEMA_VERSION, load_predictions, load_record
from harness.stats import methods as stats

from .conftest import cut_suite, read_json

pytest_plugins = ["pytester"]
STRATEGIES = ["lora[r=4,alpha=8]", "lora[r=8,alpha=8]"]
STATES = [f"{s}@seed{k}" for s in STRATEGIES for k in (0, 1)]


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep-suites")
    cut_suite("agent_tools", root / "agent_tools", 48, 10, gates=[
        {"metric": "exact_match", "min": 0.9, "states": ["lora"]},
        {"metric": "tool_name", "min": 0.0, "states": ["lora[r=8,alpha=8]"]}])
    cut_suite("translate_en_zh", root / "translate_en_zh", 24, 6, gates=[])
    out = tmp_path_factory.mktemp("sweep-runs")
    assert main(["run", "--suite", str(root), "--backend", "lora", "--sweep", "lora.r=4,8", "--sweep", "lora.alpha=8",
                 "--train-seeds", "0,1", "--set", "lora.max_steps=4", "--out", str(out), "--batch-size", "8"]) == 0
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def test_each_combination_and_seed_is_a_state_recorded_with_its_settings(sweep_run):
    record = load_record(sweep_run)
    assert record.status == "complete" and record.train_seeds == [0, 1]
    assert record.sweeps == {"lora": {"r": ["4", "8"], "alpha": ["8"]}}
    assert [b.name for b in record.backends] == STATES and record.states == [BASE, *STATES]
    for b in record.backends:
        assert b.backend == "lora" and b.strategy in STRATEGIES and b.train_seed == int(b.name[-1])
        assert b.sweep == {"r": b.settings["r"], "alpha": 8} and b.settings["r"] == (4 if "r=4" in b.name else 8)
        assert (sweep_run / "models" / b.name / "adapter_config.json").is_file()
        assert load_predictions(sweep_run, b.name, "agent_tools")
        assert record.checks.reload_equivalence[b.name].ok
    assert list(record.strategies) == STRATEGIES
    # the base model is evaluated once for every state
    assert sorted({r.state for r in record.results}) == sorted([BASE, *STATES])
    # single-seed paired comparisons: against base, and between states trained with the same seed
    pairs = {(c.baseline, c.state) for c in record.comparisons}
    assert pairs == {(BASE, s) for s in STATES} | {(STATES[0], STATES[2]), (STATES[1], STATES[3])}


def test_the_base_model_is_evaluated_once(sweep_run):
    assert len(load_predictions(sweep_run, BASE, "agent_tools")) == 10
    assert sorted(p.name for p in (sweep_run / "predictions").iterdir()) == sorted([BASE, *STATES])


def test_seed_spreads_and_comparisons_agree_with_the_predictions(sweep_run):
    record = load_record(sweep_run)
    spread = next(s for s in record.seed_spreads if (s.strategy, s.suite, s.metric)
                  == (STRATEGIES[1], "agent_tools", "tool_name"))
    values = [record.value(f"{STRATEGIES[1]}@seed{k}", "agent_tools", "tool_name") for k in (0, 1)]
    assert spread.values == pytest.approx(values) and spread.mean == pytest.approx(np.mean(values))
    assert spread.sd == pytest.approx(np.std(values, ddof=1))
    assert {(c.baseline, c.strategy) for c in record.seed_comparisons} == {
        (BASE, STRATEGIES[0]), (BASE, STRATEGIES[1]), (STRATEGIES[0], STRATEGIES[1])}

    def scores(state, metric):
        return [r.scores[metric] for r in load_predictions(sweep_run, state, "agent_tools")]

    for metric in ("tool_name", "exact_match"):
        c = next(c for c in record.seed_comparisons if (c.baseline, c.strategy, c.suite, c.metric)
                 == (STRATEGIES[0], STRATEGIES[1], "agent_tools", metric))
        a = np.array([scores(f"{STRATEGIES[0]}@seed{k}", metric) for k in (0, 1)])
        b = np.array([scores(f"{STRATEGIES[1]}@seed{k}", metric) for k in (0, 1)])
        per_seed = (b - a).mean(axis=1)  # each seed's difference of pass rates
        assert c.deltas == pytest.approx(list(per_seed)) and c.delta == pytest.approx(per_seed.mean())
        assert c.n == 10 and c.seeds == [0, 1]
        if c.test == "seed-paired t":
            assert c.p_value == pytest.approx(stats.seed_paired_scores(a, b).p_value)
    # against base, the untrained side is one evaluation for every seed; chrF straight from sacrebleu
    from sacrebleu.metrics import CHRF

    def chrf(state):
        rows = load_predictions(sweep_run, state, "translate_en_zh")
        return CHRF().corpus_score([r.output for r in rows], [[r.reference for r in rows]]).score

    c = next(c for c in record.seed_comparisons if (c.baseline, c.strategy, c.suite, c.metric)
             == (BASE, STRATEGIES[0], "translate_en_zh", "chrf"))
    per_seed = [chrf(f"{STRATEGIES[0]}@seed{k}") - chrf(BASE) for k in (0, 1)]
    assert c.deltas == pytest.approx(per_seed) and c.se_examples > 0  # corpus: bootstrap over examples
    assert all(x.p_holm >= x.p_value for x in record.seed_comparisons)


def test_gates_naming_the_backend_cover_every_sweep_state(sweep_run):
    record = load_record(sweep_run)
    by_label: dict[str, list[str]] = {}
    for g in record.gates:
        by_label.setdefault(g.label, []).append(g.state)
    assert by_label == {"exact_match>=0.9": STATES, "tool_name>=0": STATES[2:]}


def test_strategy_page_plots_every_strategy_with_base_and_lists_the_front(sweep_run):
    report = sweep_run / "report"
    html = (report / "strategy.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 1 and "Pareto front</strong> by wall time: base" in html
    for name in STRATEGIES:
        assert escape(name) in html
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert ">base<" in svg and ">1<" in svg and ">2<" in svg  # base and the numbered strategies are points
    assert "Strategies compared across seeds" in html and "seed sd" in html
    pages = sorted(p.name for p in (report / "pairs").iterdir())
    assert len(pages) == 3 and all(p.endswith(".html") and "[" not in p for p in pages)
    pair = (report / "pairs" / pages[-1]).read_text(encoding="utf-8")
    assert "Paired comparison on every suite and metric" in pair and "Where they disagree" in pair
    assert "Cost side by side" in pair and "per seed (single-seed paired tests)" in pair
    assert "<code>r</code> 4 → 8" in pair


def test_pytest_items_carry_the_state_names(sweep_run, tmp_path, pytester):
    run = shutil.copytree(sweep_run, tmp_path / "run", ignore=shutil.ignore_patterns("models"))
    record = load_record(run)
    suite = pytester.path / "suites" / "agent_tools"
    suite.mkdir(parents=True)
    spec_path = next(p for p in (s.path for s in record.suites) if p.endswith("agent_tools"))
    for name in ("suite.yaml", "train.jsonl", "test.jsonl"):
        shutil.copy(f"{spec_path}/{name}", suite / name)
    quiet = ("-W", "ignore::pytest.PytestAssertRewriteWarning")
    result = pytester.runpytest(str(suite / "suite.yaml"), "--harness-run", str(run), "--collect-only", "-q", *quiet)
    ids = [line for line in result.stdout.lines if "::" in line]
    assert len(ids) == 6 and any(i.endswith(f"suites/agent_tools/suite.yaml::{STATES[2]}::tool_name>=0") for i in ids)
    one = pytester.runpytest(f"{suite / 'suite.yaml'}::{STATES[3]}::tool_name>=0", "--harness-run", str(run), *quiet)
    one.assert_outcomes(passed=1)  # an item id with brackets selects exactly that item


def test_resume_and_earlier_schema(sweep_run, tmp_path):
    run = shutil.copytree(sweep_run, tmp_path / "run")
    raw = read_json(run / "run.json")
    raw["status"] = "running"
    raw["results"] = [r for r in raw["results"] if r["state"] != STATES[3]]
    (run / "run.json").write_text(json.dumps(raw))
    assert main(["run", "--resume", str(run)]) == 0
    resumed, original = load_record(run), load_record(sweep_run)
    assert [r.model_dump() for r in resumed.results] == [r.model_dump() for r in original.results]
    assert [c.model_dump() for c in resumed.seed_comparisons] == [c.model_dump() for c in original.seed_comparisons]
    # a schema 3 record (one training per backend, no seed fields) reads as the current schema
    old = read_json(sweep_run / "run.json")
    old["schema_version"] = 3
    for key in ("sweeps", "train_seeds", "seed_spreads", "seed_comparisons"):
        old.pop(key)
    old["backends"] = [{k: v for k, v in b.items() if k not in ("backend", "strategy", "sweep", "train_seed")}
                       for b in old["backends"]]
    (run / "run.json").write_text(json.dumps(old))
    record = load_record(run)
    assert record.schema_version == SCHEMA_VERSION
    assert [(b.backend, b.strategy, b.train_seed) for b in record.backends] == [(s, s, 0) for s in STATES]
