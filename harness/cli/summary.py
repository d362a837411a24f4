"""The terminal summary of a finished run or evaluation."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harness.common.lazy import lazy_module

if TYPE_CHECKING:
    import reports
else:  # the report pages load when a run has finished, not with the command line
    reports = lazy_module("reports")


def print_summary(run_dir: Path, record) -> None:
    """Render the report, then print the terminal summary: values, deltas against base with 95% intervals and
    verdicts, costs, gates."""
    report = reports.render_report(run_dir)
    marks = {"gain": "▲ gain", "loss": "▼ LOSS", "no detectable change": "= no detectable change"}
    print(f"\nResults on the test splits (Δ vs base, 95% interval, Holm-adjusted p; alpha {record.alpha:g}):")
    for info in record.suites:
        for m in info.metrics:
            base = record.value("base", info.name, m.name)
            if base is None:
                continue
            d = m.digits
            print(f"  {info.name} · {m.name}: base {base:.{d}f}")
            for c in record.comparisons:
                if (c.suite, c.metric, c.baseline) == (info.name, m.name, "base"):
                    value = record.value(c.state, info.name, m.name) or 0.0
                    print(f"      {c.state:<6} {value:.{d}f}  Δ {c.delta:+.{d}f} "
                          f"[{c.ci_low:+.{d}f}, {c.ci_high:+.{d}f}]  p={c.p_holm:.3g}  {marks[c.verdict]}")
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
                  f"{marks[sc.verdict]}")
    gates = record.gates
    if gates:
        print(f"  gates: {sum(g.passed for g in gates)} of {len(gates)} pass"
              + "".join(f"\n    FAIL {g.message}" for g in gates if not g.passed))
    print(f"\nRecord: {run_dir / 'run.json'}\nReport: {report.resolve()}")
