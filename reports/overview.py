"""What the overview page says: each suite × metric across states with intervals and paired
comparisons, a verdict per backend, gates, validity checks and provenance.

Statistics fields of the record may be absent (older runs, or a run whose comparisons were not
computed); every view here then says "not computed" rather than inventing a number.
"""
from __future__ import annotations

from dataclasses import dataclass

from harness.record import BASE, Comparison

VERDICT_MARK = {"gain": "▲", "loss": "▼", "no detectable change": "="}


@dataclass
class Delta:
    value: float | None
    comparison: Comparison | None = None
    """The record's `Comparison` of this state against base, when computed."""

    @property
    def verdict(self) -> str | None:
        return self.comparison.verdict if self.comparison else None


def comparisons_by_key(record) -> dict:
    """Comparisons by (suite, metric, baseline, state)."""
    return {(c.suite, c.metric, c.baseline, c.state): c for c in record.comparisons}


def delta_against_base(record, comps: dict, suite: str, metric: str, state: str) -> Delta:
    """The state's change against base: the paired comparison's when computed, else the plain difference."""
    comp = comps.get((suite, metric, BASE, state))
    if comp is not None:
        return Delta(comp.delta, comp)
    value, base = record.value(state, suite, metric), record.value(BASE, suite, metric)
    return Delta(value - base if value is not None and base is not None else None)


def results_by_key(record) -> dict:
    """Results by (state, suite, metric)."""
    return {(r.state, r.suite, r.metric): r for r in record.results}


def metric_rows(record, suites=None) -> list[dict]:
    """One row per suite × metric: each state's Result and each backend's Delta against base."""
    results, comps = results_by_key(record), comparisons_by_key(record)
    rows = []
    for info in suites or record.suites:
        for spec in info.metrics:
            name = spec.name
            cells = {s: results.get((s, info.name, name)) for s in record.states}
            deltas = {b.name: delta_against_base(record, comps, info.name, name, b.name) for b in record.backends}
            n = next((r.n for r in cells.values() if r is not None), None)
            # The smallest change these n examples can detect (80% power), from the first comparison.
            mde = next((d.comparison.mde for d in deltas.values()
                        if d.comparison and d.comparison.mde is not None), None)
            rows.append({"suite": info.name, "metric": name, "n": n, "mde": mde, "cells": cells, "deltas": deltas,
                         "passfail": spec.kind == "passfail", "kind": spec.kind, "scale": spec.scale,
                         "lowest": spec.lowest, "digits": spec.digits,
                         "uninformative": uninformative(cells, spec.lowest, spec.scale)})
    return rows


def uninformative(cells: dict, lowest: float, scale: float) -> str | None:
    """`floor` or `ceiling` when every state scored the metric's lowest (or highest) value: the suite cannot
    show a change either way on this model, which "no detectable change" would hide."""
    values = [c.value for c in cells.values() if c is not None]
    if len(values) < 2:
        return None
    if all(v == lowest for v in values):
        return "floor"
    if all(v == scale for v in values):
        return "ceiling"
    return None


def forest_rows(rows: list[dict]) -> list[dict]:
    """The overview's forest plot: every suite × metric with a comparison against base."""
    out = []
    for row in rows:
        deltas = {state: (d.comparison.delta, d.comparison.ci_low, d.comparison.ci_high,
                          d.comparison.verdict != "no detectable change")
                  for state, d in row["deltas"].items() if d.comparison is not None}
        if deltas:
            out.append({"label": f"{row['suite']} · {row['metric']}", "span": (row["scale"] - row["lowest"]) or 1.0,
                        "deltas": deltas})
    return out


def what_broke(record, gates) -> list[dict]:
    """Everything that got worse or could not be shown to hold, first: significant losses against base and
    between strategies, failed gates, then gates the run had too few examples to decide, then gates on a judge
    that is not calibrated."""
    out = []
    for c in record.comparisons:
        if c.verdict != "loss":
            continue
        d = record.suite(c.suite).metric(c.metric).digits
        out.append({"kind": "loss", "text": f"{c.state} is worse than {c.baseline} on {c.suite} · {c.metric}: "
                    f"Δ {c.delta:+.{d}f} [{c.ci_low:+.{d}f}, {c.ci_high:+.{d}f}], Holm p {c.p_text()}"})
    for status, word in (("fail", "fails"), ("underpowered", "is underpowered"),
                         ("uncalibrated", "is not decided (judge not calibrated)")):
        out += [{"kind": status, "text": f"gate {g.label} {word} on {g.suite} for {g.state}: {g.message}"}
                for g in gates if g.status == status]
    return out


def head_to_head(record) -> list:
    """Comparisons between two tuned states (not against base), when the record has them."""
    return [c for c in record.comparisons if c.baseline != BASE]


def verdicts(record, gates) -> list[dict]:
    """Per backend, one line: significant gains and losses against base, and its gates."""
    out = []
    for b in record.backends:
        comps = [c for c in record.comparisons if c.baseline == BASE and c.state == b.name]
        mine = [g for g in gates if g.state == b.name]
        failed = [g for g in mine if g.status == "fail"]
        underpowered = [g for g in mine if g.status == "underpowered"]
        uncalibrated = [g for g in mine if g.status == "uncalibrated"]
        parts = []
        if comps:
            gains = sum(c.verdict == "gain" for c in comps)
            losses = sum(c.verdict == "loss" for c in comps)
            flat = len(comps) - gains - losses
            parts.append(f"{_count(gains, 'significant gain')}, {_count(losses, 'loss', 'losses')}, "
                         f"{flat} with no detectable change")
        else:
            gains = losses = None
            parts.append("significance not computed")
        if not mine:
            parts.append("no gates")
        elif not failed and not underpowered and not uncalibrated:
            parts.append("all gates pass" if len(mine) > 1 else "its gate passes")
        for group, verb in ((failed, "fail"), (underpowered, "are underpowered (decided neither way)"),
                            (uncalibrated, "are not decided: their judge is not calibrated")):
            if group:
                parts.append(f"{len(group)} of {len(mine)} gates {verb} ("
                             + ", ".join(f"{g.suite} {g.label}" for g in group) + ")")
        status = ("bad" if failed or losses else "warn" if underpowered or uncalibrated
                  else ("good" if comps or mine else "neutral"))
        c = b.cost
        share = f", {100 * c.trainable_params / c.total_params:.1f}% of parameters trained" if c.total_params else ""
        out.append({"state": b.name, "text": "; ".join(parts), "status": status, "gains": gains, "losses": losses,
                    "cost": f"{c.wall_seconds:.1f} s{share}, peak {c.peak_memory_mb:.0f} MB"})
    return out


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def flatten(tree: dict, leaf_key: str | None = "ok") -> list[dict]:
    """Nested check/retention dicts as rows: {name, scope, ok, details: [(key, text)]}.

    A dict is a leaf when it holds `leaf_key` (or, with leaf_key None, when none of its values is
    a dict); the keys above it become the row's name and scope.
    """
    rows = []

    def walk(path, node):
        is_leaf = isinstance(node, dict) and (
            leaf_key in node if leaf_key else not any(isinstance(v, dict) for v in node.values()))
        if isinstance(node, dict) and not is_leaf:
            for k, v in node.items():
                walk(path + [str(k)], v)
            return
        details = [(k, _fmt(v)) for k, v in node.items() if k != leaf_key and v != ""] if isinstance(node, dict) \
            else [("value", _fmt(node))]
        ok = node.get(leaf_key) if isinstance(node, dict) and leaf_key else None
        rows.append({"name": path[0] if path else "", "scope": " / ".join(path[1:]),
                     "ok": None if ok is None else bool(ok), "details": details})

    walk([], tree or {})
    return rows


def _fmt(v) -> str:
    if isinstance(v, bool) or v is None:
        return str(v).lower() if v is not None else "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        shown = ", ".join(_fmt(x) for x in v[:8])
        return f"[{shown}{f', … {len(v) - 8} more' if len(v) > 8 else ''}]" if v else "none"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    return str(v)


def provenance(record) -> list[tuple[str, str]]:
    """Label → text pairs: everything needed to reproduce or audit the numbers."""
    env = record.environment
    rows = [("Model", f"{record.model} ({record.model_path})")]
    if record.adapter:
        rows.append(("Adapter", record.adapter))
    if record.allow_unsandboxed_code:
        rows.append(("Code sandbox", "--allow-unsandboxed-code: model output could run unconfined where bubblewrap "
                                     "was missing (see each code metric's isolation below)"))
    rows += [("Seed", str(record.seed)), ("Created", record.created), ("Status", record.status),
             ("Suites", ", ".join(f"{s.name} v{s.version} (sha256 {s.content_hash[:12]})" for s in record.suites)),
             ("Config key", record.config_key),
             ("Git commit", env.git_commit or "unknown"),
             ("Code hash", env.code_hash),
             ("Device", " · ".join((env.device, env.python, env.platform))),
             ("Packages", ", ".join(f"{k} {v}" for k, v in env.packages.items())),
             ("Significance level", f"α = {record.alpha:g}, Holm-adjusted over the run's comparisons")]
    methods = sorted({r.ci_method for r in record.results if r.ci_method})
    rows.append(("Value intervals", ", ".join(methods) if methods else "not computed"))
    for info in record.suites:
        for m in info.metrics:
            rows.append((f"Metric {info.name}/{m.name}", f"{m.kind}, {m.lowest:g}–{m.scale:g}"
                         + (f", {m.signature}" if m.signature else "") + f" ({m.source})"))
    for (test, sig), keys in _test_signatures(record).items():
        rows.append((f"Test signature ({test})", f"{sig}  [{', '.join(keys)}]"))
    return rows


def _test_signatures(record) -> dict:
    out: dict = {}
    for c in record.comparisons:
        if c.signature:
            out.setdefault((c.test, c.signature), []).append(f"{c.suite}/{c.metric}")
    return {k: sorted(set(v)) for k, v in out.items()}
