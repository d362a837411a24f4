"""The content of an export: sampled items, blinded labels and A/B sides, and the key that undoes them."""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field

from harness.common.errors import HarnessError
from harness.record import BASE, Prediction, load_predictions, predictions_path

from .layout import PAIRWISE, POINTWISE, levels_text, rubric_of, sheet_id
from .sample import flipped_ids, sample_examples


@dataclass
class Sheet:
    """The rows one rater file holds, before the rater id is filled in."""

    kind: str
    state: str | None
    """The tuned state compared with base (pairwise sheets)."""
    rows: list[dict] = field(default_factory=list)
    show_reference: bool = False
    rubrics: dict = field(default_factory=dict)
    """Suite → Rubric, for forms that show each criterion's levels as choices."""


@dataclass
class Export:
    export_id: str
    sheet_id: str
    key: dict
    """What key.json keeps for this export: item → suite, example and state(s)."""
    sheets: list[Sheet]


def build_export(record, run_dir, suites: list[str] | None, per_suite: int, seed: int) -> Export:
    """The sampled, blinded content of one export and the key that undoes it."""
    if per_suite < 1:
        raise HarnessError("needs at least one example per suite", "--per-suite")
    infos = _select_suites(record, suites)
    tuned = [s for s in record.states if s != BASE]
    pointwise = Sheet(POINTWISE, None)
    pairwise = {s: Sheet(PAIRWISE, s) for s in tuned}
    items, criteria = {}, {}
    for info in infos:
        rubric = rubric_of(info)
        criteria[info.name] = [c.name for c in rubric.criteria]
        rows = _predictions(record, run_dir, info.name)
        ids = [i for i in rows[BASE] if all(i in by_id for by_id in rows.values())]
        rng = random.Random(f"{seed}:{info.name}")
        chosen = sample_examples(ids, flipped_ids(info, rows, ids), per_suite, rng)
        reference = (lambda ex: rows[BASE][ex].reference) if rubric.show_reference else (lambda ex: "")
        pointwise.show_reference |= rubric.show_reference
        pointwise.rubrics[info.name] = rubric
        n_point = 0
        for ex in chosen:
            states = list(rows)
            rng.shuffle(states)
            for label, state in enumerate(states, 1):
                n_point += 1
                item = f"{info.name}:i{n_point:03d}"
                items[item] = {"kind": POINTWISE, "suite": info.name, "example": ex, "state": state,
                               "system": f"S{label}"}
                for c in rubric.criteria:
                    pointwise.rows.append({
                        "item_id": item, "suite": info.name, "system": f"S{label}", "criterion": c.name,
                        "levels": levels_text(c), "prompt": rows[BASE][ex].prompt, "reference": reference(ex),
                        "output": shown_output(rows[state][ex])})
        n_pair = 0
        for state in (s for s in tuned if s in rows):
            pairwise[state].show_reference |= rubric.show_reference
            for ex in chosen:
                n_pair += 1
                item = f"{info.name}:p{n_pair:03d}"
                a, b = (state, BASE) if rng.random() < 0.5 else (BASE, state)
                items[item] = {"kind": PAIRWISE, "suite": info.name, "example": ex, "state": state, "versus": BASE,
                               "a": a, "b": b}
                pairwise[state].rows.append({
                    "item_id": item, "suite": info.name, "prompt": rows[BASE][ex].prompt, "reference": reference(ex),
                    "output_a": shown_output(rows[a][ex]), "output_b": shown_output(rows[b][ex])})

    # Same run, suites, sample size and seed give the same id, so re-exporting never orphans filled sheets.
    digest = json.dumps({"run": record.run_id, "items": items, "criteria": criteria}, sort_keys=True)
    export_id = hashlib.sha256(digest.encode()).hexdigest()[:8]
    sid = sheet_id(record.run_id, export_id)
    sheets = [pointwise] + [s for s in pairwise.values() if s.rows]
    for sheet in sheets:
        for row in sheet.rows:
            row["sheet_id"] = sid
    key = {"sheet_id": sid, "seed": seed, "per_suite": per_suite, "suites": [i.name for i in infos],
           "states": record.states, "criteria": criteria, "items": items}
    return Export(export_id, sid, key, sheets)


def _select_suites(record, names: list[str] | None):
    known = {i.name: i for i in record.suites}
    for name in names or []:
        if name not in known:
            raise HarnessError(f"no suite {name!r} in this run; it has {', '.join(known) or 'none'}", "--suite")
    return [i for i in record.suites if not names or i.name in names]


def _predictions(record, run_dir, suite: str) -> dict[str, dict[str, Prediction]]:
    """Rows by state and example id, for the states that have predictions (base must)."""
    rows = {}
    for state in record.states:
        by_id = {r.id: r for r in load_predictions(run_dir, state, suite)}
        if by_id:
            rows[state] = by_id
    if BASE not in rows:
        raise HarnessError("no base predictions to rate", str(predictions_path(run_dir, BASE, suite)))
    return rows


TRANSCRIPT_CHARS = 20_000
"""An episode's transcript shown to raters is cut here (a spreadsheet cell holds at most 32,767 characters)."""


def shown_output(row: Prediction) -> str:
    """What raters judge: the output, or for an episode everything after the user's opening, one message per
    paragraph (`assistant:`, `tool order_food (sold_out):`, `user:`), so the whole episode is rated, not only
    its final answer."""
    if not row.transcript:
        return row.output
    opening = next((i for i, t in enumerate(row.transcript) if t.role == "user"), -1)
    lines = [f"{t.role}{f' {t.tool}' if t.tool else ''}{f' ({t.status})' if t.role == 'tool' and t.status else ''}: "
             f"{t.content}" for t in row.transcript[opening + 1:]]
    text = "\n\n".join(lines)
    return text if len(text) <= TRANSCRIPT_CHARS else text[:TRANSCRIPT_CHARS] + " … (cut)"
