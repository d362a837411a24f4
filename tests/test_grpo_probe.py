"""`grpo`'s probe: the prompts it trains on are exactly the probed ones whose sampled rewards differ, a probe
with none is refused, and the record holds the probe's counts and its mean reward before and after training."""
from __future__ import annotations

import pytest

from harness.common.errors import HarnessError
from harness.suitedef.suite import load_suite
from harness.tuning.contract import ProbedRewards
from harness.tuning.reward import TrainReward

from .conftest import cut_suite

PROBE = {"probe_prompts": 12, "num_generations": 3, "max_completion_length": 6, "max_steps": 0, "batch_size": 2}


@pytest.fixture(scope="module")
def tools_suite(tmp_path_factory):
    return load_suite(cut_suite("agent_tools", tmp_path_factory.mktemp("s") / "agent_tools", 40, 8))


class HandReward:
    """A hand-built reward that remembers what it scored: 1 for a completion of even length on an even example
    index, 0 otherwise (so odd indices are never contested)."""

    def __init__(self) -> None:
        self.scored: dict[int, list[float]] = {}
        self.recorded_calls = 0

    def __call__(self, indices: list[int], completions: list[str], *, record: bool = True) -> list[float]:
        values = [float(i % 2 == 0 and len(c) % 2 == 0) for i, c in zip(indices, completions)]
        if record:
            self.recorded_calls += 1
        else:
            for i, v in zip(indices, values):
                self.scored.setdefault(i, []).append(v)
        return values


def grpo_setup(tools_suite, reward, **settings):
    from backends.grpo import GRPO
    from harness.models.loading import resolve_model_path
    from harness.tuning import resolve
    from harness.tuning.tune import training_examples

    model_path = resolve_model_path("tiny", [tools_suite])
    backend = GRPO()
    backend.reward = reward
    examples = training_examples([tools_suite])
    backend.setup(model_path, examples, resolve("grpo", model_path, {"grpo": PROBE | settings}), 0)
    return backend, examples


def test_only_the_probed_prompts_whose_sampled_rewards_differ_are_trained_on(tools_suite):
    reward = HandReward()
    backend, examples = grpo_setup(tools_suite, reward)
    probed = sorted(reward.scored)
    assert len(probed) == 12 and all(0 <= i < len(examples) for i in probed)
    assert all(len(reward.scored[i]) == 3 for i in probed)  # one group of num_generations each
    differing = [i for i in probed if min(reward.scored[i]) != max(reward.scored[i])]
    assert differing and all(i % 2 == 0 for i in differing)  # the test says something: some are contested
    assert len(differing) < len(probed)  # ...and some are not
    assert backend.trainer.train_dataset["index"] == differing
    assert backend.probe.kept == differing and backend.probe.indices == probed
    assert backend.probe.before == [round(sum(reward.scored[i]) / 3, 6) for i in probed]
    assert reward.recorded_calls == 0  # the probe adds nothing to the train reward curves


def test_prompts_all_trains_on_every_prompt_and_still_probes(tools_suite):
    reward = HandReward()
    backend, examples = grpo_setup(tools_suite, reward, prompts="all")
    assert backend.trainer.train_dataset["index"] == list(range(len(examples)))
    assert sorted(reward.scored) == backend.probe.indices and len(backend.probe.indices) == 12


def test_the_probe_is_sampled_again_with_the_same_seeds_after_training(tools_suite):
    reward = HandReward()
    backend, _ = grpo_setup(tools_suite, reward)
    stats = backend.train()  # max_steps 0: the policy is the starting model, so the same seeds give the same samples
    assert stats.probe is not None and stats.probe.after == stats.probe.before
    assert all(len(v) == 6 for v in reward.scored.values())  # each prompt's group sampled twice


def test_a_probe_without_a_contested_prompt_is_refused(tools_suite, tmp_path):
    from harness.models.loading import resolve_model_path
    from harness.tuning import resolve
    from harness.tuning.tune import training_examples, tune

    model_path = resolve_model_path("tiny", [tools_suite])
    settings = resolve("grpo", model_path, {"grpo": PROBE})

    class Constant(TrainReward):
        def __call__(self, indices, completions, *, record=True):
            return [0.0] * len(indices)

    with pytest.raises(HarnessError) as e:
        tune("grpo", model_path, training_examples([tools_suite]), settings, 0, tmp_path / "out",
             reward=Constant([tools_suite]))
    assert "no probed train prompt is contested" in str(e.value) and "12 all 0" in str(e.value)
    assert "grpo.prompts" in str(e.value) and not (tmp_path / "out").exists()


def test_contested_needs_a_probe():
    from backends.grpo import GrpoSettings

    with pytest.raises(ValueError, match="set probe_prompts above 0"):
        GrpoSettings(probe_prompts=0)
    assert GrpoSettings(probe_prompts=0, prompts="all").probe_prompts == 0


def test_the_probe_is_recorded_per_suite(tools_suite, tmp_path):
    other = load_suite(cut_suite("agent_tools", tmp_path / "tools_b", 6, 2, name="tools_b"))
    reward = TrainReward([tools_suite, other])  # indices 0-39: agent_tools, 40-45: tools_b
    probe = ProbedRewards(indices=[1, 5, 9, 41, 44], kept=[5, 9, 44], samples=4,
                          before=[0.0, 0.5, 0.25, 1.0, 0.75], after=[0.25, 0.75, 0.5, 1.0, 0.5])
    found = reward.probes(probe)
    assert set(found) == {"agent_tools", "tools_b"}
    tools, b = found["agent_tools"], found["tools_b"]
    # hand-worked means
    assert (tools.prompts, tools.kept, tools.samples) == (3, 2, 4)
    assert (tools.before, tools.after, tools.kept_before, tools.kept_after) == (0.25, 0.5, 0.375, 0.625)
    assert (b.prompts, b.kept, b.before, b.after, b.kept_before, b.kept_after) == (2, 1, 0.875, 0.75, 0.75, 0.5)
    unmeasured = reward.probes(ProbedRewards(indices=[1], kept=[], samples=2, before=[0.5]))
    assert unmeasured["agent_tools"].after is None and unmeasured["agent_tools"].kept_before is None
    assert reward.probes(None) == {}


def test_a_share_of_the_probe_samples_as_the_whole_probe_would(tools_suite):
    # each process samples its share of the probe, seeded by the prompts' places in the whole probe
    from harness.models.generate import sample
    from harness.models.loading import load_model

    model = load_model("tiny", suites=[tools_suite])
    prompts = [model.render(ex.messages, ex.tools) for ex in tools_suite.train[:5]]
    whole = sample(model, prompts, 3, 6, [], 1.0, 1.0, seed=7)
    share = sample(model, [prompts[1], prompts[3]], 3, 6, [], 1.0, 1.0, seed=7, positions=[1, 3])
    assert share == [whole[1], whole[3]]
    assert sample(model, [prompts[1]], 3, 6, [], 1.0, 1.0, seed=7) != [whole[1]]  # the place decides the draw
