"""A reward-trained backend's probe: a fixed, seeded sample of train prompts, each sampled a group of times from
the policy and scored by the train reward.

Before training it picks the prompts worth training on: a group whose rewards are all equal has zero advantage
everywhere and teaches GRPO nothing, so `contested` keeps the prompts whose sampled rewards differ (DAPO's dynamic
sampling, done once up front). After training the same prompts are sampled again with the same seeds: the
mean reward before against after measures what training did to the train reward on fixed prompts, where the
per-step curve mostly shows which prompts each step drew.
"""
from __future__ import annotations

import random

from harness.common.errors import HarnessError
from harness.models.generate import sample
from harness.models.loading import Model
from harness.runtime import distributed
from harness.tuning.contract import RewardFn


def probe_indices(count: int, examples: int, seed: int) -> list[int]:
    """`count` training example indices drawn without replacement by `seed` (all of them when there are fewer),
    in increasing order."""
    if count >= examples:
        return list(range(examples))
    return sorted(random.Random(seed).sample(range(examples), count))


def group_rewards(model: Model, prompts: list[str], indices: list[int], reward: RewardFn, samples: int,
                  max_new_tokens: int, temperature: float, seed: int) -> list[list[float]]:
    """Each indexed prompt's `samples` completions from `model` (full temperature sampling, at most
    `max_new_tokens` each, as the trainer samples them), scored by `reward` without adding to its curves.

    Every process samples and scores its share of the prompts, seeded by their places in the whole probe, and
    receives the others': the groups are the same whatever the number of processes."""
    mine = distributed.share(len(indices))
    picked = [indices[j] for j in mine]
    training = model.model.training
    model.model.eval()
    try:
        groups = sample(model, [prompts[i] for i in picked], samples, max_new_tokens, [], temperature, 1.0, seed,
                        positions=mine)
    finally:
        model.model.train(training)
    scored = reward([i for i in picked for _ in range(samples)], [c for group in groups for c in group],
                    record=False)
    return distributed.unshare(len(indices), [scored[k * samples:(k + 1) * samples] for k in range(len(picked))])


def contested(indices: list[int], groups: list[list[float]]) -> list[int]:
    """The indices whose group rewards are not all equal."""
    return [i for i, group in zip(indices, groups) if len(set(group)) > 1]


def refuse_uncontested(indices: list[int], groups: list[list[float]]) -> None:
    """Refuse a training that would have no prompt left, saying how the groups fell."""
    zero = sum(1 for g in groups if max(g) == 0)
    raise HarnessError(
        f"no probed train prompt is contested: each of the {len(indices)} probed prompts gave all its "
        f"{len(groups[0])} sampled completions the same reward ({zero} all 0, {len(groups) - zero} all above 0), so "
        "GRPO would have no advantage to follow; raise grpo.probe_prompts, grpo.num_generations or "
        "grpo.temperature, or train on every prompt with grpo.prompts=all", "grpo.prompts")


def means(groups: list[list[float]]) -> list[float]:
    """Each group's mean reward."""
    return [round(sum(g) / len(g), 6) for g in groups]
