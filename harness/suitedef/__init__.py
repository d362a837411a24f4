"""Suite definitions: the validated `suite.yaml` spec, the data formats and sources it reads (bounded), the
sandboxed Jinja2 prompt templates, and the scaffold of a new suite. (The shipped suites themselves are the
data folder `suites/` at the project's root.)"""
from harness.common.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "suite": ["Example", "Suite", "SuiteProblems", "find_suites", "load_suite"],
    "templates": ["compile_template", "render"],
})
