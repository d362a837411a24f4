"""pass@1 by execution: the output's code must pass the example's hidden unit tests in the sandbox."""
from __future__ import annotations

from typing import Any, Mapping

from .base import NO_FIELDS, Metric, Score
from .sandbox import runner as sandbox


class PassAt1(Metric):
    """Whether the generated code passes the example's hidden tests (run jailed; see
    harness.metrics.sandbox.runner). A suite's `preamble:` is run ahead of both the solution and the tests."""

    name = "pass_at_1"
    kind = "mean"
    runs_code = True
    """Executes model output: a run refuses to start without the sandbox (or `--allow-unsandboxed-code`)."""
    takes_preamble = True
    """Gets the suite's `preamble:` as its `preamble` option."""
    cached = True
    """Two jails per example: a repeated run reads the verdicts from the cache instead."""

    def __init__(self, language: str = "en", field: str = "tests", wall_seconds: float = 5.0, preamble: str = ""):
        super().__init__(language)
        self.field = field
        self.reads = (field,)
        self.limits = sandbox.Limits(wall_seconds=wall_seconds)
        self.preamble = preamble

    def score(self, output: str, reference: str, fields: Mapping[str, Any] = NO_FIELDS) -> Score:
        tests = fields.get(self.field)
        if not isinstance(tests, str):
            raise ValueError(f"field {self.field!r} must be Python source with the hidden tests")
        outcome = sandbox.run_tests(sandbox.extract_code(output), tests, self.limits, self.preamble)
        return Score(1.0 if outcome.passed else 0.0, outcome.reason, repeatable=not outcome.timed_out)

    @property
    def signature(self) -> str:
        """The sandbox's limits and the isolation it has on this machine."""
        return (f"sandbox|wall:{self.limits.wall_seconds}s|cpu:{self.limits.cpu_seconds}s|"
                f"mem:{self.limits.memory_mb}MB|isolation:{','.join(sandbox.isolation(self.limits))}")
