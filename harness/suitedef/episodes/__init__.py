"""An episode suite's declarations: the environment (state, tools, preconditions, effects, failures) in a
tiny bounded language (`expressions`), JSON-schema parameters (`schema`) and the tasks (`spec`), checked
when the suite loads. Pure data and its checks: running episodes is `harness.episodes`' job."""
from harness.common.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "spec": ["EnvironmentSpec", "Task", "environment_from", "load_environment", "load_tasks", "task_from"],
})
