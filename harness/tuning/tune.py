"""Tuning one state of a run: from the tuning cache when it holds the artefact, else trained, with the
checkpoints a killed run resumes from.

A training saves checkpoints in `runs/<id>/checkpoints/<state>/` while it runs (see
`backends/checkpoints.py`), marked with the training's identity (`keys.training_identity`, which the
backend is given); `harness run --resume` retrains an interrupted state from the last one, and
they are removed once the state's artefact is saved and recorded. A resumed training's artefact is
stored in the tuning cache under the same key as an uninterrupted one's: it is the same artefact.
"""
from __future__ import annotations

import gc
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from harness.cache import Cache, NotCached, keys
from harness.common.errors import HarnessError
from harness.common.files import write_json
from harness.evaluation import checks
from harness.evaluation.analysis import in_memory_path
from harness.evaluation.evaluate import generate_for
from harness.models.loading import device
from harness.record import BackendRun, Cost, StartedFrom, TunedFromCache, strategies
from harness.runtime import distributed
from harness.runtime.resources import measure
from harness.suitedef.suite import Suite

from .contract import PreferencePair, PreferenceSettings, TrainExample
from .pairs import preference_pairs
from .registry import get_backend
from .reward import TrainReward, train_items
from .reward import identity as reward_identity

STARTS = "starts"
"""The run directory's folder of chains' upstream artefacts (`starts/<state>/`), one per chain state."""
CHECKPOINTS = "checkpoints"
"""The run directory's folder of unfinished trainings' checkpoints, one folder per state."""


def training_examples(suites: list[Suite]) -> list[TrainExample]:
    """The union of the task suites' train splits: one tuned model per backend serves every
    suite. Retention suites are never trained on. An episode suite's transcript is one example trained on
    every assistant turn (`TrainExample.every_turn`)."""
    return [TrainExample(ex.messages, ex.reference, ex.tools, every_turn=s.environment is not None)
            for s, ex in train_items(suites)]


def train_reward(name: str, suites: list[Suite]) -> TrainReward | None:
    """The train reward backend `name` trains on, when it is reward-trained (None: it imitates references)."""
    return TrainReward(suites) if get_backend(name).wants_reward else None


def check_rewards(backends: list[str], suites: list[Suite]) -> None:
    """Refuse, before anything is made, train examples that a reward-trained backend's reward cannot score."""
    for name in backends:
        train_reward(name, suites)


def tune(name: str, model_path: str, examples: list[TrainExample], settings, seed: int, out_dir: Path,
         checkpoints: Path | None = None, pairs: list[PreferencePair] | None = None,
         reward: TrainReward | None = None):
    """Tune with one backend and save to `out_dir`; returns (backend, tuned model, cost). Time and
    memory are measured here, around the backend's setup, train and save. With `checkpoints`, the
    backend keeps checkpoints there and resumes from the last one it finds; `pairs` go to a preference backend.
    A reward-trained backend is given `reward`, and the per-suite reward curves it recorded join the cost."""
    backend = get_backend(name)()
    backend.checkpoint_dir = checkpoints
    backend.pairs = pairs
    if backend.wants_reward:
        if reward is None:
            raise HarnessError(f"backend {name} trains on a reward, and none was given", f"backend {name}")
        backend.reward = reward
    if checkpoints is not None:
        backend.checkpoint_identity = keys.training_identity(
            name, model_path, examples, settings.model_dump(mode="json"), seed, distributed.world_size(), pairs)
    with measure() as usage:
        backend.setup(model_path, examples, settings, seed)
        stats = backend.train()
        tuned = backend.save(Path(out_dir))
    cost = Cost(
        wall_seconds=round(usage.seconds + stats.earlier_wall_seconds, 2), train_seconds=round(stats.train_seconds, 2),
        trainable_params=stats.trainable_params, total_params=stats.total_params,
        peak_memory_mb=round(usage.peak_memory_mb, 1), memory_kind=usage.memory_kind,
        train_tokens=stats.train_tokens, steps=stats.steps, loss_curve=stats.loss_curve,
        tokens_per_second=round(stats.train_tokens / stats.train_seconds, 1) if stats.train_seconds > 0 else 0.0,
        resumed_from_step=stats.resumed_from_step, attempts=stats.attempts,
        curves=stats.curves | (reward.curves() if reward is not None else {}),
        probes=reward.probes(stats.probe) if reward is not None else {},
    )
    return backend, tuned, cost


def tuning_key_for(cache: Cache | None, backend: str, model_path: str, examples: list[TrainExample],
                   settings: dict, seed: int, pairs: list[PreferencePair] | None = None, reward: dict | None = None,
                   start_key: str | None = None) -> str | None:
    """The tuning cache's key for this tuning (with a preference backend's `pairs`; `reward`: its reward's
    identity; `start_key`: a chain's upstream's key, which stands for the model it starts from); None without a
    cache or for a base model that cannot be fingerprinted."""
    fingerprint = cache.fingerprint(model_path) if cache is not None else None
    if fingerprint is None:
        return None
    return keys.tuning_key(start_key or fingerprint, examples, backend, get_backend(backend), settings, seed, device(),
                           distributed.results_world_size(), pairs, reward)


def from_tuning_cache(cache: Cache | None, key: str | None, model_path: str, out_dir: Path,
                      extras: dict[str, Path] | None = None) -> tuple[str, Cost, TunedFromCache] | None:
    """Restore the artefact cached under `key` into `out_dir`: (its kind, the original cost, where it came
    from); None when there is none. With several processes the main one looks and restores, and tells the
    others, so that every process trains, or none does."""
    if cache is None or key is None:
        return None
    found = None
    if distributed.is_main():
        start = time.perf_counter()
        hit = cache.tuning.restore(key, out_dir, model_path, extras)
        if hit is not None:
            found = (hit.kind, Cost.model_validate(hit.cost), TunedFromCache(
                key=key, trained=hit.created, trained_in=hit.origin,
                restore_seconds=round(time.perf_counter() - start, 3)))
    return distributed.broadcast(found)


def _on_main(build):
    """`build()` computed by the main process alone and handed to every process (with several processes, each
    training process must see the same pairs); its error, if any, raised on every process."""
    outcome = None
    if distributed.is_main():
        try:
            outcome = (True, build())
        except HarnessError as e:
            outcome = (False, e)
    ok, value = distributed.broadcast(outcome)
    if not ok:
        raise value
    return value


def checkpoint_dir(run_dir: Path, state: str) -> Path:
    """Where the training of `state` keeps its checkpoints until its artefact is recorded."""
    return Path(run_dir) / CHECKPOINTS / state


def discard_checkpoints(run_dir: Path, state: str) -> None:
    """Remove a state's checkpoints (its artefact is saved and recorded), and the folder once it is empty."""
    shutil.rmtree(checkpoint_dir(run_dir, state), ignore_errors=True)
    try:
        (Path(run_dir) / CHECKPOINTS).rmdir()
    except OSError:
        pass  # other states' checkpoints are still there, or there never were any


def tune_state(t: strategies.Tuning, suites: list[Suite], model_path: str, settings: dict, cache: Cache | None,
               run_dir: Path, start_settings: dict | None = None, pairs_from: str | None = None,
               allow_outside_data: bool = False) -> BackendRun:
    """Tune one state of a run (`settings`: its resolved settings) into `models/<state>/`: restored from the
    tuning cache, or trained (resuming from its checkpoints), saved and stored in the cache. A chain's state
    (`lora+grpo`) first gets its upstream's artefact (`start_settings`: the upstream's resolved settings) and
    tunes from it. A preference backend's pairs are built first (`pairs.py`; `pairs_from`: the run whose A/B
    choices give `sheets` pairs)."""
    artefact = Path("models") / t.state
    examples = training_examples(suites)
    reward = train_reward(t.backend, suites)
    typed = get_backend(t.backend).settings_class(**settings)
    pairs, pairs_info = None, None
    if get_backend(t.backend).uses_pairs:
        if cache is not None and not cache.computing:  # building pairs samples from the model
            raise NotCached(f"the preference pairs of {t.state}")
        assert isinstance(typed, PreferenceSettings), f"{t.backend} uses pairs: its settings are PreferenceSettings"
        pairs, pairs_info = _on_main(lambda: preference_pairs(suites, model_path, typed, t.train_seed, pairs_from,
                                                              run_dir, t.state, allow_outside_data))
    run = dict(name=t.state, backend=t.backend, strategy=t.strategy, train_seed=t.train_seed,
               sweep={k: settings[k] for k in t.point}, settings=settings, artefact=artefact.as_posix(),
               pairs=pairs_info)
    start_path, start_key = model_path, None
    if t.starts_from is not None:
        assert start_settings is not None, "a chain's state is planned with its upstream's settings"
        start = upstream(t, suites, model_path, start_settings, cache, run_dir)
        start_path, start_key, run["starts_from"] = str(run_dir / start.artefact), start.key, start.record
    # The in-memory model's outputs (for the reload check) travel with the artefact through the cache.
    extras = {"in_memory.json": in_memory_path(run_dir, t.state)}
    key = tuning_key_for(cache, t.backend, model_path, examples, settings, t.train_seed, pairs,
                         reward_identity(suites) if reward is not None else None, start_key)
    if t.starts_from is not None and start_key is None:
        key = None  # an upstream that could not be keyed leaves its chain unkeyed too
    hit = from_tuning_cache(cache, key, model_path, run_dir / artefact, extras)
    if hit is not None:
        kind, cost, provenance = hit
        return BackendRun(**run, kind=kind, cost=cost, from_cache=provenance)
    if cache is not None and not cache.computing:
        raise NotCached(f"the tuned model {t.state}")
    backend, tuned, cost = tune(t.backend, start_path, examples, typed, t.train_seed, run_dir / artefact,
                                checkpoint_dir(run_dir, t.state), pairs, reward)
    if t.starts_from is not None:
        _check_over_base(tuned, model_path, t.state)
    in_memory = backend.tuned_in_memory() if distributed.is_main() else None
    if in_memory is not None:  # outputs of the model as trained, for the reload check
        sample: dict[str, dict[str, str]] = {}
        for s in suites:
            picked = s.test[:checks.SAMPLE]
            inputs = [in_memory.render(ex.messages, ex.tools) for ex in picked]
            sample |= checks.as_trained(s, picked, inputs, generate_for(in_memory, s, picked))
        write_json(in_memory_path(run_dir, t.state), sample)
    del backend, in_memory
    gc.collect()
    if cache is not None and key is not None and distributed.is_main():
        cache.tuning.save(key, run_dir / artefact, model_path, tuned.kind, cost.model_dump(mode="json"),
                          run_dir.name, extras)
    distributed.barrier()  # the artefact is complete before any process loads it
    return BackendRun(**run, kind=tuned.kind, cost=cost)


@dataclass(frozen=True)
class Start:
    """A chain's upstream artefact, ready in the run directory."""

    artefact: Path
    """Relative to the run directory."""
    key: str | None
    """Its tuning key (None without a cache): it stands for the starting model in the chain's key."""
    record: StartedFrom


def upstream(t: strategies.Tuning, suites: list[Suite], model_path: str, settings: dict, cache: Cache | None,
             run_dir: Path) -> Start:
    """The artefact a chain's state starts from in `starts/<state>/`: the upstream backend's tuning with the
    state's seed, from the tuning cache (a hit when the run tunes that backend's state with the same settings
    and seed too) or trained and cached."""
    assert t.starts_from is not None
    artefact = Path(STARTS) / t.state
    examples = training_examples(suites)
    reward = train_reward(t.starts_from, suites)
    key = tuning_key_for(cache, t.starts_from, model_path, examples, settings, t.train_seed,
                         reward=reward_identity(suites) if reward is not None else None)
    hit = from_tuning_cache(cache, key, model_path, run_dir / artefact)
    if hit is not None:
        kind, cost, provenance = hit
    else:
        if cache is not None and not cache.computing:
            raise NotCached(f"the upstream of {t.state}")
        typed = get_backend(t.starts_from).settings_class(**settings)
        backend, tuned, cost = tune(t.starts_from, model_path, examples, typed, t.train_seed, run_dir / artefact,
                                    None, reward=reward)
        kind, provenance = tuned.kind, None
        del backend
        gc.collect()
        if cache is not None and key is not None and distributed.is_main():
            cache.tuning.save(key, run_dir / artefact, model_path, kind, cost.model_dump(mode="json"), run_dir.name)
        distributed.barrier()
    return Start(artefact, key, StartedFrom(backend=t.starts_from, settings=settings, artefact=artefact.as_posix(),
                                            kind=kind, cost=cost, from_cache=provenance))


def _check_over_base(tuned, model_path: str, state: str) -> None:
    """A chain's adapter must lie over the run's base model: one over its upstream's full model would name a
    folder (`starts/<state>/`) the tuning cache and other runs do not have."""
    if tuned.kind != "adapter":
        return
    config = json.loads((Path(tuned.path) / "adapter_config.json").read_text(encoding="utf-8"))
    if Path(str(config.get("base_model_name_or_path"))).resolve() != Path(model_path).resolve():
        raise HarnessError(f"{state}: its adapter lies over its upstream's full model, not over the base model; tune "
                           "the downstream backend in full after a full upstream (e.g. --set grpo.tune=full)",
                           f"backend {state}")
