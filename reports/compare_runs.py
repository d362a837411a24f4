"""Several runs side by side (e.g. LoRA rank 8 against rank 32 in separate runs) on the suites they share.

The comparison site holds an overview with one column per run × state, what differs between the
runs' configurations, a quality-against-cost chart over every run's backends, and each run's own
full report under runs/<run-id>/.
"""
from __future__ import annotations

import json
from pathlib import Path

from harness.common.errors import HarnessError
from harness.record import BASE, load_record

from . import charts
from .examples import PAGE_SIZE
from .overview import comparisons_by_key, metric_rows, verdicts
from .render import write_run_site
from .site import Site, staged, unique_slugs
from .strategy import QUALITY_LABEL, cost_points, mark_front, quality


def render_comparison(run_dirs: list[str | Path], out_dir: str | Path, *, page_size: int = PAGE_SIZE) -> Path:
    """Write the comparison site to `out_dir` and return its overview page."""
    if len(run_dirs) < 2:
        raise HarnessError("a comparison needs at least two run directories")
    runs = _load(run_dirs)
    shared = [name for name in (s.name for s in runs[0]["record"].suites)
              if all(name in r["suites"] for r in runs[1:])]
    if not shared:
        raise HarnessError("the runs share no suite: " + "; ".join(
            f"{r['label']}: {', '.join(r['suites']) or 'none'}" for r in runs))
    with staged(Path(out_dir)) as staging:  # a comparison that fails half-way leaves nothing behind
        page = _write_comparison(runs, shared, staging, page_size)
    return Path(out_dir) / page.relative_to(staging)


def _write_comparison(runs: list[dict], shared: list[str], out_dir: Path, page_size: int) -> Path:
    site = Site(out_dir, "Run comparison", [("Comparison", "index.html")]
                + [(r["label"], f"runs/{r['label']}/index.html") for r in runs])
    site.copy_assets()
    for r in runs:
        write_run_site(r["record"], r["dir"], out_dir / "runs" / r["label"], page_size, up="../../index.html")
    columns = [{"run": r, "state": s} for r in runs for s in r["record"].states]
    points = []
    for r in runs:
        points += cost_points(r["record"], f"{r['label']}/", [r["suites"][n] for n in shared])
    differences = _differences(runs)
    for i, r in enumerate(runs):  # a short tag telling the runs apart in column headers
        r["tag"] = ", ".join(f"{d['what']}={d['values'][i]}" for d in differences if d["what"] != "git commit")
    first = runs[0]
    base_quality = quality(first["record"], BASE, [first["suites"][n] for n in shared])
    mark_front(points, base_quality)
    return site.page(
        "index.html", "compare.html.j2", runs=runs, shared=shared, columns=columns, rows=_rows(runs, shared),
        unshared=sorted({n for r in runs for n in r["suites"]} - set(shared)), differences=differences,
        suite_mismatch=[n for n in shared if len({r["suites"][n].content_hash for r in runs}) > 1],
        points=points, quality_label=QUALITY_LABEL, base_quality=base_quality,
        chart=charts.pareto(points, base_quality, QUALITY_LABEL) if points else None)


def _load(run_dirs) -> list[dict]:
    records = [load_record(d) for d in run_dirs]
    # run ids become folder names: made safe, and unique when one run is given twice
    runs = []
    for d, record, label in zip(run_dirs, records, unique_slugs([r.run_id for r in records])):
        gates = record.gates
        runs.append({"label": label, "dir": Path(d), "record": record, "suites": {s.name: s for s in record.suites},
                     "gates": gates, "verdicts": {v["state"]: v for v in verdicts(record, gates)},
                     "comparisons": comparisons_by_key(record)})
    return runs


def _rows(runs: list[dict], shared: list[str]) -> list[dict]:
    """Suite × metric (metrics every run measured), each column's Result and its Delta against its own base."""
    rows = []
    per_run = [{(row["suite"], row["metric"]): row
                for row in metric_rows(r["record"], [r["suites"][n] for n in shared])} for r in runs]
    for key, first in per_run[0].items():
        if not all(key in rr for rr in per_run[1:]):
            continue
        cells, deltas = {}, {}
        for r, rr in zip(runs, per_run):
            for state, result in rr[key]["cells"].items():
                cells[(r["label"], state)] = result
            for state, delta in rr[key]["deltas"].items():
                deltas[(r["label"], state)] = delta
        rows.append({"suite": key[0], "metric": key[1], "digits": first["digits"], "cells": cells, "deltas": deltas,
                     "n": {r["label"]: rr[key]["n"] for r, rr in zip(runs, per_run)}})
    return rows


def _differences(runs: list[dict]) -> list[dict]:
    """What differs between the runs: model, seed, and every backend setting that is not the same in all."""
    out = []

    def add(what, values):
        shown = [json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v for v in values]
        if len(set(shown)) > 1:
            out.append({"what": what, "values": shown})

    add("model", [r["record"].model for r in runs])
    add("seed", [r["record"].seed for r in runs])
    add("adapter", [r["record"].adapter or "—" for r in runs])
    backends = list(dict.fromkeys(b.name for r in runs for b in r["record"].backends))
    for name in backends:
        settings = [next((b.settings for b in r["record"].backends if b.name == name), None) for r in runs]
        if any(s is None for s in settings):
            add(f"{name}", ["run" if s is not None else "not run" for s in settings])
            continue
        for key in dict.fromkeys(k for s in settings for k in s or {}):
            add(f"{name}.{key}", [(s or {}).get(key, "—") for s in settings])
    add("git commit", [r["record"].environment.git_commit or "unknown" for r in runs])
    return out
