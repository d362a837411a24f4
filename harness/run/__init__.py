"""A run from start to end: plan it (suites, model, strategies, configuration key), evaluate base, tune each
state, evaluate again, analyse, gate, and keep it all in a run directory that a stopped run resumes."""
from harness.common.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "orchestrate": ["Plan", "plan", "execute", "config_key"],
    "request": ["RunRequest", "request_from_record"],
    "dirs": ["new_run_dir", "find_finished_run", "discard_if_empty"],
})
