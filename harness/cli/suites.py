"""The commands about suites and their data: `suites list|validate|new` and `data check`."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.common.errors import HarnessError
from harness.common.lazy import lazy_module

from .process import quiet_libraries

if TYPE_CHECKING:
    from harness import record
    from harness.dataquality import report as data_report
    from harness.dataquality import text as data_text
    from harness.evaluation import gates
    from harness.models import loading, toolprompt
    from harness.record import strategies
    from harness.run import orchestrate
    from harness.suitedef import scaffold, suite
    from harness.tuning import advice, registry, settings
else:  # each command loads the rooms it uses, when it runs: `suites list` never loads a model's code
    advice = lazy_module("harness.tuning.advice")
    data_report = lazy_module("harness.dataquality.report")
    data_text = lazy_module("harness.dataquality.text")
    gates = lazy_module("harness.evaluation.gates")
    loading = lazy_module("harness.models.loading")
    toolprompt = lazy_module("harness.models.toolprompt")
    orchestrate = lazy_module("harness.run.orchestrate")
    record = lazy_module("harness.record")
    registry = lazy_module("harness.tuning.registry")
    scaffold = lazy_module("harness.suitedef.scaffold")
    settings = lazy_module("harness.tuning.settings")
    strategies = lazy_module("harness.record.strategies")
    suite = lazy_module("harness.suitedef.suite")


def cmd_suites(args) -> int:
    """`harness suites list|validate|new`."""
    if args.action == "new":
        return _new_suite(args)
    failed = 0
    loaded: list = []
    for folder in suite.find_suites(args.paths or ["suites"]):
        try:
            s = suite.load_suite(folder, every_problem=args.action == "validate",
                                  allow_outside_data=args.allow_outside_data)
            suite.check_unique_names([*loaded, s])  # a run of these suites would refuse them
            loaded.append(s)
        except suite.SuiteProblems as e:
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
    if args.action == "validate" and getattr(args, "model", None) and loaded:
        _tools_lines(loaded, args.model)
    return 1 if failed else 0


def _tools_lines(suites: list, model: str) -> None:
    """`suites validate --model`: how each suite's function schemas reach the model, and a warning for prompts
    that drop them (the model would never see those schemas)."""
    offering = [s for s in suites if any(ex.tools for ex in s.train + s.test)]
    if not offering:
        print(f"tools    no suite offers function schemas: nothing to check against {model}")
        return
    quiet_libraries()
    text_side = loading.load_text_side(loading.resolve_model_path(model, suites), model)
    for s in offering:
        dropped = data_report.tools_dropped(text_side, s.train + s.test)
        print(f"tools    {s.name}: {toolprompt.note(text_side.tool_rendering, model)}")
        if dropped:
            print(f"WARNING  {s.name}: {len(dropped)} prompt{'s' if len(dropped) != 1 else ''} render the same with "
                  f"and without their function schemas for {model}: the model never sees them "
                  f"(e.g. {', '.join(ex.id for ex in dropped[:4])})")


def _new_suite(args) -> int:

    if len(args.paths) != 1:
        raise HarnessError("give the new suite's name: harness suites new NAME [--format F | --from FILE]",
                           "suites new")
    name = args.paths[0]
    if args.from_file is not None:
        if args.format is not None:
            raise HarnessError("--from guesses the format from the file: give --format or --from, not both",
                               "suites new")
        return _new_suite_from(args, name)
    args.format = args.format or "prompt-completion"
    folder = scaffold.new_suite(args.dir or Path("suites") / name, name, args.format)
    s = suite.load_suite(folder)
    print(f"New suite {s.name} ({args.format}) in {folder}: edit suite.yaml, the data and README.md, then "
          f"`harness suites validate {folder}`")
    return 0


def _new_suite_from(args, name: str) -> int:
    """`suites new NAME --from FILE`: the suite, what was guessed, and the run command with settings that train
    long enough."""

    source = Path(args.from_file)
    if not source.is_file():
        raise HarnessError("no such data file", str(source))

    def check(staging: Path) -> None:
        try:
            suite.load_suite(staging, every_problem=True)
        except HarnessError as e:  # name the user's file, not the hidden folder the suite is written in
            problems = e.problems if isinstance(e, suite.SuiteProblems) else [str(e)]
            text = "; ".join(problems).replace(str(staging / f"data{source.suffix.lower()}"), str(source))
            raise HarnessError(f"the suite guessed from it does not fit the data: {text.replace(str(staging), '…')}",
                               "suites new --from") from None

    folder, guess = scaffold.new_suite_from(args.dir or Path("suites") / name, name, source, check)
    s = suite.load_suite(folder)
    print(f"New suite {s.name} in {folder}: {len(s.train)} train and {len(s.test)} test examples of {source}")
    for line in guess.reasons:
        print(f"  guessed {line}")
    defaults = registry.get_backend("lora").settings_class.model_fields
    batch, epochs = defaults["batch_size"].default, defaults["epochs"].default
    steps = advice.planned_steps(len(s.train), {"batch_size": batch, "epochs": epochs})
    run = f"harness run --suite {folder} --backend lora"
    if steps < advice.MIN_STEPS:
        more = advice.epochs_for(len(s.train), batch)
        print(f"  {len(s.train)} train examples at lora's default {epochs:g} epochs of batch size {batch} are "
              f"{steps} optimizer steps, too few to learn from; {more} epochs make "
              f"{advice.planned_steps(len(s.train), {'batch_size': batch, 'epochs': more})}")
        run += f" --set lora.epochs={more}"
    print(f"Check suite.yaml (gates, description), then run:\n  {run}")
    return 0


def cmd_data(args) -> int:
    """`harness data check`: the data-quality report and the data gates, before any training."""

    quiet_libraries()
    suites = [suite.load_suite(p, allow_outside_data=args.allow_outside_data)
              for p in suite.find_suites(args.suite or [orchestrate.DEFAULT_SUITES])]
    suite.check_unique_names(suites)
    model_path = loading.resolve_model_path(args.model, suites, args.seed)
    backends = args.backend or list(orchestrate.DEFAULT_BACKENDS)
    overrides = settings.parse_overrides(args.backend_config, args.set)
    # a chain (lora+grpo) trains with its last backend's settings
    resolved = {b: settings.resolve(strategies.chain(b)[1], model_path, overrides).model_dump(mode="json")
                for b in backends}
    report = data_report.data_report(suites, args.model, model_path, orchestrate.max_lengths(resolved))
    outcomes = [gates.decide_data(report, s.name, state, gate) for s in suites for gate in s.spec.gates
                if gate.kind in record.DATA_GATES for state in gates.gate_states(gate, backends)]
    print("\n".join(data_text.report_lines(report, outcomes)))
    return data_text.exit_status(report, outcomes, args.strict)
