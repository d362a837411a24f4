"""Tuning: the backend contract every strategy implements (`contract`), the registry that finds them through
the `harness.backends` entry points (`registry`), their layered settings, tuning a state (with the tuning
cache and checkpoints), the train reward of reward-trained backends, and exporting a merged model."""
from harness.common.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "contract": ["Backend", "PreferencePair", "PreferenceSettings", "ProbedRewards", "RewardFn", "TrainExample",
                 "TrainStats", "TunedModel", "TuneSettings"],
    "registry": ["available", "get_backend", "usable_backend"],
    "settings": ["parse_overrides", "resolve"],
    "export": ["export_merged"],
    "reward": ["TrainReward"],
})
