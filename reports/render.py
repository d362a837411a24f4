"""Render a run directory's report from run.json and the predictions: nothing else is read."""
from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from harness.files import write_text
from harness.gates import check_all
from harness.metrics import METRICS
from harness.record import BASE, load_predictions, load_record

_env = Environment(
    loader=PackageLoader("reports", "templates"), autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
)
_env.filters["num"] = lambda v, digits=3: "—" if v is None else f"{v:.{digits}f}"
_env.filters["signed"] = lambda v, digits=3: "—" if v is None else f"{v:+.{digits}f}"


def render_report(run_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write `report/index.html` (self-contained, no network) and return its path."""
    run_dir = Path(run_dir)
    record = load_record(run_dir)
    out_dir = Path(out_dir) if out_dir else run_dir / "report"
    html = _env.get_template("index.html.j2").render(
        record=record, states=record.states, base=BASE, rows=_metric_rows(record),
        gates=check_all(record), suites=[_suite_view(record, run_dir, info) for info in record.suites],
    )
    path = out_dir / "index.html"
    write_text(path, html)
    return path


def _metric_rows(record):
    rows = []
    for info in record.suites:
        for spec in info.metrics:
            base = record.value(BASE, info.name, spec["name"])
            tuned = {b.name: record.value(b.name, info.name, spec["name"]) for b in record.backends}
            deltas = {k: (v - base if v is not None and base is not None else None) for k, v in tuned.items()}
            n = next((r.n for r in record.results if r.suite == info.name and r.metric == spec["name"]), None)
            rows.append({"suite": info.name, "metric": spec["name"], "n": n, "base": base, "tuned": tuned, "delta": deltas,
                         "scale": 1 if METRICS[spec["name"]].passfail else 100})
    return rows


def _suite_view(record, run_dir: Path, info) -> dict:
    """One row per example: its prompt, reference, and each state's output and pass/fail."""
    passfail = next((m["name"] for m in info.metrics if METRICS[m["name"]].passfail), None)
    by_state = {state: {r["id"]: r for r in load_predictions(run_dir, state, info.name)} for state in record.states}
    examples = []
    for ex_id, first in by_state[BASE].items() if by_state.get(BASE) else []:
        outputs = {}
        for state in record.states:
            row = by_state.get(state, {}).get(ex_id)
            if row is not None:
                outputs[state] = {"text": row["output"], "scores": row["scores"],
                                  "passed": bool(row["scores"][passfail]) if passfail else None}
        examples.append({"id": ex_id, "prompt": first["prompt"], "reference": first["reference"], "outputs": outputs})
    return {"info": info, "passfail": passfail, "examples": examples}
