"""The commands about suites and their data: `suites list|validate|new` and `data check`."""
from __future__ import annotations

import sys
from pathlib import Path

from harness.common.errors import HarnessError

from .process import quiet_libraries


def cmd_suites(args) -> int:
    """`harness suites list|validate|new`."""
    from harness.suitedef.suite import SuiteProblems, check_unique_names, find_suites, load_suite

    if args.action == "new":
        return _new_suite(args)
    failed = 0
    loaded: list = []
    for folder in find_suites(args.paths or ["suites"]):
        try:
            s = load_suite(folder, every_problem=args.action == "validate",
                           allow_outside_data=args.allow_outside_data)
            check_unique_names([*loaded, s])  # a run of these suites would refuse them
            loaded.append(s)
        except SuiteProblems as e:
            failed += 1
            for problem in e.problems:
                print(f"INVALID  {problem}", file=sys.stderr)
            continue
        except HarnessError as e:
            failed += 1
            print(f"INVALID  {e}", file=sys.stderr)
            continue
        metrics = ", ".join(m.id for m in s.spec.metrics)
        if args.action == "list":
            print(f"{s.name:<20} v{s.spec.version:<6} {s.spec.language:<4} {len(s.train):>6} train "
                  f"{len(s.test):>5} test  "
                  f"metrics: {metrics}  gates: {len(s.spec.gates)}  ({folder})")
        else:
            print(f"ok       {s.name} ({folder}): {len(s.train)} train, {len(s.test)} test examples")
    return 1 if failed else 0


def _new_suite(args) -> int:
    from harness.suitedef.scaffold import new_suite
    from harness.suitedef.suite import load_suite

    if len(args.paths) != 1:
        raise HarnessError("give the new suite's name: harness suites new NAME [--format F]", "suites new")
    name = args.paths[0]
    folder = new_suite(args.dir or Path("suites") / name, name, args.format)
    s = load_suite(folder)
    print(f"New suite {s.name} ({args.format}) in {folder}: edit suite.yaml, the data and README.md, then "
          f"`harness suites validate {folder}`")
    return 0


def cmd_data(args) -> int:
    """`harness data check`: the data-quality report and the data gates, before any training."""
    from harness.dataquality.report import data_report
    from harness.dataquality.text import exit_status, report_lines
    from harness.evaluation.gates import decide_data, gate_states
    from harness.models.loading import resolve_model_path
    from harness.record import DATA_GATES
    from harness.run import orchestrate as run
    from harness.tuning.settings import parse_overrides, resolve

    quiet_libraries()
    suites = [run.load_suite(p) for p in run.find_suites(args.suite or [run.DEFAULT_SUITES])]
    run.check_unique_names(suites)
    model_path = resolve_model_path(args.model, suites, args.seed)
    backends = args.backend or list(run.DEFAULT_BACKENDS)
    overrides = parse_overrides(args.backend_config, args.set)
    settings = {b: resolve(b, model_path, overrides).model_dump(mode="json") for b in backends}
    report = data_report(suites, args.model, model_path, run.max_lengths(settings))
    outcomes = [decide_data(report, s.name, state, gate) for s in suites for gate in s.spec.gates
                if gate.kind in DATA_GATES for state in gate_states(gate, backends)]
    print("\n".join(report_lines(report, outcomes)))
    return exit_status(report, outcomes, args.strict)
