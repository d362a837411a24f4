"""The train reward of reward-trained backends (`grpo`): each suite's own metrics, scored on its train examples
by the very function evaluation scores test outputs with (`harness.evaluation.evaluate.score`: the code sandbox
for `pass_at_1`), weighted as the suite's `rewards:` says (default: its primary metric).

The reward is handed to a backend as a plain callable over indices into the training examples: it holds the
train splits of the task suites and nothing else, so a test example cannot enter it. It also keeps, per suite,
the mean reward of each batch it scored: the record's train reward curves, whichever backend asked.
"""
from __future__ import annotations

from pathlib import Path

from harness.cache.fingerprint import class_sources, source_hash
from harness.common.errors import HarnessError
from harness.evaluation import evaluate
from harness.evaluation.evaluate import score
from harness.models.generate import cut_at_stop
from harness.record import BASE, RewardCheck, RewardProbe, RunRecord
from harness.record.strategies import state_name
from harness.suitedef.suite import Example, Suite, applies

from .contract import ProbedRewards, TrainExample

REWARD_STATE = "train reward"
"""The state name the reward's scoring rows carry (they are never saved)."""
CURVE_PREFIX = "reward/"
"""A per-suite train reward curve is recorded as `reward/<suite>`."""


def train_items(suites: list[Suite]) -> list[tuple[Suite, Example]]:
    """The task suites' train examples with their suite, in the order the backend receives them. Retention
    suites are never trained on."""
    return [(s, ex) for s in suites if s.spec.role == "task" for ex in s.train]


def as_training(items: list[tuple[Suite, Example]]) -> list[TrainExample]:
    """The examples as a backend receives them: prompt messages, reference completion, tool schemas."""
    return [TrainExample(ex.messages, ex.reference, ex.tools) for _, ex in items]


def rewards(suite: Suite, examples: list[Example], outputs: list[str]) -> list[float]:
    """Each output's reward: the weighted sum of the suite's reward metrics, as evaluation scores them, on the
    output cut at the suite's stop strings as evaluation's generation cuts it (a metric whose `when:` does not
    apply to the example adds nothing)."""
    weights = suite.spec.reward_weights
    cut = [cut_at_stop(o, suite.spec.generation.stop) for o in outputs]
    rows = score(suite, REWARD_STATE, examples, [""] * len(examples), cut)
    return [sum(w * row.scores[m] for m, w in weights.items() if m in row.scores) for row in rows]


def _check_fields(suite: Suite, example: Example) -> None:
    """A train example carries the fields its reward metrics read (hidden tests, facts): evaluation checks test
    examples when the suite loads, and the reward checks its train examples before any training."""
    for name in suite.spec.reward_weights:
        metric, info = suite.metrics[name]
        missing = next((f for f in metric.reads if f not in example.fields), None) if applies(info, example) else None
        if missing is not None:
            where = suite.path / str(suite.sources.get("train", {}).get("file", "train split"))
            raise HarnessError(f"train example {example.id!r}: missing field {missing!r}, which reward metric "
                               f"{name!r} reads", str(where))


def identity(suites: list[Suite]) -> dict:
    """What decides the reward, for the tuning key: each task suite's reward metrics with their options and
    weights, and the code that scores them (this module, evaluation's scoring, the metrics' classes)."""
    tasks = [s for s in suites if s.spec.role == "task"]
    metrics = {type(s.metrics[m][0]) for s in tasks for m in s.spec.reward_weights}
    files = [Path(__file__), Path(evaluate.__file__)]
    files += [f for cls in sorted(metrics, key=str) for f in class_sources(cls)]
    return {"code": source_hash(files),
            "suites": {s.name: {m: [w, s.metrics[m][1].options, s.metrics[m][1].source]
                                for m, w in s.spec.reward_weights.items()} for s in tasks}}


class TrainReward:
    """The callable a reward-trained backend gets (`harness.tuning.contract.RewardFn`)."""

    def __init__(self, suites: list[Suite]):
        self.items = train_items(suites)
        episodic = next((s.name for s, _ in self.items if s.environment is not None), None)
        if episodic is not None:
            raise HarnessError(f"suite {episodic!r} is an episode suite: its metrics score whole episodes, not one "
                               "output, so they give no reward; train it with an imitating backend (lora, full)")
        for suite, ex in self.items:
            _check_fields(suite, ex)
        self.batches: dict[str, list[float]] = {}
        """Suite → the mean reward of each batch that held its examples, in order."""

    def __call__(self, indices: list[int], completions: list[str], *, record: bool = True) -> list[float]:
        if len(indices) != len(completions):
            raise ValueError(f"{len(indices)} example indices for {len(completions)} completions")
        bad = next((i for i in indices if not 0 <= i < len(self.items)), None)
        if bad is not None:
            raise IndexError(f"no training example {bad}: the reward knows the {len(self.items)} training examples "
                             "of the task suites' train splits, nothing else")
        by_suite: dict[str, list[int]] = {}
        for k, i in enumerate(indices):
            by_suite.setdefault(self.items[i][0].name, []).append(k)
        out = [0.0] * len(indices)
        for name, positions in by_suite.items():
            suite = self.items[indices[positions[0]]][0]
            values = rewards(suite, [self.items[indices[k]][1] for k in positions], [completions[k] for k in positions])
            for k, value in zip(positions, values):
                out[k] = value
            if record:
                self.batches.setdefault(name, []).append(sum(values) / len(values))
        return out

    def curves(self) -> dict[str, list[tuple[int, float]]]:
        """`reward/<suite>` → (batch number from 1, that batch's mean reward on the suite's examples)."""
        return {CURVE_PREFIX + name: [(k, round(v, 6)) for k, v in enumerate(means, 1)]
                for name, means in self.batches.items()}

    def probes(self, probe: ProbedRewards | None) -> dict[str, RewardProbe]:
        """A backend's probe summed up per suite: its prompts, those kept, and their mean rewards before and
        after training (every prompt has the same number of samples, so a mean of prompt means is the mean of
        the samples)."""
        if probe is None:
            return {}
        after = probe.after if probe.after is not None else [None] * len(probe.indices)
        rows: dict[str, list[tuple[bool, float, float | None]]] = {}
        kept = set(probe.kept)
        for i, before_i, after_i in zip(probe.indices, probe.before, after):
            rows.setdefault(self.items[i][0].name, []).append((i in kept, before_i, after_i))

        def mean(values: list) -> float | None:
            return round(sum(values) / len(values), 6) if values and None not in values else None

        found = {}
        for name, suite_rows in rows.items():
            kept_rows = [r for r in suite_rows if r[0]]
            found[name] = RewardProbe(
                prompts=len(suite_rows), kept=len(kept_rows), samples=probe.samples,
                before=round(sum(r[1] for r in suite_rows) / len(suite_rows), 6),
                after=mean([r[2] for r in suite_rows]),
                kept_before=mean([r[1] for r in kept_rows]), kept_after=mean([r[2] for r in kept_rows]))
        return found


def reward_checks(record: RunRecord) -> list[RewardCheck]:
    """Per reward-trained state and suite: its train reward's first and last quarter of batches beside its
    held-out primary metric and that of the state it started from (a chain's upstream, trained with the same
    seed and settings, when the run has it; else base)."""
    values = {(r.state, r.suite, r.metric): r.value for r in record.results}
    significant = {(c.baseline, c.state, c.suite, c.metric): c.significant for c in record.comparisons}
    runs = {b.name: b for b in record.backends}
    found = []
    for b in record.backends:
        reference = BASE
        if b.starts_from is not None:
            seed = b.train_seed if record.train_seeds is not None else None
            upstream = runs.get(state_name(b.starts_from.backend, {}, seed))
            if upstream is not None and upstream.settings == b.starts_from.settings:
                reference = upstream.name
        for name, curve in b.cost.curves.items():
            suite = next((s for s in record.suites if CURVE_PREFIX + s.name == name), None)
            if suite is None or not curve or not suite.metrics:
                continue
            metric = suite.metrics[0].name
            value, before = values.get((b.name, suite.name, metric)), values.get((reference, suite.name, metric))
            if value is None or before is None:
                continue
            rewards = [v for _, v in curve]
            quarter = max(1, len(rewards) // 4)
            first, last = sum(rewards[:quarter]) / quarter, sum(rewards[-quarter:]) / quarter
            probe = b.cost.probes.get(suite.name)
            rose = probe.after > probe.before if probe is not None and probe.after is not None else last > first
            found.append(RewardCheck(state=b.name, suite=suite.name, batches=len(rewards), reward_first=round(first, 6),
                                     reward_last=round(last, 6), metric=metric, reference=reference,
                                     reference_value=before, value=value, flagged=rose and value < before, probe=probe,
                                     fall_significant=significant.get((reference, b.name, suite.name, metric),
                                                                      significant.get((b.name, reference, suite.name,
                                                                                       metric)))))
    return found


def reward_warnings(checks: list[RewardCheck]) -> list[str]:
    """One line per flagged check: the reward rose, the held-out primary metric fell."""
    return [f"{c.state}: its train reward on {c.suite} rose ({_rise(c)}) while its held-out {c.metric} fell below "
            f"{c.reference}'s ({c.reference_value:.3f} → {c.value:.3f}"
            f"{'' if c.fall_significant else ', within noise: not significant'})"
            for c in checks if c.flagged]


def _rise(check: RewardCheck) -> str:
    """How the train reward rose: on the probe when it was measured, else by the batch curve's quarters."""
    probe = check.probe
    if probe is not None and probe.after is not None:
        return f"{probe.before:.3f} → {probe.after:.3f} on {probe.prompts} probed prompts"
    return f"{check.reward_first:.3f} → {check.reward_last:.3f}, first to last quarter of batches"
