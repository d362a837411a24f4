"""Tuned states: which backend, with which swept settings, trained with which seed, under which name.

A run tunes one state per backend, or, with sweeps and training seeds, one per combination:

    --backend lora --sweep lora.r=4,8 --sweep lora.learning_rate=1e-4,3e-4 --train-seeds 0,1

tunes `lora[r=4,learning_rate=1e-4]@seed0`, `…@seed1`, `lora[r=4,learning_rate=3e-4]@seed0`, … .
A state's **strategy** is its name without the seed (`lora[r=4,learning_rate=1e-4]`): what the
seeds of a strategy vary is only the training's randomness (initialisation, data order).

A **chain** `UPSTREAM+BACKEND` (e.g. `--backend lora+grpo`) tunes with BACKEND starting from UPSTREAM's tuned
artefact (SFT, then reinforcement learning): one strategy, `lora+grpo`, whose states are tuned by BACKEND and
take BACKEND's settings and sweeps (`--set grpo.beta=…`); the upstream trains with its own settings and the
state's seed.

Names are used as folder names (`predictions/<state>/`, `models/<state>/`), in report pages and
in pytest item ids, so every part of a name is confined to letters, digits and `_ . + -`; the
brackets, `=`, `,` and `@` that join the parts are safe in all three.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from harness.common.errors import HarnessError
from harness.common.limits import SEED_MAX

MAX_STATES = 64
"""Most tuned states one run may ask for (each is a training and an evaluation)."""
MAX_TRAIN_SEEDS = 16
SEED_MARK = "@seed"
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VALUE = re.compile(r"[A-Za-z0-9_.+-]+")


@dataclass(frozen=True)
class Tuning:
    """One tuned state of a run, before it is tuned."""

    state: str
    """Its name, e.g. `lora`, `lora[r=8]`, `lora[r=8]@seed1`."""
    backend: str
    """The backend that tunes it."""
    strategy: str
    """The name without the seed: what a seed-aware comparison pools over seeds."""
    train_seed: int
    """The seed of its training (initialisation and data order)."""
    point: dict[str, str] = field(default_factory=dict)
    """Swept setting → its value as written on the command line (empty without a sweep)."""
    starts_from: str | None = None
    """A chain's upstream backend, whose tuned artefact (trained with the same seed) this state starts from."""


def state_name(backend: str, point: dict[str, str], train_seed: int | None) -> str:
    """`backend[field=value,…]@seedN`, each part only where it applies."""
    name = backend + (f"[{','.join(f'{k}={v}' for k, v in point.items())}]" if point else "")
    return name + (f"{SEED_MARK}{train_seed}" if train_seed is not None else "")


def strategy_of(state: str) -> str:
    """The strategy a state belongs to: its name without `@seedN`."""
    head, mark, seed = state.rpartition(SEED_MARK)
    return head if mark and seed.isdigit() else state


def backend_of(state: str) -> str:
    """The backend part of a state's name."""
    return re.split(r"[\[@]", state, maxsplit=1)[0]


def aliases(state: str) -> set[str]:
    """Every name a gate's `states:` may use for this state: the state, its strategy, its backend."""
    return {state, strategy_of(state), backend_of(state)}


CHAIN_MARK = "+"


def chain(entry: str) -> tuple[str | None, str]:
    """A `--backend` entry → (the backend it starts from, the backend that tunes it): `lora+grpo` → (lora, grpo),
    `lora` → (None, lora)."""
    upstream, mark, backend = entry.rpartition(CHAIN_MARK)
    return (upstream, backend) if mark else (None, entry)


def backends_named(entries: list[str]) -> list[str]:
    """Every backend the `--backend` entries name, chains' upstreams included, each once."""
    return list(dict.fromkeys(b for e in entries for b in chain(e) if b is not None))


def parse_sweeps(assignments: list[str]) -> dict[str, dict[str, list[str]]]:
    """`BACKEND.FIELD=V1,V2,…` strings → backend → field → values (as written), in the order given."""
    sweeps: dict[str, dict[str, list[str]]] = {}
    for item in assignments:
        key, eq, values = item.partition("=")
        backend, dot, name = key.partition(".")
        if not (eq and dot and _NAME.fullmatch(backend) and _FIELD.fullmatch(name)):
            raise HarnessError(f"expected BACKEND.FIELD=V1,V2,…, got {item!r}", "--sweep")
        listed = values.split(",")
        bad = next((v for v in listed if not _VALUE.fullmatch(v)), None)
        if bad is not None:
            raise HarnessError(f"{key}: value {bad!r} cannot name a state (a sweep value is a number or a word of "
                               "letters, digits and _ . + -)", "--sweep")
        if len(set(listed)) != len(listed):
            raise HarnessError(f"{key}: a value is listed twice", "--sweep")
        if name in sweeps.get(backend, {}):
            raise HarnessError(f"{key} is swept twice", "--sweep")
        sweeps.setdefault(backend, {})[name] = listed
    return sweeps


def parse_train_seeds(text: str) -> list[int]:
    """`0,1,2` → [0, 1, 2]: distinct seeds from 0 to `SEED_MAX`."""
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise HarnessError(f"expected seeds separated by commas, e.g. 0,1,2; got {text!r}", "--train-seeds") from None
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise HarnessError("training seeds must be distinct non-negative integers", "--train-seeds")
    too_big = next((s for s in seeds if s > SEED_MAX), None)
    if too_big is not None:  # numpy and torch refuse it only once training starts, a run directory later
        raise HarnessError(f"seed {too_big} is over {SEED_MAX}, the largest seed numpy and torch accept",
                           "--train-seeds")
    if len(seeds) > MAX_TRAIN_SEEDS:
        raise HarnessError(f"at most {MAX_TRAIN_SEEDS} training seeds", "--train-seeds")
    return seeds


def expand(backends: list[str], sweeps: dict[str, dict[str, list[str]]], train_seeds: list[int] | None,
           run_seed: int, overrides: dict[str, dict[str, Any]] | None = None) -> list[Tuning]:
    """Every state to tune: per backend, each combination of its swept values, each training seed.

    Without `train_seeds` each strategy trains once with the run seed and names carry no seed.
    """
    for entry in backends:
        upstream, backend = chain(entry)
        for name in (upstream, backend) if upstream is not None else (backend,):
            if not _NAME.fullmatch(name):
                raise HarnessError(f"backend name {name!r} cannot name a state (letters, digits, _ and -; a chain is "
                                   "two names joined by +, e.g. lora+grpo)", "--backend")
        if upstream == backend:
            raise HarnessError(f"chain {entry!r} starts from itself", "--backend")
    tuned_by = {chain(e)[1] for e in backends}
    stray = sorted(set(sweeps) - tuned_by)
    if stray:
        raise HarnessError(f"--sweep names backend {stray[0]!r}, which this run does not tune (add --backend "
                           f"{stray[0]})", "--sweep")
    for backend, swept in sweeps.items():
        both = sorted(set(swept) & set((overrides or {}).get(backend, {})))
        if both:
            raise HarnessError(f"{backend}.{both[0]} is both set and swept; keep one", "--sweep")
    tunings = []
    for entry in backends:
        upstream, backend = chain(entry)
        fields = list(sweeps.get(backend, {}))
        for values in itertools.product(*(sweeps[backend][f] for f in fields)) if fields else [()]:
            point = dict(zip(fields, values))
            strategy = state_name(entry, point, None)
            for seed in train_seeds if train_seeds is not None else [None]:
                tunings.append(Tuning(state=state_name(entry, point, seed), backend=backend, strategy=strategy,
                                      train_seed=run_seed if seed is None else seed, point=point,
                                      starts_from=upstream))
    if len(tunings) > MAX_STATES:
        raise HarnessError(f"{len(tunings)} tuned states asked for; at most {MAX_STATES} per run", "--sweep")
    return tunings


def point_overrides(overrides: dict[str, dict[str, Any]], tuning: Tuning) -> dict[str, dict[str, Any]]:
    """The user's overrides with this state's swept values added (each parsed as YAML, like `--set`)."""
    if not tuning.point:
        return overrides
    mine = dict(overrides.get(tuning.backend, {})) | {k: yaml.safe_load(v) for k, v in tuning.point.items()}
    return overrides | {tuning.backend: mine}
