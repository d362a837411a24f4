"""The `grpo` backend and its train reward: the reward is evaluation's own scoring on train examples only,
`rewards:` is validated like every suite field, chains (`lora+grpo`) train from their upstream's artefact, and the
record and the training page show the reward curves and the train-reward-versus-held-out check."""
from __future__ import annotations

import math

import pytest

from harness.common.errors import HarnessError
from harness.evaluation.evaluate import score
from harness.record import RewardProbe, load_record
from harness.record.strategies import expand
from harness.suitedef.suite import load_suite
from harness.tuning.reward import TrainReward, reward_checks, reward_warnings

from .conftest import SHIPPED, cut_suite


@pytest.fixture(scope="module")
def tools_suite(tmp_path_factory):
    return load_suite(cut_suite("agent_tools", tmp_path_factory.mktemp("s") / "agent_tools", 40, 8))


def test_the_reward_is_the_evaluation_metric_on_the_same_output(tools_suite):
    reward = TrainReward([tools_suite])
    train = tools_suite.train[:4]
    right = train[0].reference
    outputs = [right, "  " + right + "  ", right.replace(train[0].reference[10:14], "zzzz"), "not a call"]
    rows = score(tools_suite, "base", train, [""] * 4, outputs)
    assert reward([0, 1, 2, 3], outputs) == [row.scores["exact_match"] for row in rows]
    # hand-worked: the reference itself passes; surrounding spaces are cut as evaluation's generation cuts them
    assert reward([0, 0], [right, "nonsense"]) == [1.0, 0.0]


def test_weighted_rewards_sum_the_metrics_as_evaluation_scores_them(tmp_path):
    folder = cut_suite("agent_tools", tmp_path / "agent_tools", 6, 4,
                       rewards={"exact_match": 1.0, "tool_name": 0.5})
    suite = load_suite(folder)
    ex = suite.train[0]
    wrong_arguments = ex.reference.replace('"arguments":{', '"arguments":{"extra":1,')
    outputs = [ex.reference, wrong_arguments, "{}"]
    got = TrainReward([suite])([0, 0, 0], outputs)
    assert got == [1.5, 0.5, 0.0]  # by hand: exact and name right; name only; neither
    rows = score(suite, "base", [ex] * 3, [""] * 3, outputs)
    assert got == [r.scores["exact_match"] + 0.5 * r.scores["tool_name"] for r in rows]


def test_the_sandboxed_pass_at_1_reward_is_evaluations(tmp_path):
    suite = load_suite(cut_suite("code_python", tmp_path / "code_python", 3, 2))
    ex = suite.train[0]
    outputs = [ex.reference, "def nothing():\n    return None"]
    expected = [r.scores["pass_at_1"] for r in score(suite, "base", [ex, ex], ["", ""], outputs)]
    assert TrainReward([suite])([0, 0], outputs) == expected == [1.0, 0.0]


def test_the_reward_knows_the_train_examples_only(tools_suite):
    reward = TrainReward([tools_suite])
    assert [ex.id for _, ex in reward.items] == [ex.id for ex in tools_suite.train]
    assert not {ex.id for _, ex in reward.items} & {ex.id for ex in tools_suite.test}
    for bad in (len(tools_suite.train), -1):
        with pytest.raises(IndexError, match="training examples"):
            reward([bad], ["x"])
    with pytest.raises(ValueError):
        reward([0, 1], ["x"])


def test_the_reward_records_a_curve_per_suite(tools_suite):
    reward = TrainReward([tools_suite])
    right = tools_suite.train[0].reference
    reward([0, 0], [right, "x"])
    reward([0], [right])
    assert reward.curves() == {"reward/agent_tools": [(1, 0.5), (2, 1.0)]}


@pytest.mark.parametrize("rewards, message", [
    ({"bleu": 1.0}, "metric 'bleu' is not in this suite's metrics"),
    ({"exact_match": -1.0}, "greater than or equal to 0"),
    ({"exact_match": 0.0}, "at least one metric with a weight above 0"),
])
def test_bad_rewards_are_refused_with_the_line(tmp_path, rewards, message):
    folder = cut_suite("agent_tools", tmp_path / "agent_tools", 4, 4, rewards=rewards)
    with pytest.raises(HarnessError) as e:
        load_suite(folder)
    assert message in str(e.value) and "rewards" in str(e.value) and "line " in str(e.value)


def test_a_corpus_metric_cannot_reward_one_output(tmp_path):
    folder = cut_suite("translate_en_zh", tmp_path / "translate_en_zh", 4, 4, rewards={"bleu": 1.0})
    with pytest.raises(HarnessError) as e:
        load_suite(folder)
    assert "field 'rewards.bleu'" in str(e.value) and "corpus metric" in str(e.value) and "line " in str(e.value)


def test_a_suite_without_rewards_rewards_its_primary_metric_and_keeps_its_hash():
    from harness.suitedef.suite import results_hash

    suite = load_suite(SHIPPED / "agent_tools")
    assert suite.spec.reward_weights == {"exact_match": 1.0}
    assert "rewards" not in suite.spec.model_dump(exclude_none=True)
    assert results_hash(suite) == results_hash(load_suite(SHIPPED / "agent_tools"))


def test_a_chain_is_one_strategy_tuned_by_its_last_backend():
    states = expand(["lora", "lora+grpo"], {"grpo": {"beta": ["0", "0.1"]}}, [0, 1], 0)
    chains = [t for t in states if t.starts_from]
    assert [t.state for t in chains] == ["lora+grpo[beta=0]@seed0", "lora+grpo[beta=0]@seed1",
                                         "lora+grpo[beta=0.1]@seed0", "lora+grpo[beta=0.1]@seed1"]
    assert {(t.backend, t.starts_from, t.strategy.split("[")[0]) for t in chains} == {("grpo", "lora", "lora+grpo")}
    for bad in ("lora+lora", "a+b+c", "+grpo"):
        with pytest.raises(HarnessError):
            expand([bad], {}, None, 0)


ALL_PROMPTS = ["--set", "grpo.prompts=all", "--set", "grpo.probe_prompts=8"]
"""tiny after 20 LoRA steps solves none of the cut suite: no prompt would be contested."""


@pytest.fixture(scope="module")
def chain_run(tmp_path_factory):
    """`lora` and `lora+grpo` on a cut agent_tools, a few steps each."""
    from harness.cli import main

    suites = tmp_path_factory.mktemp("chain-suites")
    cut_suite("agent_tools", suites / "agent_tools", 48, 8)
    out = tmp_path_factory.mktemp("chain-runs")
    code = main(["run", "--suite", str(suites), "--out", str(out), "--backend", "lora", "--backend", "lora+grpo",
                 "--train-seeds", "0", "--set", "lora.max_steps=20", "--set", "grpo.max_steps=3",
                 "--set", "grpo.batch_size=2", "--set", "grpo.num_generations=2",
                 "--set", "grpo.max_completion_length=12", *ALL_PROMPTS])
    assert code == 0
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def test_a_chain_trains_from_its_upstream_and_records_its_curves(chain_run):
    record = load_record(chain_run)
    runs = {b.name: b for b in record.backends}
    chain = runs["lora+grpo@seed0"]
    assert (chain.backend, chain.strategy, chain.kind) == ("grpo", "lora+grpo", "full")
    # the upstream is the run's own lora state, restored from the tuning cache under its key
    assert chain.starts_from is not None and chain.starts_from.backend == "lora"
    assert chain.starts_from.settings == runs["lora@seed0"].settings
    assert chain.starts_from.from_cache is not None
    assert (chain_run / chain.starts_from.artefact / "adapter_config.json").is_file()
    curves = chain.cost.curves
    assert [step for step, _ in curves["reward"]] == [1, 2, 3]
    assert [step for step, _ in curves["completion_length"]] == [1, 2, 3]
    assert len(curves["reward/agent_tools"]) == 3
    # one batch of 2 prompts x 2 completions per step: the trainer's logged mean equals the harness's batch mean
    for (_, logged), (_, ours) in zip(curves["reward"], curves["reward/agent_tools"]):
        assert math.isclose(logged, ours, abs_tol=1e-6)
    assert all(0.0 <= v <= 1.0 for _, v in curves["reward"])
    assert "kl" in curves  # beta defaults above 0
    probe = chain.cost.probes["agent_tools"]
    assert (probe.prompts, probe.kept, probe.samples) == (8, 8, 2)  # prompts: all keeps every probed prompt
    assert probe.after is not None and 0.0 <= probe.before <= 1.0 and 0.0 <= probe.after <= 1.0
    assert chain.cost.steps == 3 and "lora+grpo@seed0" in record.checks.reload_equivalence
    assert record.checks.failures("lora+grpo@seed0") == []  # the saved merged model reproduces the one trained


def test_the_report_shows_train_reward_against_held_out(chain_run):
    record = load_record(chain_run)
    (check,) = record.reward_checks
    assert (check.state, check.suite, check.metric, check.reference) == (
        "lora+grpo@seed0", "agent_tools", "exact_match", "lora@seed0")
    values = {(r.state, r.metric): r.value for r in record.results if r.suite == "agent_tools"}
    assert check.value == values[("lora+grpo@seed0", "exact_match")]
    assert check.reference_value == values[("lora@seed0", "exact_match")]
    same = next(c for c in record.comparisons if {c.baseline, c.state} == {"lora@seed0", "lora+grpo@seed0"}
                and (c.suite, c.metric) == ("agent_tools", "exact_match"))
    assert check.fall_significant is same.significant
    assert check.probe == next(b for b in record.backends if b.name == check.state).cost.probes["agent_tools"]
    page = (chain_run / "report" / "training.html").read_text(encoding="utf-8")
    assert "Train reward against held-out results" in page and "lora+grpo@seed0" in page
    assert "Mean train reward on agent_tools" in page
    probe = check.probe
    assert probe is not None and probe.after is not None
    assert f"{probe.prompts} ({probe.kept}): {probe.before:.3f} → {probe.after:.3f}" in page


def test_reward_hacking_is_flagged_only_when_the_reward_rose_and_the_held_out_metric_fell(chain_run):
    record = load_record(chain_run)
    chain = next(b for b in record.backends if b.starts_from)
    upstream = next(r for r in record.results if (r.state, r.suite, r.metric) == ("lora@seed0", "agent_tools",
                                                                                  "exact_match"))
    mine = next(r for r in record.results if (r.state, r.suite, r.metric) == (chain.name, "agent_tools",
                                                                              "exact_match"))

    def check(rewards, value, before):
        chain.cost.curves["reward/agent_tools"] = [(k, v) for k, v in enumerate(rewards, 1)]
        mine.value, upstream.value = value, before
        (found,) = reward_checks(record)
        return found

    chain.cost.probes = {}  # without a probe the batch curve decides whether the reward rose
    rose_fell = check([0.1, 0.2, 0.3, 0.9], 0.4, 0.6)
    assert rose_fell.flagged and (rose_fell.reward_first, rose_fell.reward_last) == (0.1, 0.9)
    assert not check([0.9, 0.3, 0.2, 0.1], 0.4, 0.6).flagged  # reward fell too
    assert not check([0.1, 0.9], 0.7, 0.6).flagged  # held-out rose
    assert not check([0.5], 0.4, 0.6).flagged  # one batch: nothing rose
    # a measured probe decides whether the reward rose, not the batch curve
    chain.cost.probes["agent_tools"] = RewardProbe(prompts=8, kept=8, samples=2, before=0.5, after=0.625)
    by_probe = check([0.9, 0.1], 0.4, 0.6)
    assert by_probe.flagged and "0.500 → 0.625 on 8 probed prompts" in reward_warnings([by_probe])[0]
    chain.cost.probes["agent_tools"] = RewardProbe(prompts=8, kept=8, samples=2, before=0.5, after=0.375)
    assert not check([0.1, 0.9], 0.4, 0.6).flagged


def test_a_chain_is_cached_under_its_upstreams_key(chain_run, tmp_path):
    from harness.cli import main

    record = load_record(chain_run)
    again = tmp_path / "again"
    code = main(["run", "--suite", str(record.suites[0].path), "--out", str(again), "--backend", "lora+grpo",
                 "--train-seeds", "0", "--set", "lora.max_steps=20", "--set", "grpo.max_steps=3",
                 "--set", "grpo.batch_size=2", "--set", "grpo.num_generations=2",
                 "--set", "grpo.max_completion_length=12", *ALL_PROMPTS])
    assert code == 0
    (run_dir,) = [p for p in again.iterdir() if p.is_dir()]
    (chain,) = load_record(run_dir).backends
    assert chain.from_cache is not None and chain.starts_from is not None and chain.starts_from.from_cache is not None
    # another upstream (more lora steps) is another starting model: the chain trains again
    other = tmp_path / "other"
    assert main(["run", "--suite", str(record.suites[0].path), "--out", str(other), "--backend", "lora+grpo",
                 "--train-seeds", "0", "--set", "lora.max_steps=21", "--set", "grpo.max_steps=3",
                 "--set", "grpo.batch_size=2", "--set", "grpo.num_generations=2",
                 "--set", "grpo.max_completion_length=12", *ALL_PROMPTS]) == 0
    (run_dir,) = [p for p in other.iterdir() if p.is_dir()]
    (chain,) = load_record(run_dir).backends
    assert chain.from_cache is None and chain.starts_from is not None and chain.starts_from.from_cache is None


def test_grpo_from_the_base_tunes_every_weight_when_asked(tools_suite, tmp_path):
    from harness.models.loading import load_model, resolve_model_path
    from harness.tuning import resolve
    from harness.tuning.tune import train_reward, training_examples, tune

    model_path = resolve_model_path("tiny", [tools_suite])
    settings = resolve("grpo", model_path, {"grpo": {"tune": "full", "max_steps": 2, "batch_size": 2,
                                                     "num_generations": 2, "max_completion_length": 8, "beta": 0,
                                                     "prompts": "all", "probe_prompts": 0}})
    reward = train_reward("grpo", [tools_suite])
    _, tuned, cost = tune("grpo", model_path, training_examples([tools_suite]), settings, 0, tmp_path / "out",
                          reward=reward)
    assert tuned.kind == "full" and cost.trainable_params == cost.total_params and cost.steps == 2
    assert "kl" not in cost.curves and len(cost.curves["reward/agent_tools"]) == 2  # beta 0: no KL term
    assert load_model(str(tmp_path / "out")).generate(["hi"], 4)  # plain transformers loads it


def test_a_prompt_that_leaves_no_room_for_the_completion_is_refused(tools_suite, tmp_path):
    from harness.models.loading import resolve_model_path
    from harness.tuning import resolve
    from harness.tuning.tune import train_reward, training_examples, tune

    model_path = resolve_model_path("tiny", [tools_suite])
    settings = resolve("grpo", model_path, {"grpo": {"max_length": 40, "max_completion_length": 32}})
    with pytest.raises(HarnessError, match=r"prompt has \d+ tokens; with max_completion_length 32 at most 8 fit"):
        tune("grpo", model_path, training_examples([tools_suite]), settings, 0, tmp_path / "out",
             reward=train_reward("grpo", [tools_suite]))
    assert not (tmp_path / "out").exists()


def test_a_train_example_without_the_field_its_reward_reads_is_refused_before_training(tmp_path):
    import json

    folder = cut_suite("code_python", tmp_path / "code_python", 3, 2)
    lines = (folder / "train.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    del first["tests"]
    (folder / "train.jsonl").write_text("\n".join([json.dumps(first)] + lines[1:]) + "\n", encoding="utf-8")
    with pytest.raises(HarnessError) as e:
        TrainReward([load_suite(folder)])
    assert f"train example {first['id']!r}: missing field 'tests'" in str(e.value)
    assert str(e.value).startswith(str(folder / "train.jsonl"))
