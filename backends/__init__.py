"""The tuning strategies this project ships, each behind the core's contract (`harness.tuning.contract`).
They are registered as `harness.backends` entry points in pyproject.toml, the way a third-party package adds
its own; the harness finds them there (`harness.tuning.registry`) and never imports this package."""
