"""The demo's numbers in the README and the suites' READMEs, rendered from the demo's run record, so that
what the documentation quotes is what the demo printed.

    python docs/demo_numbers.py RUN_DIR           # check: exit 1 naming every block that differs
    python docs/demo_numbers.py RUN_DIR --write   # rewrite the blocks from RUN_DIR

A block is the text between `<!-- demo:NAME -->` and `<!-- /demo:NAME -->` in a Markdown file. Costs and
timings are not in any block: they change from machine to machine, and the README states them as measured.
`make test` runs the demo and then the tests, and one of them runs this check on that run.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.cli.summary import gate_tally, result_header, result_lines  # noqa: E402
from harness.record import RunRecord, load_predictions, load_record  # noqa: E402
from harness.suitedef.suite import load_suite  # noqa: E402

BLOCK = re.compile(r"(<!-- demo:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /demo:(?P=name) -->)", re.S)


def summary(record: RunRecord) -> str:
    """The main README's excerpt of the demo's terminal summary: each suite's primary metric, then the gates."""
    primary = {(info.name, info.metrics[0].name) for info in record.suites if info.metrics}
    lines = [result_header(record), *result_lines(record, only=primary)]
    lines.append(f"  {gate_tally(record.gates)}")
    return "```\n" + "\n".join(lines) + "\n```\n"


def _cell(record: RunRecord, state: str, suite: str, metric: str) -> str:
    d = record.suite(suite).metric(metric).digits
    r = next(r for r in record.results if (r.state, r.suite, r.metric) == (state, suite, metric))
    text = f"{r.value:.{d}f} [{r.ci_low:.{d}f}, {r.ci_high:.{d}f}]"
    c = next((c for c in record.comparisons
              if (c.suite, c.metric, c.baseline, c.state) == (suite, metric, "base", state)), None)
    return text if c is None else f"{text}; Δ {c.delta:+.{d}f}, p={c.p_holm:.2g}"


def _processes(record: RunRecord) -> str:
    env = record.environment  # a demo that ran alone from the caches holds the results of `results_from` processes
    n = (env.results_from or env.world_size) if env else 1
    return "one process" if n == 1 else f"{n} processes"


def _gate(g) -> str:
    value = "–" if g.value is None else f"{g.value:.3g}"
    threshold = "" if g.threshold is None else f" vs {g.threshold:g}"
    return f"`{g.label}` on {g.state}: {value}{threshold} ({g.status})"


def suite_numbers(record: RunRecord, suite: str) -> str:
    """A suite README's table of values, intervals and deltas per state, and its gates."""
    info = record.suite(suite)
    states = ["base", *[b.name for b in record.backends]]
    lines = [f"Measured on the demo run of {record.created[:10]} (`make demo`: `{record.model}`, "
             f"{', '.join(f'`{s}`' for s in states[1:])}, seed {record.seed}, "
             f"{_processes(record)}). Values with their 95% intervals; Δ "
             f"against base with the Holm-adjusted p of the paired test (alpha {record.alpha:g}).", "",
             "| metric | " + " | ".join(states) + " |", "|---" * (len(states) + 1) + "|"]
    for m in info.metrics:
        lines.append(f"| {m.name} | " + " | ".join(_cell(record, s, suite, m.name) for s in states) + " |")
    gates = [g for g in record.gates if g.suite == suite]
    if gates:
        lines += ["", "Gates: " + "; ".join(_gate(g) for g in gates) + "."]
    return "\n".join(lines) + "\n"


BREAKDOWNS = {"translate_en_zh": ("split", ["bleu", "exact_match"])}
"""Suites whose README breaks the demo's numbers down by a data field: (field, metrics)."""


def breakdown(record: RunRecord, run_dir: Path, suite: str) -> str:
    """A suite README's table of metric values per value of a data field (e.g. the parts of a test split),
    computed by the suite's own metrics from the run's predictions."""
    field, metrics = BREAKDOWNS[suite]
    loaded = load_suite(ROOT / "suites" / suite)
    part_of = {ex.id: ex.fields[field] for ex in loaded.test}
    states = ["base", *[b.name for b in record.backends]]
    rows = {state: load_predictions(run_dir, state, suite) for state in states}
    parts = sorted({part_of[r.id] for r in rows["base"]})
    lines = [f"| {field} | examples | " + " | ".join(f"{s} {m}" for s in states for m in metrics) + " |",
             "|---" * (2 + len(states) * len(metrics)) + "|"]
    for part in parts:
        cells = []
        for state in states:
            mine = [r for r in rows[state] if part_of[r.id] == part]
            for name in metrics:
                metric, _ = loaded.metrics[name]
                scored = [r for r in mine if name in r.scores]
                value = metric.aggregate([r.output for r in scored], [r.reference for r in scored],
                                         [r.scores[name] for r in scored])
                cells.append(f"{value:.{record.suite(suite).metric(name).digits}f}")
        n = sum(part_of[r.id] == part for r in rows["base"])
        lines.append(f"| {part} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def data_findings(record: RunRecord) -> str:
    """What the demo's data report found, as the README quotes it."""
    if record.data is None:
        return "The demo recorded no data report.\n"
    findings = [(s.suite, f) for s in record.data.suites for f in s.findings]
    if not findings:
        return "On the shipped suites it finds nothing to warn about.\n"
    listed = "; ".join(f"`{suite}`: {f.message}" for suite, f in findings)
    return f"On the shipped suites it finds {len(findings)} thing{'s' if len(findings) != 1 else ''} to warn " \
           f"about: {listed}.\n"


def rendered(record: RunRecord, run_dir: Path) -> dict[Path, dict[str, str]]:
    """Every block's text, by file and block name."""
    out: dict[Path, dict[str, str]] = {ROOT / "README.md": {"summary": summary(record),
                                                           "data-findings": data_findings(record)}}
    for info in record.suites:
        readme = ROOT / "suites" / info.name / "README.md"
        if readme.is_file():
            out[readme] = {"numbers": suite_numbers(record, info.name)}
            if info.name in BREAKDOWNS:
                out[readme][f"by-{BREAKDOWNS[info.name][0]}"] = breakdown(record, run_dir, info.name)
    return out


def apply(text: str, blocks: dict[str, str]) -> tuple[str, list[str]]:
    """`text` with its blocks replaced, and the names of those that changed (or are missing)."""
    seen, changed = set(), []

    def replace(m: re.Match) -> str:
        name = m["name"]
        seen.add(name)
        if name not in blocks:
            return m[0]
        if m["body"] != blocks[name]:
            changed.append(name)
        return m[1] + blocks[name] + m[4]

    new = BLOCK.sub(replace, text)
    return new, changed + [f"{name} (no such block)" for name in blocks if name not in seen]


def main(argv: list[str] | None = None) -> int:
    """Check (or with --write, rewrite) every demo block against RUN_DIR's record."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--write", action="store_true", help="rewrite the blocks instead of checking them")
    args = parser.parse_args(argv)
    stale = []
    for path, blocks in rendered(load_record(args.run_dir), Path(args.run_dir)).items():
        text = path.read_text(encoding="utf-8")
        new, changed = apply(text, blocks)
        if args.write and new != text:
            path.write_text(new, encoding="utf-8")
        stale += [f"{path.relative_to(ROOT)}: {name}" for name in changed]
    if stale and not args.write:
        print("These documentation blocks differ from the demo run "
              f"(run `python docs/demo_numbers.py {args.run_dir} --write`):\n  " + "\n  ".join(stale))
        return 1
    print(f"{'rewrote' if args.write else 'checked'} the demo blocks: "
          f"{len(stale)} {'changed' if args.write else 'stale'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
