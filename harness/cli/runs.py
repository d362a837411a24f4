"""The commands that tune or evaluate models: `run`, `eval`, `tune`, and `export` of a merged model."""
from __future__ import annotations

import sys
from pathlib import Path

from harness.common.errors import HarnessError
from harness.runtime.launch import note_run_dir

from .process import distributed, prepare_processes, quiet_libraries
from .summary import print_summary


def cmd_run(args) -> int:
    """`harness run`: evaluate, tune with each backend, evaluate again, record, report."""
    from harness.run import orchestrate as run
    from reports import render_report

    quiet_libraries()
    prepare_processes(args)
    main = distributed().is_main()
    plan = run.plan(run_request(args))
    fresh = not args.resume
    run_dir = Path(args.resume) if args.resume else run.new_run_dir(Path(args.out), plan.config_key)
    if main:
        print(f"Run directory: {run_dir}")
        note_run_dir(run_dir)
    record = _execute(run, plan, run_dir, fresh)
    if main:
        print_summary(run_dir, record, render_report)
    return 0


def run_request(args):
    """The `RunRequest` of a `harness run` command line (with `--resume`: the recorded run's)."""
    from harness.record import load_record
    from harness.record.strategies import parse_sweeps, parse_train_seeds
    from harness.run import orchestrate as run
    from harness.tuning.settings import parse_overrides

    if args.resume:
        request = run.request_from_record(load_record(args.resume))
    else:
        request = run.RunRequest(
            suites=args.suite or [run.DEFAULT_SUITES], model=args.model, seed=args.seed,
            backends=args.backend or list(run.DEFAULT_BACKENDS), batch_size=args.batch_size,
            overrides=parse_overrides(args.backend_config, args.set), limit=args.limit, fewshot=args.fewshot,
            allow_outside_data=args.allow_outside_data,
            sweeps=parse_sweeps(args.sweep),
            train_seeds=parse_train_seeds(args.train_seeds) if args.train_seeds is not None else None,
        )
    request.cache = not args.no_cache
    return request


def eval_request(args):
    """The `RunRequest` of a `harness eval` command line."""
    from harness.run import orchestrate as run

    return run.RunRequest(suites=args.suite or [run.DEFAULT_SUITES], model=args.model, seed=args.seed,
                          backends=[], batch_size=args.batch_size, adapter=args.adapter, limit=args.limit,
                          fewshot=args.fewshot, allow_outside_data=args.allow_outside_data, cache=not args.no_cache)


def check_before_launch(args) -> None:
    """Plan a `run` or `eval` once before its processes start, so that bad input is one line from one
    process, not a failure in one process and a lost connection in the others."""
    from harness.run import orchestrate as run

    if args.command in ("run", "eval"):
        quiet_libraries()
        run.plan(run_request(args) if args.command == "run" else eval_request(args))


def _execute(run, plan, run_dir: Path, fresh: bool):
    """Execute a planned run; a fresh run directory that holds nothing when it fails is removed."""
    try:
        return run.execute(plan, run_dir)
    except BaseException:
        if fresh and distributed().is_main():
            run.discard_if_empty(run_dir)
        raise


def cmd_eval(args) -> int:
    """`harness eval`: evaluate one model (and adapter) without tuning."""
    from harness.run import orchestrate as run
    from reports import render_report

    quiet_libraries()
    prepare_processes(args)
    main = distributed().is_main()
    plan = run.plan(eval_request(args))
    run_dir = run.new_run_dir(Path(args.out), plan.config_key)
    if main:
        print(f"Run directory: {run_dir}")
        note_run_dir(run_dir)
    record = _execute(run, plan, run_dir, fresh=True)
    if main:
        print_summary(run_dir, record, render_report)
    return 0


def cmd_tune(args) -> int:
    """`harness tune`: tune with one backend and save the tuned model and its cost."""
    from harness.cache import Cache
    from harness.common.files import write_json
    from harness.models.loading import resolve_model_path
    from harness.run import orchestrate as run
    from harness.tuning.registry import usable_backend
    from harness.tuning.settings import parse_overrides, resolve

    quiet_libraries()
    prepare_processes(args)
    usable_backend(args.backend)
    suites = [run.load_suite(p, allow_outside_data=args.allow_outside_data)
              for p in run.find_suites(args.suite or [run.DEFAULT_SUITES])]
    with distributed().main_first():
        model_path = resolve_model_path(args.model, suites, args.seed)
    settings = resolve(args.backend, model_path, parse_overrides(args.backend_config, args.set))
    examples = run.training_examples(suites)
    if not examples:
        raise HarnessError("no suite has a train split to tune on", "--suite")
    out = Path(args.out)
    cache = None if args.no_cache else Cache()
    key = run.tuning_key_for(cache, args.backend, model_path, examples, settings.model_dump(mode="json"), args.seed)
    hit = run.from_tuning_cache(cache, key, model_path, out)
    if hit is None:
        _, tuned, cost = run.tune(args.backend, model_path, examples, settings, args.seed, out)
    if not distributed().is_main():
        return 0
    if hit is not None:
        kind, cost, provenance = hit
        extra = {"from_cache": provenance.model_dump()}
    else:
        kind, extra = tuned.kind, {}
        if cache is not None and key is not None:
            cache.tuning.save(key, out, model_path, kind, cost.model_dump(mode="json"), str(out.resolve()))
    write_json(out / "cost.json", {"backend": args.backend, "model": args.model, "model_path": model_path,
                                   "settings": settings.model_dump(mode="json"), **cost.model_dump(), **extra})
    cached = " (from the tuning cache)" if hit is not None else ""
    print(f"Tuned model ({kind}): {out}{cached}\nCost: {out / 'cost.json'}")
    return 0


def cmd_export(args) -> int:
    """`harness export`: exit status 1 when the merged model does not reproduce base+adapter."""
    from harness.tuning.export import export_merged

    quiet_libraries()
    result = export_merged(Path(args.run_dir), args.backend, Path(args.out))
    check = result["check"]
    print(f"Merged model: {args.out}\nRecord: {Path(args.out) / 'export.json'}")
    if check["ok"]:
        print(f"Reload check: the merged model reproduces base+adapter on all {check['checked']} sampled prompts")
        return 0
    print(f"WARNING: reload check FAILED: {len(check['mismatches'])} of {check['checked']} sampled outputs differ "
          f"from base+adapter's ({', '.join(check['mismatches'][:5])})", file=sys.stderr)
    return 1
