"""The `harness` command line."""
from __future__ import annotations

import os
import sys
import traceback
from typing import TYPE_CHECKING

from harness.common.errors import HarnessError
from harness.common.lazy import lazy_module

from .inventory import cmd_backends, cmd_cache, cmd_metrics, cmd_models
from .parser import build_parser
from .plan import cmd_plan
from .process import distributed
from .report import cmd_report
from .runs import check_before_launch, cmd_eval, cmd_export, cmd_run, cmd_tune
from .sheets import cmd_sheets
from .suites import cmd_data, cmd_suites

if TYPE_CHECKING:
    from harness.runtime import launch
else:  # the command modules above hold only lazy stand-ins: what a command needs loads when it runs
    launch = lazy_module("harness.runtime.launch")


def main(argv: list[str] | None = None) -> int:
    """Run the command line: bad input prints one line and returns 2, a failure inside the harness one
    line and 1; `--debug` adds the traceback."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    worker = False
    try:
        worker = hasattr(args, "processes") and distributed.active() and not distributed.is_main()
        code = _run(args, argv)
    finally:
        if hasattr(args, "processes"):
            distributed.finish()
    if worker:
        # A worker whose share is done leaves at once: torch's threads can abort an interpreter's teardown
        # ("terminate called without an active exception"), and the launcher then stops the main process,
        # which may still be explaining, analysing or writing the report.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _run(args, argv: list[str]) -> int:
    """The command, with every failure turned into its exit status and one line."""
    try:
        if getattr(args, "processes", 1) > 1 and not distributed.active():
            check_before_launch(args)
            return launch.relaunch(argv, args.processes)
        if not hasattr(args, "processes") and not distributed.is_main():
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
    except BrokenPipeError:  # the reader went away (`harness metrics | head`): nothing left to say to it
        sys.stdout = open(os.devnull, "w")  # so that the interpreter's own flush at exit stays quiet too
        return 0
    except Exception as e:  # not the input's fault: a bug, or the machine (memory, disk)
        if args.debug:
            raise
        first = (str(e).splitlines() or [""])[0][:300]
        print(f"harness: internal error: {type(e).__name__}: {first} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1


COMMANDS = {"run": cmd_run, "eval": cmd_eval, "tune": cmd_tune, "report": cmd_report, "data": cmd_data,
            "suites": cmd_suites, "backends": cmd_backends, "metrics": cmd_metrics, "sheets": cmd_sheets,
            "models": cmd_models, "export": cmd_export, "cache": cmd_cache, "plan": cmd_plan}
