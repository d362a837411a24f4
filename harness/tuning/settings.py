"""Backend settings, resolved in layers: the backend's defaults, then the model's
recommendations (`harness.json` beside its weights, as `tiny` ships), then the user's YAML
file, then `--set backend.field=value` on the command line. The result is recorded in run.json."""
from __future__ import annotations

import json
from pathlib import Path

import yaml
from pydantic import ValidationError

from harness.common.errors import HarnessError
from harness.common.files import load_yaml

from .contract import TuneSettings
from .registry import get_backend


def model_recommendations(model_dir: str) -> dict[str, dict]:
    """The tuning settings a model directory recommends (`harness.json`), by backend."""
    path = Path(model_dir) / "harness.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get("tuning_defaults", {})


def parse_overrides(config_file: str | None, assignments: list[str]) -> dict[str, dict]:
    """User overrides by backend name, from a YAML file and `backend.field=value` strings."""
    layers: dict[str, dict] = {}
    if config_file:
        try:
            data = load_yaml(Path(config_file))[1] or {}
        except HarnessError as e:
            raise HarnessError(f"cannot read backend settings: {str(e).removeprefix(config_file + ': ')}",
                               config_file) from None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise HarnessError("expected a mapping of backend name → settings mapping", config_file)
        layers = {k: dict(v) for k, v in data.items()}
    for item in assignments:
        key, eq, value = item.partition("=")
        backend, dot, field = key.partition(".")
        if not (eq and dot and backend and field):
            raise HarnessError(f"expected BACKEND.FIELD=VALUE, got {item!r}", "--set")
        try:
            layers.setdefault(backend, {})[field] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise HarnessError(f"the value of {key} is not a YAML value: {value!r}", "--set") from None
    return layers


def resolve(backend: str, model_dir: str, overrides: dict[str, dict]) -> TuneSettings:
    """A backend's settings: its defaults, then the model's recommendations, then the user's overrides."""
    cls = get_backend(backend).settings_class
    values = model_recommendations(model_dir).get(backend, {}) | overrides.get(backend, {})
    try:
        return cls(**values)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"])
        raise HarnessError(f"setting '{backend}.{field}': {err['msg']}", "backend settings") from None
