"""Every example of a suite across states: outputs diffed against the reference, each tuned state's
change against base, pages of a fixed size and the search index the page filters read.

A tuned state's change on one example is one letter (the same letters drive the static counts
here and the filters in report.js, so both always agree):
  I improved (base fails, state passes)   R regressed (base passes, state fails)
  P unchanged, both pass                  F unchanged, both fail
  - not comparable (an output is missing)
Suites without a pass/fail metric compare the first metric's per-example score: I better, R worse
(in the metric's direction), P equal; "failing after tuning" does not apply to them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from harness.record import BASE, Prediction, change_letter, load_predictions

from .diff import diff_html
from .why import TokenView, load_views

PAGE_SIZE = 250
SEARCH_CHARS = 2000
"""Characters of each text (prompt, reference, output) the search index keeps."""
INDEX_CHUNK_BYTES = 2_000_000
"""Search index files stay below this, so no file of a large suite grows without bound."""

FILTERS = {
    "improved": "Improved",
    "regressed": "Regressed",
    "unchanged": "Unchanged",
    "failing": "Failing after tuning",
}


def matches(flt: str, codes: str) -> bool:
    """Whether an example with these per-state change letters passes a filter (mirrored in report.js)."""
    if flt == "improved":
        return "I" in codes
    if flt == "regressed":
        return "R" in codes
    if flt == "unchanged":
        return bool(codes) and all(c in "PF" for c in codes)
    if flt == "failing":
        return "R" in codes or "F" in codes
    return True


@dataclass
class Example:
    id: str
    prompt: str
    reference: str
    outputs: dict = field(default_factory=dict)
    """state → {html, passed, scores, reasons}; states without a prediction are absent."""
    codes: str = ""
    """One change letter per tuned state, in order."""
    page: int = 1
    why: TokenView | None = None
    """The token view, for examples the run explained."""


@dataclass
class SuiteExamples:
    info: object
    slug: str
    states: list[str]
    tuned: list[str]
    passfail: str | None
    judge: str | None
    """The metric the change letters are computed from."""
    examples: list[Example]
    page_size: int

    @property
    def n_pages(self) -> int:
        return max(1, -(-len(self.examples) // self.page_size))

    def page_file(self, page: int) -> str:
        return f"examples-{page:0{max(3, len(str(self.n_pages)))}d}.html"

    def page_examples(self, page: int) -> list[Example]:
        return self.examples[(page - 1) * self.page_size: page * self.page_size]

    def counts(self) -> dict[str, dict[str, int]]:
        """Filter → state (or `any`) → examples it matches."""
        out = {}
        for flt in FILTERS:
            row = {"any": sum(matches(flt, ex.codes) for ex in self.examples)}
            for i, state in enumerate(self.tuned):
                row[state] = sum(matches(flt, ex.codes[i]) for ex in self.examples)
            out[flt] = row
        return out

    def first_page(self, flt: str) -> int | None:
        return next((ex.page for ex in self.examples if matches(flt, ex.codes)), None)


def load_suite_examples(record, run_dir, info, slug: str, page_size: int = PAGE_SIZE) -> SuiteExamples:
    """Every example of a suite in every state, with change letters and pages."""
    states = record.states
    tuned = [s for s in states if s != BASE]
    passfail = info.passfail_metric
    judge = info.metric(passfail) if passfail else (info.metrics[0] if info.metrics else None)
    rows = {state: {r.id: r for r in load_predictions(run_dir, state, info.name)} for state in states}
    order = list(dict.fromkeys(i for state in states for i in rows[state]))  # base's order first
    views = load_views(run_dir, info.name, states)
    codes = {ex_id: "".join(change_letter(rows[BASE].get(ex_id), rows[s].get(ex_id), judge) for s in tuned)
             for ex_id in order}
    order.sort(key=lambda ex_id: _first_shown(codes[ex_id]))  # regressions open the list; stable otherwise
    examples = []
    for n, ex_id in enumerate(order):
        first = next(rows[s][ex_id] for s in states if ex_id in rows[s])
        reference = first.reference
        ex = Example(id=ex_id, prompt=first.prompt, reference=reference, page=n // page_size + 1, why=views.get(ex_id),
                     codes=codes[ex_id])
        for state in states:
            row = rows[state].get(ex_id)
            if row is not None:
                ex.outputs[state] = _output(row, reference, passfail)
        examples.append(ex)
    return SuiteExamples(info, slug, states, tuned, passfail, judge.name if judge else None, examples, page_size)


def _first_shown(codes: str) -> int:
    """Where an example stands in the list: regressed in any state, then failing after tuning, then improved, then
    the rest."""
    return next((rank for rank, letter in enumerate("RFI") if letter in codes), 3)


def _output(row: Prediction, reference: str, passfail: str | None) -> dict:
    passed = bool(row.scores[passfail]) if passfail and passfail in row.scores else None
    return {"text": row.output, "html": diff_html(row.output, reference), "passed": passed,
            "scores": " · ".join(f"{k} {_score(v)}" for k, v in row.scores.items()),
            "reasons": "; ".join(f"{k}: {v}" for k, v in row.reasons.items() if v),
            "transcript": row.transcript, "end": row.episode_end,
            "state_html": _state_diff(row.end_state, reference) if row.transcript else None}


def _state_diff(end_state, reference: str):
    """An episode's end state diffed against the expected one (the reference), shown on the expected keys only:
    the expected state is a subset of what the end state must hold, so other keys are not differences."""
    try:
        expected = json.loads(reference)
    except ValueError:
        expected = None
    shown = _on_keys_of(end_state, expected)
    return diff_html(json.dumps(shown, ensure_ascii=False, indent=1, sort_keys=True),
                     json.dumps(expected, ensure_ascii=False, indent=1, sort_keys=True))


def _on_keys_of(actual, expected):
    """`actual` with its objects cut down to the keys `expected` has at the same place (lists element by element)."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        return {k: _on_keys_of(actual[k], expected[k]) for k in expected if k in actual}
    if isinstance(actual, list) and isinstance(expected, list) and len(actual) == len(expected):
        return [_on_keys_of(a, e) for a, e in zip(actual, expected)]
    return actual


def _score(v) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    return f"{v:g}" if float(v).is_integer() else f"{v:.1f}"


def index_chunks(suite: SuiteExamples) -> list[str]:
    """The search index as JavaScript files (a file:// page may load scripts but not fetch JSON).

    Each file appends rows [id, page, change letters, lower-cased searchable text] to
    `window.REPORT_INDEX`, in files of at most INDEX_CHUNK_BYTES. Text is JSON-encoded with <, >
    and & escaped, so nothing in it can end a script or be read as markup.
    """
    chunks: list[str] = []
    rows: list[str] = []
    size = 0
    for ex in suite.examples:
        texts = [ex.id, ex.prompt, ex.reference] + [o["text"] for o in ex.outputs.values()]
        row = _js([ex.id, ex.page, ex.codes, "\n".join(t[:SEARCH_CHARS] for t in texts).lower()])
        nbytes = len(row.encode("utf-8")) + 2
        if rows and size + nbytes > INDEX_CHUNK_BYTES:
            chunks.append(_chunk(rows))
            rows, size = [], 0
        rows.append(row)
        size += nbytes
    chunks.append(_chunk(rows))
    return chunks


def _chunk(rows: list[str]) -> str:
    # one array literal, not push(...rows): calls are limited to about 65k arguments
    return "window.REPORT_INDEX = (window.REPORT_INDEX || []).concat([\n" + ",\n".join(rows) + "\n]);\n"


def _js(value) -> str:
    text = json.dumps(value, ensure_ascii=False)
    for ch in "<>&\u2028\u2029":
        text = text.replace(ch, f"\\u{ord(ch):04x}")
    return text


def change_label(code: str, passfail: bool) -> str:
    """The words for a change letter."""
    if code == "P":
        return "unchanged (pass)" if passfail else "unchanged"
    return {"I": "improved", "R": "regressed", "F": "unchanged (fail)", "-": "not compared"}[code]
