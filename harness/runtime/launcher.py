"""The launcher `--processes` starts: accelerate's, with a failed process reported once, by the harness.

`accelerate launch` hosts torch's elastic agent; when a process dies (killed, out of memory) the agent
stops the others and dumps its own traceback and failure table. Here the agent's failure is written to
the launch notes instead (see `harness.runtime.launch`), so the command that started the processes can
say in one line which process failed and how, and what became of the run directory.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from accelerate.commands.launch import main as accelerate_main  # this module runs as the launcher process alone
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

from .launch import FAILURES, NOTES_ENV


def main() -> int:
    """Run accelerate's launcher; a failed process becomes a note for the launching command and exit status 1."""
    logging.disable(logging.ERROR)  # the agent's "Sending process … SIGTERM" and "failed (exitcode …)" lines
    try:
        accelerate_main()
    except ChildFailedError as e:
        failures = [{"rank": rank, "exitcode": f.exitcode, "signal": f.signal_name() if f.exitcode < 0 else None}
                    for rank, f in sorted(e.failures.items())]
        notes = os.environ.get(NOTES_ENV)
        if notes:
            (Path(notes) / FAILURES).write_text(json.dumps(failures), encoding="utf-8")
        else:
            print(f"harness: error: processes failed: {failures}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
