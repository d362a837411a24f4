"""Reading run records of earlier schema versions: users keep old runs.

Each step upgrades a raw `run.json` dict by one version, so a reader only ever sees the current
shape. Steps know the metrics of their own time by name (they must not ask today's code what an
old name meant).
"""
from __future__ import annotations

import copy
from typing import Any, Callable

# The five metrics schema version 2 knew, with what version 3 records about each.
_V2_METRICS: dict[str, dict[str, Any]] = {
    "exact_match": {"kind": "passfail", "scale": 1.0, "digits": 3},
    "tool_name": {"kind": "passfail", "scale": 1.0, "digits": 3},
    "tool_arguments": {"kind": "passfail", "scale": 1.0, "digits": 3},
    "bleu": {"kind": "corpus", "scale": 100.0, "digits": 2},
    "chrf": {"kind": "corpus", "scale": 100.0, "digits": 2},
}


def _v2_to_v3(raw: dict) -> dict:
    """Metric descriptions join the suites, checks and environment become typed, gates get recorded."""
    out = copy.deepcopy(raw)
    signatures = out.pop("metric_signatures", {}) or {}
    for suite in out.get("suites", []):
        metrics = []
        for spec in suite.get("metrics", []):
            name = spec["name"]
            if name not in _V2_METRICS:
                raise ValueError(f"suite {suite.get('name')!r}: metric {name!r} is unknown to schema version 2")
            options = {k: v for k, v in spec.items() if k != "name"}
            metrics.append({"name": name, **_V2_METRICS[name], "options": options,
                            "signature": signatures.get(f"{suite.get('name')}/{name}")})
        suite["metrics"] = metrics
    env = out.get("environment") or {}
    out["environment"] = {"python": env.get("python", "unknown"), "platform": env.get("platform", "unknown"),
                          "device": env.get("device", "unknown"), "packages": env.get("packages") or {},
                          "git_commit": env.get("git_commit"), "code_hash": env.get("code_hash", "unknown")}
    out["checks"] = {k: v for k, v in (out.get("checks") or {}).items()
                     if k in ("model_changed", "reload_equivalence", "batch_invariance", "contamination")}
    out["gates"] = []  # version 2 decided gates whenever they were shown; none were recorded
    out["schema_version"] = 3
    return out


def _v3_to_v4(raw: dict) -> dict:
    """Version 4 adds the data report and explanations; a version 3 run has neither, and keeps its
    train/test overlap in `checks.contamination`, where `max_overlap` gates still read it."""
    return {**copy.deepcopy(raw), "schema_version": 4}


def _v4_to_v5(raw: dict) -> dict:
    """Tuned states name their backend, strategy and training seed; runs may sweep and train several seeds.
    Before version 5 each backend was tuned once, with the run seed, under its own name."""
    out = copy.deepcopy(raw)
    for b in out.get("backends", []):
        b.setdefault("backend", b.get("name"))
        b.setdefault("strategy", b.get("name"))
        b.setdefault("train_seed", out.get("seed", 0))
    out["schema_version"] = 5
    return out


def _v5_to_v6(raw: dict) -> dict:
    """Version 6 records the statistics of imported human ratings (`ratings`), which version 5 computed
    while rendering the report, and `allow_unsandboxed_code`, which did not exist: code always ran under
    the in-process sandbox of its time. A migration cannot compute rating statistics (that needs the core's
    statistics), so they stay unset until the next `harness sheets import`; the ratings themselves are
    untouched."""
    return {**copy.deepcopy(raw), "ratings": None, "allow_unsandboxed_code": False, "schema_version": 6}


STEPS: dict[int, Callable[[dict], dict]] = {2: _v2_to_v3, 3: _v3_to_v4, 4: _v4_to_v5, 5: _v5_to_v6}
"""Version → the step that upgrades a record of that version to the next."""


def migrate(raw: dict, target: int) -> dict:
    """`raw` upgraded step by step to schema version `target`; ValueError when a version is unknown."""
    version = raw.get("schema_version")
    while version != target:
        if version not in STEPS:
            raise ValueError(f"schema version {version} cannot be read (supported: {sorted(STEPS)} and {target})")
        raw = STEPS[version](raw)
        version = raw["schema_version"]
    return raw
