"""The data report as terminal text (`harness data check`), and the exit status it implies."""
from __future__ import annotations

from harness.record import DataReport, GateOutcome, SuiteData

OK, WARNINGS, FAILED_GATE = 0, 1, 1
LISTED = 8
"""Names shown of a long list; the rest are counted."""


def listed(names: list[str], limit: int = LISTED) -> str:
    """`names` joined by commas, cut after `limit` with a count: `a, b, … and 88 more`."""
    shown = ", ".join(names[:limit])
    return shown + (f", … and {len(names) - limit} more" if len(names) > limit else "")


def report_lines(report: DataReport, outcomes: list[GateOutcome]) -> list[str]:
    """Every suite's counts, lengths, truncation, labels, overlap and findings; then the data gates."""
    lines = [f"Data report: lengths in tokens of {report.model}'s tokenizer; near duplicates: similarity at least "
             f"{report.threshold:g} ({report.similarity})"]
    for data in report.suites:
        lines += _suite_lines(data)
    for o in outcomes:
        lines.append(f"  {'pass' if o.passed else 'FAIL'} gate {o.message}")
    failed = sum(not o.passed for o in outcomes)
    lines.append(f"Data: {len(report.suites)} suite{'s' if len(report.suites) != 1 else ''}, "
                 f"{report.warnings} warning{'s' if report.warnings != 1 else ''}"
                 + (f", {failed} of {len(outcomes)} data gates fail" if outcomes else ""))
    return lines


def _suite_lines(data: SuiteData) -> list[str]:
    counts = " · ".join(f"{s.split} {s.n:,}" for s in data.splits)
    lines = [f"{data.suite} ({data.language}): {counts}"]
    for s in data.splits:
        if s.lengths:
            lines.append(f"  {s.split} lengths (prompt + completion): median {s.lengths.median:g}, "
                         f"95th percentile {s.lengths.p95:g}, longest {s.lengths.max}")
    by_length: dict[int, list[str]] = {}
    for t in data.truncation:
        by_length.setdefault(t.max_length, []).append(t.backend)
    for t in data.truncation:
        if t.backend == by_length[t.max_length][0]:  # backends sharing a max_length cut the same examples
            lines.append(f"  max_length {t.max_length} ({', '.join(by_length[t.max_length])}): {t.truncated} "
                         f"training example{'s' if t.truncated != 1 else ''} truncated, {t.completion_lost} with no "
                         "completion left")
    if data.label_source:
        seen = " · ".join(f"{s.split} {len(s.labels)} labels" for s in data.splits)
        unseen = f"; not in train: {listed(data.unseen_labels)}" if data.unseen_labels else ""
        lines.append(f"  labels ({data.label_source}): {seen}{unseen}")
    if data.tools_note:
        lines.append(f"  tools: {data.tools_note}")
    if data.overlap:
        o = data.overlap
        lines.append(f"  train/test overlap: {o.near} of {o.n_test} test prompts ({o.exact} verbatim)")
    lines += [f"  WARNING {f.message}" + (f" (e.g. {' = '.join(f.ids[0][:4])})" if f.ids and f.ids[0] else "")
              for f in data.findings]
    if not data.findings:
        lines.append("  no findings")
    return lines


def exit_status(report: DataReport, outcomes: list[GateOutcome], strict: bool) -> int:
    """1 when a data gate fails, or with `strict` when there is any warning; else 0."""
    if any(not o.passed for o in outcomes):
        return FAILED_GATE
    return WARNINGS if strict and report.warnings else OK
