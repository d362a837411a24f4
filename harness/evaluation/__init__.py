"""From a model and suites to scores and decisions: generating and scoring the test splits, validity checks
(batch invariance, reload), comparisons against base and across seeds, explanations of changed examples, the
gates, decided once and recorded, and the statistics of imported human ratings, recorded likewise with each
judge metric's calibration against them."""
from harness.common.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "evaluate": ["aggregate", "evaluate_suite", "generate_test", "prompts_for", "score"],
    "gates": ["decide_all", "decide_data", "gate_states", "record_gates", "redecide_judged"],
    "analysis": ["analyse"],
    "ratings": ["aggregate_ratings", "record_ratings"],
    "calibration": ["attach_calibration"],
})
