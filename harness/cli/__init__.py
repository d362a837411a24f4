"""The `harness` command line."""
from __future__ import annotations

import errno
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
from .runs import check_before_launch, cmd_eval, cmd_export, cmd_run, cmd_tune, run_alone_if_cached
from .sheets import cmd_sheets
from .suites import cmd_data, cmd_suites

if TYPE_CHECKING:
    from harness.run import dirs as run_dirs
    from harness.runtime import launch
else:  # the command modules above hold only lazy stand-ins: what a command needs loads when it runs
    launch = lazy_module("harness.runtime.launch")
    run_dirs = lazy_module("harness.run.dirs")


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
            if run_alone_if_cached(args, check_before_launch(args)):
                return 0
            return _ended(args, launch.relaunch(argv, args.processes))
        if not hasattr(args, "processes") and not distributed.is_main():
            return 0  # a command that does not share its work: the main process alone runs it
        return COMMANDS[args.command](args) or 0
    except HarnessError as e:
        if args.debug:
            traceback.print_exc()
        _say(f"harness: error: {e}")
        return 2
    except KeyboardInterrupt:
        _say("harness: interrupted")
        return 130
    except BrokenPipeError:  # the reader went away (`harness metrics | head`): nothing left to say to it
        sys.stdout = open(os.devnull, "w")  # so that the interpreter's own flush at exit stays quiet too
        return 0
    except Exception as e:  # not the input's fault: a bug, or the machine (memory, disk)
        if args.debug:
            raise
        full = _disk_full(e)
        if full is not None:
            _say(f"harness: error: no space left on the device{full}; files are written whole or not at all: free some "
                 "space (or set HARNESS_CACHE or --out elsewhere) and run the command again")
            return 1
        first = (str(e).splitlines() or [""])[0][:300]
        _say(f"harness: internal error: {type(e).__name__}: {first} (run with --debug for the traceback)")
        return 1


_FULL = ("No space left on device", "os error 28", "database or disk is full", "Disk quota exceeded")


def _disk_full(error: BaseException | None) -> str | None:
    """' (writing FILE)', or '' when the file is unknown, if the error (or one it arose from) is a full disk;
    None otherwise. Libraries wrap ENOSPC in errors of their own (safetensors, sqlite): their text says so."""
    seen = 0
    while error is not None and seen < 10:
        if (isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)) or any(
                text in str(error) for text in _FULL):
            name = getattr(error, "filename", None)
            return f" (writing {name})" if name else ""
        error, seen = error.__cause__ or error.__context__, seen + 1
    return None


def _say(line: str) -> None:
    """An error line: printed, or under `--processes` left for the command that launched the processes, which
    prints the one line that explains how they ended."""
    if not launch.note_error(line):
        print(line, file=sys.stderr)


def _ended(args, launched) -> int:
    """Say in one line how failed processes ended, and what became of the run directory."""
    if launched.failure is None:
        return launched.code
    run_dir, line = launched.run_dir, launched.failure
    if run_dir is not None and not getattr(args, "resume", None):
        run_dirs.discard_if_empty(run_dir)  # what a main process killed before it could tidy up leaves
        if not run_dir.exists():
            line += "; the run directory held nothing yet and was removed"
        elif args.command == "run":
            line += f"; `harness run --resume {run_dir}` continues the run"
    elif run_dir is not None and args.command == "run":
        line += f"; `harness run --resume {run_dir}` continues the run"
    print("\n" + line, file=sys.stderr)  # a killed process's progress bar never ended its line
    return launched.code


COMMANDS = {"run": cmd_run, "eval": cmd_eval, "tune": cmd_tune, "report": cmd_report, "data": cmd_data,
            "suites": cmd_suites, "backends": cmd_backends, "metrics": cmd_metrics, "sheets": cmd_sheets,
            "models": cmd_models, "export": cmd_export, "cache": cmd_cache, "plan": cmd_plan}
