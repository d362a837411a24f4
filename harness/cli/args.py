"""Argument types and the option groups several subcommands share."""
from __future__ import annotations

import argparse

from harness.common.limits import SEED_MAX

EPILOG = ("MODEL is a Hugging Face model id, a local model directory, a .gguf file (converted once), `tiny` (the "
          "built-in demo model) or a named model fetched with `harness models fetch` (see `harness models list`).")


class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (like every other error), not usage and a line; and options
    may come anywhere among a command's positional arguments (`suites validate --allow-outside-data PATH`
    as well as `suites validate PATH --allow-outside-data`)."""

    _intermixing = False

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_known_args(self, args=None, namespace=None):
        # A command's own parser (one without subcommands: argparse's intermixed parsing refuses those) parses
        # options first and positionals after, so an option between two positionals does not end the list.
        # (Subcommand parsers are made by `add_parser`, of this class, and called through this method.)
        leaf = not any(a.nargs in (argparse.PARSER, argparse.REMAINDER) for a in self._get_positional_actions())
        if not leaf or self._intermixing:
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def whole_number(text: str, low: int, high: int | None = None) -> int:
    """`text` as a whole number from `low` to `high` (no upper end when None); argparse's error otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if high is None and value < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, not {value}")
    if high is not None and not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be between {low} and {high}, not {value}")
    return value


def positive_int(text: str) -> int:
    """An argument that must be a whole number ≥ 1."""
    return whole_number(text, 1)


def unit_fraction(text: str) -> float:
    """A number strictly between 0 and 1 (a rate or a significance level)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), not {text}")
    return value


def shots_int(text: str) -> int:
    """A few-shot count: a whole number from 0 (zero-shot) to 16, as `fewshot:` allows."""
    return whole_number(text, 0, 16)


def seed_int(text: str) -> int:
    """A seed: a whole number from 0 to 2³²−1."""
    return whole_number(text, 0, SEED_MAX)


def add_common(p: argparse.ArgumentParser, model_default: str | None = "tiny") -> None:
    """Add --suite, --model, --seed and --allow-outside-data: what every command that loads suites and a model takes."""
    p.add_argument("--suite", action="append", metavar="PATH",
                   help="suite folder, its suite.yaml, or a folder of suites (repeatable; default: suites)")
    if model_default is None:
        p.add_argument("--model", required=True, metavar="MODEL", help="model to use")
    else:
        p.add_argument("--model", default=model_default, metavar="MODEL",
                       help=f"model to use (default: {model_default})")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="seed for tiny's weights, data order and training (default: 0)")
    add_outside(p)


def add_outside(p: argparse.ArgumentParser) -> None:
    """Add --allow-outside-data."""
    p.add_argument("--allow-outside-data", action="store_true",
                   help="let suites read data files outside their own folders (off by default; recorded in the run)")


def add_unsandboxed(p: argparse.ArgumentParser) -> None:
    """Add --allow-unsandboxed-code."""
    p.add_argument("--allow-unsandboxed-code", action="store_true",
                   help="where bubblewrap is missing, run model output for code metrics without the sandbox "
                        "(unconfined: it can read, write and start anything you can; recorded in the run)")


def add_trust(p: argparse.ArgumentParser) -> None:
    """Add --trust-suite-code: the decision to run code the suites bring."""
    p.add_argument("--trust-suite-code", action="store_true",
                   help="run the code the suites bring (their `evaluate:` modules), with your rights; off by "
                        "default, and what ran is recorded in the run")


def add_limit(p: argparse.ArgumentParser) -> None:
    """Add --limit: a seeded sample of the test examples."""
    p.add_argument("--limit", type=positive_int, metavar="N",
                   help="evaluate a seeded sample of N test examples per suite, for quick runs (recorded)")


def add_fewshot(p: argparse.ArgumentParser) -> None:
    """Add --fewshot: few-shot base evaluation of every suite."""
    p.add_argument("--fewshot", type=shots_int, metavar="N",
                   help="show the base model N train examples before each test prompt in every suite with a train "
                        "split (episode suites excepted), overriding the suites' own fewshot: (0: zero-shot; recorded)")


def add_no_cache(p: argparse.ArgumentParser, what: str) -> None:
    """Add --no-cache; `what` names what it computes afresh."""
    p.add_argument("--no-cache", action="store_true",
                   help=f"compute {what} afresh: neither read nor write the caches (see `harness cache`)")


def add_settings(p: argparse.ArgumentParser) -> None:
    """Add --set and --backend-config: backend settings."""
    p.add_argument("--set", action="append", default=[], metavar="BACKEND.FIELD=VALUE",
                   help="override one backend setting, e.g. lora.r=8 or full.epochs=2 (repeatable)")
    p.add_argument("--backend-config", metavar="FILE",
                   help="YAML file mapping backend names to settings, e.g. {lora: {r: 8}}")


def add_scale(p: argparse.ArgumentParser) -> None:
    """Add --processes and --threads."""
    p.add_argument("--processes", type=positive_int, default=1, metavar="N",
                   help="run in N processes started through `accelerate launch` (data-parallel tuning, evaluation "
                        "shared out; a run whose every output and tuned model is cached runs alone, launching "
                        "nothing); under accelerate launch or torchrun it is taken from the launcher (default: 1)")
    p.add_argument("--threads", type=positive_int, metavar="N",
                   help="CPU threads per process (default: OMP_NUM_THREADS, else one fewer than the cores, "
                        "shared among the processes)")


def add_report_to(p: argparse.ArgumentParser) -> None:
    """Add --report-to: experiment trackers that receive the curves and results."""
    p.add_argument("--report-to", action="append", default=[], metavar="TRACKER",
                   help="also log the training curves and every result with its interval to TRACKER: tensorboard "
                        "or mlflow (a local file store unless MLFLOW_TRACKING_URI is set), or one a plugin "
                        "registers (repeatable)")


def add_batch_size(p: argparse.ArgumentParser) -> None:
    """Add --batch-size: the generation batch size."""
    p.add_argument("--batch-size", type=positive_int, metavar="N",
                   help="generation batch size; results do not depend on it (default: 32 on CPU, on a GPU the "
                        "largest that fits, found once per model and remembered)")
