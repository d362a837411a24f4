"""Judges: a model (anything `harness.models` loads, or an OpenAI-compatible endpoint) scoring a run's outputs
for the suites' judge metrics, after every state is generated; answers cached, parsed strictly, costed, and
recorded verdict by verdict (`harness.record.JudgeResult`)."""
from harness.common.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "apply": ["check_judges", "judge_metrics", "judge_run"],
    "parse": ["parse_pairwise", "parse_pointwise"],
    "endpoint": ["Answer", "Endpoint"],
    "judges": ["Asker", "EndpointJudge", "LocalJudge", "make_judge"],
})
