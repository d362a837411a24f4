"""The commands that tune or evaluate models: `run`, `eval`, `tune`, and `export` of a merged model."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.common.errors import HarnessError
from harness.common.lazy import lazy_module

from .process import distributed, prepare_processes, quiet_libraries
from .summary import print_summary

if TYPE_CHECKING:
    from harness import cache, record
    from harness.common import files
    from harness.models import loading
    from harness.record import strategies
    from harness.run import alone, orchestrate, sequential, trackers
    from harness.run import dirs as run_dirs
    from harness.runtime import launch, threads
    from harness.suitedef import suite
    from harness.tuning import advice, export, registry, settings, tune
else:  # each command loads the rooms it uses, when it runs: `--help` and the light commands load none of them
    advice = lazy_module("harness.tuning.advice")
    alone = lazy_module("harness.run.alone")
    cache = lazy_module("harness.cache")
    export = lazy_module("harness.tuning.export")
    files = lazy_module("harness.common.files")
    launch = lazy_module("harness.runtime.launch")
    loading = lazy_module("harness.models.loading")
    orchestrate = lazy_module("harness.run.orchestrate")
    record = lazy_module("harness.record")
    registry = lazy_module("harness.tuning.registry")
    run_dirs = lazy_module("harness.run.dirs")
    sequential = lazy_module("harness.run.sequential")
    settings = lazy_module("harness.tuning.settings")
    strategies = lazy_module("harness.record.strategies")
    suite = lazy_module("harness.suitedef.suite")
    trackers = lazy_module("harness.run.trackers")
    threads = lazy_module("harness.runtime.threads")
    tune = lazy_module("harness.tuning.tune")


def cmd_run(args) -> int:
    """`harness run`: evaluate, tune with each backend, evaluate again, record, report."""
    quiet_libraries()
    trackers.check_names(args.report_to)
    if args.sequential:
        return _run_sequential(args)
    prepare_processes(args)
    main = distributed.is_main()
    plan = orchestrate.plan(run_request(args))
    fresh = not args.resume
    run_dir = Path(args.resume) if args.resume else run_dirs.new_run_dir(Path(args.out), plan.config_key)
    if main:
        print(f"Run directory: {run_dir}")
        launch.note_run_dir(run_dir)
    finished = _execute(plan, run_dir, fresh)
    if main:
        _finish(args, run_dir, finished)
    return 0


def _run_sequential(args) -> int:
    """`harness run --sequential`: stages of the test splits until every margin gate is decided."""
    if args.resume:
        raise HarnessError("a sequential run cannot be resumed; start it again (the caches keep its work)",
                           "--sequential")
    if getattr(args, "processes", 1) > 1:
        raise HarnessError("--sequential runs in one process; drop --processes", "--sequential")
    prepare_processes(args)
    run_dir, finished = sequential.execute_sequential(run_request(args), Path(args.out))
    _finish(args, run_dir, finished)
    return 0


def _finish(args, run_dir: Path, finished) -> None:
    """The report and the terminal summary, then the trackers the user asked for."""
    print_summary(run_dir, finished, not args.no_cache)
    for line in trackers.report_to(args.report_to, run_dir, run_dir.name, trackers.tracked(finished)):
        print(f"Logged to {line}")


def run_request(args):
    """The `RunRequest` of a `harness run` command line (with `--resume`: the recorded run's)."""
    if args.resume:
        request = orchestrate.request_from_record(record.load_record(args.resume))
    else:
        request = orchestrate.RunRequest(
            suites=args.suite or [orchestrate.DEFAULT_SUITES], model=args.model, seed=args.seed,
            backends=args.backend or list(orchestrate.DEFAULT_BACKENDS), batch_size=args.batch_size,
            overrides=settings.parse_overrides(args.backend_config, args.set), limit=args.limit,
            fewshot=args.fewshot, allow_outside_data=args.allow_outside_data,
            allow_unsandboxed_code=args.allow_unsandboxed_code, sweeps=strategies.parse_sweeps(args.sweep),
            train_seeds=strategies.parse_train_seeds(args.train_seeds) if args.train_seeds is not None else None,
            pairs_from=str(Path(args.pairs_from).resolve()) if args.pairs_from else None,
        )
    request.cache = not args.no_cache
    request.trust_suite_code = args.trust_suite_code
    return request


def eval_request(args):
    """The `RunRequest` of a `harness eval` command line."""
    return orchestrate.RunRequest(suites=args.suite or [orchestrate.DEFAULT_SUITES], model=args.model,
                                  seed=args.seed, backends=[], batch_size=args.batch_size, adapter=args.adapter,
                                  limit=args.limit, fewshot=args.fewshot, allow_outside_data=args.allow_outside_data,
                                  cache=not args.no_cache, allow_unsandboxed_code=args.allow_unsandboxed_code,
                                  trust_suite_code=args.trust_suite_code)


def check_before_launch(args):
    """Plan a `run` or `eval` once before its processes start, so that bad input is one line from one
    process, not a failure in one process and a lost connection in the others; the plan (None for other
    commands)."""
    if args.command == "run" and args.sequential:
        raise HarnessError("--sequential runs in one process; drop --processes", "--sequential")
    if args.command not in ("run", "eval"):
        return None
    quiet_libraries()
    if args.command == "run":
        trackers.check_names(args.report_to)
    return orchestrate.plan(run_request(args) if args.command == "run" else eval_request(args))


def run_alone_if_cached(args, plan) -> bool:
    """A new `run` or `eval` with `--processes N` whose every generation and tuned model is cached: run it
    here, alone, with the plan made before launching (no processes started, nothing planned twice), and
    report it; False when something must be computed (then nothing was written: launch the processes)."""
    if plan is None or getattr(args, "resume", None):
        return False
    threads.configure(args.threads, args.processes)  # as each of the processes would have, and tells them
    done = alone.execute_alone(plan, Path(args.out), args.processes)
    if done is None:
        return False
    run_dir, finished, held = done
    print(f"Run directory: {run_dir}")
    held.show()
    if args.command == "run":
        _finish(args, run_dir, finished)
    else:
        print_summary(run_dir, finished)
    return True


def _execute(plan, run_dir: Path, fresh: bool):
    """Execute a planned run; a fresh run directory that holds nothing when it fails is removed."""
    try:
        return orchestrate.execute(plan, run_dir)
    except BaseException:
        if fresh and distributed.is_main():
            run_dirs.discard_if_empty(run_dir)
        raise


def cmd_eval(args) -> int:
    """`harness eval`: evaluate one model (and adapter) without tuning."""
    quiet_libraries()
    prepare_processes(args)
    main = distributed.is_main()
    plan = orchestrate.plan(eval_request(args))
    run_dir = run_dirs.new_run_dir(Path(args.out), plan.config_key)
    if main:
        print(f"Run directory: {run_dir}")
        launch.note_run_dir(run_dir)
    finished = _execute(plan, run_dir, fresh=True)
    if main:
        print_summary(run_dir, finished, not args.no_cache)
    return 0


def cmd_tune(args) -> int:
    """`harness tune`: tune with one backend and save the tuned model and its cost."""
    quiet_libraries()
    trackers.check_names(args.report_to)
    prepare_processes(args)
    registry.usable_backend(args.backend)
    suites = [suite.load_suite(p, allow_outside_data=args.allow_outside_data)
              for p in suite.find_suites(args.suite or [orchestrate.DEFAULT_SUITES])]
    with distributed.main_first():
        model_path = loading.resolve_model_path(args.model, suites, args.seed)
    resolved = settings.resolve(args.backend, model_path, settings.parse_overrides(args.backend_config, args.set))
    examples = tune.training_examples(suites)
    if not examples:
        raise HarnessError("no suite has a train split to tune on", "--suite")
    few = advice.few_steps(args.backend, args.backend, len(examples), resolved.model_dump(mode="json"))
    if few and distributed.is_main():
        print(f"WARNING: {few}", file=sys.stderr)
    out = Path(args.out)
    store = None if args.no_cache else cache.Cache()
    reward = tune.train_reward(args.backend, suites)
    key = tune.tuning_key_for(store, args.backend, model_path, examples, resolved.model_dump(mode="json"), args.seed,
                              reward=tune.reward_identity(suites) if reward is not None else None)
    hit = tune.from_tuning_cache(store, key, model_path, out)
    if hit is None:
        _, tuned, cost = tune.tune(args.backend, model_path, examples, resolved, args.seed, out, reward=reward)
    if not distributed.is_main():
        return 0
    if hit is not None:
        kind, cost, provenance = hit
        extra = {"from_cache": provenance.model_dump()}
    else:
        kind, extra = tuned.kind, {}
        if store is not None and key is not None:
            store.tuning.save(key, out, model_path, kind, cost.model_dump(mode="json"), str(out.resolve()))
    files.write_json(out / "cost.json", {"backend": args.backend, "model": args.model, "model_path": model_path,
                                         "settings": resolved.model_dump(mode="json"), **cost.model_dump(), **extra})
    flat = None if cost.curves.get("reward") else advice.loss_not_falling(args.backend, cost.loss_curve)
    if flat:
        print(f"WARNING: {flat}", file=sys.stderr)
    cached = " (from the tuning cache)" if hit is not None else ""
    print(f"Tuned model ({kind}): {out}{cached}\nCost: {out / 'cost.json'}")
    runs = trackers.tracked_tuning(args.backend, args.model, cost, resolved.model_dump(mode="json"))
    for line in trackers.report_to(args.report_to, out, out.name, runs):
        print(f"Logged to {line}")
    return 0


def cmd_export(args) -> int:
    """`harness export`: exit status 1 when the merged model does not reproduce base+adapter."""
    quiet_libraries()
    result = export.export_merged(Path(args.run_dir), args.backend, Path(args.out))
    check = result["check"]
    print(f"Merged model: {args.out}\nRecord: {Path(args.out) / 'export.json'}")
    if check["ok"]:
        print(f"Reload check: the merged model reproduces base+adapter on all {check['checked']} sampled prompts")
        return 0
    print(f"WARNING: reload check FAILED: {len(check['mismatches'])} of {check['checked']} sampled outputs differ "
          f"from base+adapter's ({', '.join(check['mismatches'][:5])})", file=sys.stderr)
    return 1
