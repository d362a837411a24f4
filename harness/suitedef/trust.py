"""A suite's own code and the user's decision to run it, like transformers' `trust_remote_code`.

A suite may name code: an `evaluate:` module (a folder inside the suite, or a Hub name). Loading a
suite never runs it: `harness suites validate|list`, `data check`, `report` and the pytest plugin
read the declaration alone. Only `run` and `eval` load it, and only when the user decided to trust
it: `--trust-suite-code`, or, when a run is resumed, the approval its record holds for exactly those
files (a module edited since is not approved). Without the decision they refuse with one line
saying what would run and how to allow it. The decision is recorded in `run.json` (`trusted_code`).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from harness.common.errors import HarnessError
from harness.metrics import build
from harness.metrics.hf_evaluate import files_digest, local_module
from harness.record import SuiteCode

from .suite import SUITE_FILE, Suite, metric_field

TRUST_FLAG = "--trust-suite-code"
RESUMED = "the resumed run's approval"


def suite_code(suite: Suite) -> list[SuiteCode]:
    """The code `suite` names, each with the digest that identifies it (nothing of it is run)."""

    code = []
    for m in suite.spec.metrics:
        if m.evaluate is not None:
            folder = local_module(m.evaluate, suite.path)
            digest = f"sha256:{files_digest(folder)}" if folder else f"hub:{m.evaluate}"
            code.append(SuiteCode(suite=suite.name, name=m.evaluate, digest=digest))
    return code


def trusted(suites: list[Suite], trust_all: bool, approved: Iterable[str] = ()) -> tuple[list[Suite], list[SuiteCode]]:
    """The suites with their own code loaded (this runs it), and that code as recorded; one HarnessError
    saying what would run and how to allow it when the user has not trusted all of it."""
    approved = set(approved)
    code = {s.name: suite_code(s) for s in suites}
    refused = [(s, c) for s in suites for c in code[s.name] if not trust_all and c.digest not in approved]
    if refused:
        suite = refused[0][0]
        what = ", ".join(f"evaluate module {c.name!r} ({_short(c.digest)})" for s, c in refused if s is suite)
        others = sum(1 for s, _ in refused if s is not suite)
        more = f" (and {others} more in other suites)" if others else ""
        raise HarnessError(f"the suite brings its own code, which runs only if you trust it: {what}{more}; read "
                           f"it, then add {TRUST_FLAG}", str(suite.path / SUITE_FILE))
    recorded = [c.model_copy(update={"trusted_by": TRUST_FLAG if trust_all else RESUMED})
                for s in suites for c in code[s.name]]
    return [with_code(s) if code[s.name] else s for s in suites], recorded


def with_code(suite: Suite) -> Suite:
    """The suite with every metric that is its own code loaded: this runs that code."""

    metrics = dict(suite.metrics)
    for i, m in enumerate(suite.spec.metrics):
        if m.evaluate is not None:
            try:
                metrics[m.id] = build(m.name, m.evaluate, m.options, m.when, suite.spec.language, suite.path,
                                      load=True)
            except ValueError as e:
                raise HarnessError(f"{metric_field(suite.path / SUITE_FILE, i)}: {e}", str(suite.path / SUITE_FILE)) \
                    from None
    return replace(suite, metrics=metrics)


def _short(digest: str) -> str:
    kind, _, value = digest.partition(":")
    return f"sha256 {value[:12]}…" if kind == "sha256" else "from the Hub"
