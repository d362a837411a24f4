"""The terminal summary of a finished run or evaluation."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harness.common.lazy import lazy_module

if TYPE_CHECKING:
    import reports
    from harness import cache
    from reports import charts
else:  # the report pages load when a run has finished, not with the command line
    cache = lazy_module("harness.cache")
    charts = lazy_module("reports.charts")
    reports = lazy_module("reports")

MARKS = {"gain": "▲ gain", "loss": "▼ LOSS", "no detectable change": "= no detectable change"}


def keep_charts(use_cache: bool = True) -> None:
    """Reports drawn from now on keep their charts in the harness cache and read them back (`--no-cache`: not)."""
    charts.remember_in(cache.Cache().store.charts_dir if use_cache else None)


def result_header(record) -> str:
    """The line above the results."""
    return f"Results on the test splits (Δ vs base, 95% interval, Holm-adjusted p; alpha {record.alpha:g}):"


def result_lines(record, only: set[tuple[str, str]] | None = None) -> list[str]:
    """Each metric's base value, then each tuned state's value, delta, interval, p and verdict; `only`: the
    (suite, metric) pairs to include (default: all)."""
    lines = []
    for info in record.suites:
        for m in info.metrics:
            base = record.value("base", info.name, m.name)
            if base is None or (only is not None and (info.name, m.name) not in only):
                continue
            d = m.digits
            lines.append(f"  {info.name} · {m.name}: base {base:.{d}f}")
            for c in record.comparisons:
                if (c.suite, c.metric, c.baseline) == (info.name, m.name, "base"):
                    value = record.value(c.state, info.name, m.name) or 0.0
                    lines.append(f"      {c.state:<6} {value:.{d}f}  Δ {c.delta:+.{d}f} "
                                 f"[{c.ci_low:+.{d}f}, {c.ci_high:+.{d}f}]  p{_p(c.p_text())}  {MARKS[c.verdict]}")
    return lines


def print_summary(run_dir: Path, record, use_cache: bool = True) -> None:
    """Render the report (its charts kept in the harness cache with `use_cache`), then print the terminal
    summary: values, deltas against base with 95% intervals and verdicts, costs, gates."""
    keep_charts(use_cache)
    report = reports.render_report(run_dir)
    print("\n" + result_header(record))
    for line in result_lines(record):
        print(line)
    for b in record.backends:
        c = b.cost
        cached = f" (from the tuning cache, trained in {b.from_cache.trained_in})" if b.from_cache else ""
        if c.resumed_from_step is not None:
            cached += f" (in {c.attempts} attempts, the last resumed from step {c.resumed_from_step})"
        print(f"  cost {b.name}: {c.wall_seconds:.1f}s, {c.trainable_params:,}/{c.total_params:,} params trained, "
              f"peak {c.peak_memory_mb:.0f} MB {c.memory_kind}, {c.tokens_per_second:,.0f} tokens/s{cached}")
    if record.cache:
        hits = sum(u.outputs_from_cache for u in record.cache.values())
        print(f"  cache: {hits} of {hits + sum(u.outputs_generated for u in record.cache.values())} outputs "
              "from the generation cache")
    if record.seed_comparisons:
        print(f"Across training seeds {', '.join(map(str, record.train_seeds or []))} (mean Δ, 95% interval, "
              "Holm-adjusted p of the seed-paired t test):")
        for sc in record.seed_comparisons:
            d = record.suite(sc.suite).metric(sc.metric).digits
            print(f"  {sc.suite} · {sc.metric}: {sc.strategy} − {sc.baseline}  Δ {sc.delta:+.{d}f} "
                  f"[{sc.ci_low:+.{d}f}, {sc.ci_high:+.{d}f}]  seed sd {sc.seed_sd:.{d}f}  p={sc.p_holm:.3g}  "
                  f"{MARKS[sc.verdict]}")
    seq = record.sequential
    if seq is not None:
        share = seq.stages[seq.stage - 1]
        print(f"  sequential: stage {seq.stage} of {len(seq.stages)} ({share:.0%} of each test split), "
              + ("stopped: every margin gate decided" if seq.stopped_early else "the whole test split")
              + f"; bounds at z {seq.critical[seq.stage - 1]:.3f} ({seq.rule})")
    gates = record.gates
    if gates:
        print(f"  {gate_tally(gates)}"
              + "".join(f"\n    FAIL {g.message}" for g in gates if g.status == "fail")
              + "".join(f"\n    UNDERPOWERED {g.message}" for g in gates if g.status == "underpowered")
              + "".join(f"\n    JUDGE NOT CALIBRATED {g.message}" for g in gates if g.status == "uncalibrated")
              + "".join(f"\n    WARNING {g.suite} {g.state} {g.label}: {g.warning}" for g in gates
                        if g.warning and g.status == "pass"))
    print(f"\nRecord: {run_dir / 'run.json'}\nReport: {report.resolve()}")


def _p(text: str) -> str:
    """`=0.03` or `< 0.001` after a `p`."""
    return f" {text}" if text.startswith("<") else f"={text}"


def gate_tally(gates) -> str:
    """`gates: 3 of 6 pass, 1 fails, 1 underpowered, 1 judge not calibrated`: an underpowered gate and one whose
    judge is not calibrated are each counted on their own."""
    counts = {s: sum(g.status == s for g in gates) for s in ("pass", "fail", "underpowered", "uncalibrated")}
    extra = "".join(f", {counts[s]} {word}" for s, word in (("fail", "fail" if counts["fail"] > 1 else "fails"),
                                                           ("underpowered", "underpowered"),
                                                           ("uncalibrated", "judge not calibrated")) if counts[s])
    return f"gates: {counts['pass']} of {len(gates)} pass{extra}"
