"""Render a run directory's report from run.json and the predictions: nothing else is read.

The report is a static site (report/ by default):
  index.html                 overview: results with intervals and significance, verdicts, gates,
                             validity checks, human ratings, provenance
  data.html                  the data-quality report: findings, lengths, truncation, labels, overlap
  strategy.html              cost against quality per strategy, Pareto chart and front, comparisons across seeds
  pairs/<a>--<b>.html        two strategies head to head: every comparison, disagreements, costs
  training.html              loss curves
  suites/<suite>/index.html  charts, the suite's numbers, change counts, the list of example pages
  suites/<suite>/examples-NNN.html, search-N.js   every example, paged; the filters' index; the token
                             view of explained examples
  report.css, report.js
"""
from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from harness.record import BASE, load_record

from . import breakdown, charts, headtohead
from .data import data_view
from .examples import FILTERS, PAGE_SIZE, change_label, index_chunks, load_suite_examples, matches
from .overview import flatten, forest_rows, head_to_head, metric_rows, provenance, verdicts, what_broke
from .sheets.status import sheets_status
from .site import Site, slugs, staged
from .strategy import QUALITY_LABEL, quality, seed_rows, strategy_rows


def render_report(run_dir: str | Path, out_dir: str | Path | None = None, *, page_size: int = PAGE_SIZE) -> Path:
    """Write the report site (default `RUN_DIR/report/`) and return its overview page, `index.html`."""
    run_dir = Path(run_dir)
    record = load_record(run_dir)
    final = Path(out_dir) if out_dir else run_dir / "report"
    with staged(final) as staging:  # a report that fails half-way leaves nothing behind
        page = write_run_site(record, run_dir, staging, page_size)
    return final / page.relative_to(staging)


def write_run_site(record, run_dir: Path, out_dir: Path, page_size: int = PAGE_SIZE, up: str | None = None) -> Path:
    """`up`: a link (relative to the overview) back to a comparison site this run is part of."""
    slug = slugs([s.name for s in record.suites])
    tuned = bool(record.backends)  # an evaluation of one model has no strategies to compare, no training to plot
    nav = [("Overview", "index.html"), ("Data", "data.html")]
    nav += [("Strategies", "strategy.html"), ("Training", "training.html")] if tuned else []
    nav += [(s.name, f"suites/{slug[s.name]}/index.html") for s in record.suites]
    site = Site(out_dir, f"Run {record.run_id}", nav)
    site.copy_assets()
    gates = record.gates
    rows = metric_rows(record)
    summaries = []
    for info in record.suites:
        suite = load_suite_examples(record, run_dir, info, slug[info.name], page_size)
        summaries.append(_write_suite(site, record, suite, [r for r in rows if r["suite"] == info.name], gates))
    if tuned:  # an earlier render's tuning pages go when the site is put in place (`staged`)
        _write_tuning_pages(site, record, run_dir)
    site.page("data.html", "data.html.j2", record=record, suites=data_view(record))
    sheets = sheets_status(run_dir)
    forest = forest_rows(rows)
    return site.page("index.html", "index.html.j2", record=record, rows=rows, gates=gates, up=up, tuned=tuned,
                     verdicts=verdicts(record, gates), broke=what_broke(record, gates),
                     forest=charts.forest(forest, [b.name for b in record.backends]) if forest else None,
                     head_to_head=head_to_head(record),
                     checks=flatten(record.checks.model_dump()) or None,
                     retention=flatten(record.retention, None) if record.retention else None,
                     provenance=provenance(record), suites=summaries, ratings=record.ratings, sheets=sheets)


def _write_tuning_pages(site: Site, record, run_dir: Path) -> None:
    """The strategy page (with the head-to-head pages) and the training page."""
    points, columns, fronts = strategy_rows(record)
    pair_pages = _write_pairs(site, record, run_dir, set(fronts["wall"]) | set(fronts["params"]))
    site.page("strategy.html", "strategy.html.j2", record=record, points=points, columns=columns, fronts=fronts,
              chart=charts.pareto(points, quality(record, BASE), QUALITY_LABEL) if points else None,
              base_quality=quality(record, BASE), quality_label=QUALITY_LABEL, pair_pages=pair_pages,
              pairs_left_out=len(record.strategies) * (len(record.strategies) + 1) // 2 - len(pair_pages),
              seed_rows=seed_rows(record, pair_pages))
    # a reward-trained state's loss is a policy-gradient surrogate around 0, not a loss that falls: drawn apart
    imitated = [b for b in record.backends if not b.cost.curves.get("reward")]
    site.page("training.html", "training.html.j2", record=record,
              chart=charts.loss_curves({b.name: b.cost.loss_curve for b in imitated}, record.states)
              if any(b.cost.loss_curve for b in imitated) else None, curves=_curve_charts(record))


def _curve_charts(record) -> list[tuple[str, Markup]]:
    """(caption, chart) for each series reward-trained backends logged besides the loss (`reward`, `kl`,
    `completion_length`, and the train reward per suite)."""
    names = list(dict.fromkeys(n for b in record.backends for n in b.cost.curves))
    charts_out = []
    for name in names:
        series = {b.name: b.cost.curves[name] for b in record.backends if b.cost.curves.get(name)}
        label, caption = CURVE_LABELS.get(name, (name, name))
        if name.startswith("reward/"):
            label, caption = "train reward", f"Mean train reward on {name.removeprefix('reward/')}'s examples, " \
                "per reward batch (one per step), as the harness scored it with the suite's own metrics."
        charts_out.append((caption, charts.step_curves(series, record.states, label, caption, log=False)))
    return charts_out


CURVE_LABELS = {
    "reward": ("mean reward", "Mean train reward of each step's sampled completions, as logged by the trainer."),
    "kl": ("KL", "KL divergence from the starting model per step (logged when beta > 0)."),
    "completion_length": ("tokens", "Mean length of the sampled completions per step, in tokens."),
}
"""A logged series' axis label and caption on the training page."""


def _write_suite(site: Site, record, suite, rows: list[dict], gates) -> dict:
    folder = f"suites/{suite.slug}"
    chunks = index_chunks(suite)
    for i, chunk in enumerate(chunks, 1):
        site.write(f"{folder}/search-{i}.js", chunk)
    filters = {k: v for k, v in FILTERS.items() if suite.tuned and (k != "failing" or suite.passfail)}
    pages = [{"n": p, "file": suite.page_file(p), "examples": suite.page_examples(p)}
             for p in range(1, suite.n_pages + 1)]
    for p in pages:
        p["counts"] = {k: sum(matches(k, ex.codes) for ex in p["examples"]) for k in filters}
    common = dict(record=record, suite=suite, info=suite.info, filters=filters, pages=pages,
                  index_files=" ".join(f"search-{i}.js" for i in range(1, len(chunks) + 1)))
    for p in pages:
        site.page(f"{folder}/{p['file']}", "examples.html.j2", page=p, change_label=change_label, **common)
    counts = suite.counts()
    chart = charts.metric_bars([
        {"name": r["metric"], "scale": r["scale"],
         "values": {s: (c.value, c.ci_low, c.ci_high) if c else None for s, c in r["cells"].items()}}
        for r in rows], record.states) if rows and any(c for r in rows for c in r["cells"].values()) else None
    site.page(f"{folder}/index.html", "suite.html.j2", rows=rows, chart=chart, counts=counts,
              first_page={k: suite.first_page(k) for k in filters},
              gates=[g for g in gates if g.suite == suite.info.name], labels=breakdown.by_label(record, suite.info),
              failures=breakdown.failures(record, suite.info.name), **common)
    return {"info": suite.info, "href": f"{folder}/index.html", "n": len(suite.examples), "counts": counts,
            "filters": filters}


def _write_pairs(site: Site, record, run_dir: Path, front: set[str]) -> dict[tuple[str, str], str]:
    """A head-to-head page per pair of strategies (base included); returns (baseline, strategy) → page."""
    pairs = headtohead.pair_list(record, front)
    files = headtohead.pair_files(record, pairs)
    seeded = bool(record.seed_comparisons)
    for (a, b), file in files.items():
        site.page(file, "pair.html.j2", record=record, a=a, b=b, seeded=seeded,
                  rows=headtohead.comparison_rows(record, a, b),
                  sections=headtohead.disagreements(record, run_dir, a, b),
                  cost_a=headtohead.costs(record, a), cost_b=headtohead.costs(record, b),
                  settings_diff=headtohead.settings_differences(record, a, b))
    return files

