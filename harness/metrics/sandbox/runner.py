"""Run untrusted Python (a model's solution) against hidden unit tests in a confined child process.

What it does, per call: a fresh ``python -I -S -B`` child in its own process group and session, in an
empty temporary directory (mode 0700, removed afterwards), with a minimal environment (nothing from
ours). The solution and the tests reach it through its stdin pipe only, never a file, so no other
process or example can read them. Before any untrusted code runs, the child (still running our code):

- enters a new user and network namespace (``unshare(CLONE_NEWUSER | CLONE_NEWNET)`` through ctypes,
  as Python 3.11 has no ``os.unshare``; as root, ``CLONE_NEWNET`` alone if the pair is refused): no
  network interface but a down loopback, and, from the user namespace, no capability over the host
  (even as root it cannot raise its own hard limits or override file permissions of other users);
- asks to be killed if the harness dies (``PR_SET_PDEATHSIG``);
- sets resource limits: CPU seconds, address space, file size, process count (RLIMIT_NPROC does not
  bind a root-owned process, so for root only the next layers stop a fork bomb), core 0, 256 files;
- installs an audit hook (``sys.addaudithook``) that refuses sockets and name lookups, subprocesses
  (``_posixsubprocess``, so also asyncio and multiprocessing), fork, exec, spawn, os.system, signals
  to other processes, symlinks and hard links, raising resource limits, ctypes, crafting code
  objects, and the modules that open files or interpreters behind Python's back (sqlite3, dbm, ssl,
  shared memory, subinterpreters, test modules); and opening or listing files outside the temporary
  directory, except reading the standard library (and /dev/null, /dev/urandom).

The child's program is `harness.sandbox_child`, handed over as a code object on the same stdin.

The harness watches the child's wall-clock time and kills its whole process group at the limit (and
after it exits, to take any stray descendants along); output is read in bounded chunks and only the
first ``output_chars`` characters are kept. ``Limits`` and ``isolation()`` say what is active.

What it does not guarantee: this is defence in depth, not a virtual machine. Audit hooks are not a
security boundary (PEP 578): code written to escape one (by memory corruption, or by rewriting the
hook's state through frame and closure introspection) may succeed, and then only the kernel layers
above remain. Those layers are not a full jail either: the child still sees the file system's
metadata (``os.stat`` works everywhere), shares the machine's CPU and memory within its limits, and
as root may still signal root-owned processes if it gets past the hook. Nor is the verdict
tamper-proof: a solution can cheat its own tests (an object whose ``__eq__`` is always true). String
hashes are randomised per run (``-I`` ignores PYTHONHASHSEED), so a solution that depends on a set's
order of strings may pass one run and fail the next. POSIX only; the namespaces need Linux.
"""
from __future__ import annotations

import inspect
import marshal
import os
import re
import secrets
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

from harness.common.errors import HarnessError
from harness.metrics.sandbox import child as sandbox_child

MAX_REASON = 300  # characters in Outcome.reason


@dataclass(frozen=True)
class Limits:
    """What one run may use. All are per example; the child cannot raise them."""

    wall_seconds: float = 5.0
    """Wall-clock time from start to finish; after it the child's whole process group is killed."""
    cpu_seconds: int = 3
    """CPU time (RLIMIT_CPU): SIGXCPU at this many seconds, SIGKILL one second later."""
    memory_mb: int = 512
    """Address space (RLIMIT_AS), including the interpreter's own (about 30 MB)."""
    file_size_mb: int = 1
    """Largest file the child may write (RLIMIT_FSIZE): a longer write fails with "File too large"."""
    processes: int = 32
    """Processes and threads (RLIMIT_NPROC). Not enforced by the kernel for a child run as root (it
    exempts root), and counted across the user's namespace; fork and exec are refused anyway."""
    output_chars: int = 2000
    """How much of the child's stdout+stderr is kept (the rest is read and dropped)."""

    def __post_init__(self) -> None:
        """Refuse limits that are not positive numbers."""
        for name in ("wall_seconds", "cpu_seconds", "memory_mb", "file_size_mb", "processes", "output_chars"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise HarnessError(f"must be a positive number, got {value!r}", f"sandbox limits: {name}")


@dataclass(frozen=True)
class Outcome:
    """The verdict on one solution."""

    passed: bool
    """True when the solution defined a function and every test ran without an exception."""
    reason: str
    """Empty when passed; otherwise one line (at most 300 characters): the first failing assertion's
    source, the exception (type, message, where), "timed out after 5 s", "killed: memory limit", ..."""
    seconds: float
    """Wall-clock time of the whole run, process start to cleanup."""
    output: str = ""
    """The first `Limits.output_chars` characters of what the child printed (stdout and stderr)."""


def run_tests(solution: str, tests: str, limits: Limits = Limits()) -> Outcome:
    """Run `solution` then `tests` (a script of asserts, in the solution's namespace) in a confined child."""
    return _execute(solution, tests, limits)[0]


def run_many(pairs: Iterable[tuple[str, str]], limits: Limits = Limits(), workers: int | None = None) -> list[Outcome]:
    """`run_tests` on many (solution, tests) pairs, each in its own process, `workers` at a time; in order."""
    workers = workers or min(8, os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox") as pool:
        return list(pool.map(lambda pair: run_tests(pair[0], pair[1], limits), pairs))


def isolation(limits: Limits = Limits()) -> tuple[str, ...]:
    """The containment mechanisms a child actually got on this machine (run one empty example to see)."""
    return _execute("def f():\n    pass\n", "assert f() is None\n", limits)[1]


def extract_code(output: str) -> str:
    """The code in a model's output: the first fenced block that defines a function (else the first
    Python or unlabelled block, else the first block); without fences, the lines from the first that
    starts code (def, class, import, from, @) up to the first line of prose after them."""
    blocks = _fenced_blocks(output)
    if blocks:
        python = [code for lang, code in blocks if lang in ("", "python", "py", "python3")]
        for code in python + [code for _, code in blocks]:
            if "def " in code:
                return code.strip("\n")
        return (python or [blocks[0][1]])[0].strip("\n")
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(_CODE_STARTS)), None)
    if start is None:
        return output.strip()
    end = start
    while end < len(lines) and _looks_like_code(lines[end]):
        end += 1
    return "\n".join(lines[start:end]).strip("\n")


_CODE_STARTS = ("def ", "async def ", "class ", "import ", "from ", "@")
_STATEMENT_WORDS = ("if ", "elif ", "else:", "for ", "while ", "try:", "except", "finally:", "with ", "return",
                    "assert ", "raise", "pass", "#", ")", "]", "}")
_ASSIGNMENT_OR_CALL = re.compile(r"[A-Za-z_][\w.]*\s*(\(|\[|=|[-+*/%]=)")  # prose has words before any of these


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of each ``` block; an unclosed last block runs to the end of the text."""
    blocks = []
    parts = text.split("```")
    for i in range(1, len(parts), 2):
        header, _, code = parts[i].partition("\n")
        blocks.append(((header.split() or [""])[0].lower(), code))
    return blocks


def _looks_like_code(line: str) -> bool:
    """A line inside code: blank, indented, a statement, or an assignment or call; prose is none of these."""
    return (not line.strip() or line[0] in " \t" or line.startswith(_CODE_STARTS + _STATEMENT_WORDS)
            or _ASSIGNMENT_OR_CALL.match(line) is not None)


# ---------------------------------------------------------------------------------------------------
# The parent side: start the child, feed it, watch it, read its verdict, clean up.

def _execute(solution: str, tests: str, limits: Limits) -> tuple[Outcome, tuple[str, ...]]:
    """Run one example; the outcome and the mechanisms the child reported."""
    try:
        compile(tests, "<tests>", "exec")
    except (SyntaxError, ValueError) as e:
        line = f" (line {e.lineno})" if isinstance(e, SyntaxError) else ""
        raise HarnessError(f"hidden tests do not compile: {getattr(e, 'msg', e)}{line}") from None
    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="sandbox-")
    result_r, result_w = os.pipe()
    nonce = secrets.token_hex(16)
    payload = _child_code() + marshal.dumps({
        "solution": solution, "tests": tests, "nonce": nonce, "result_fd": result_w,
        "cpu": limits.cpu_seconds, "memory": limits.memory_mb << 20, "fsize": limits.file_size_mb << 20,
        "nproc": limits.processes, "parent": os.getpid()})
    env = {"PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", "-c", _BOOTSTRAP], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=workdir, env=env, pass_fds=(result_w,),
            start_new_session=True, bufsize=0)
    except BaseException:
        os.close(result_r)
        _remove_tree(workdir)
        raise
    finally:
        os.close(result_w)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(proc.stdin.fileno(), view):]
        except BrokenPipeError:
            pass  # the child died at once; its exit status says why
        proc.stdin.close()
        out, result, timed_out, cpu = _watch(proc, proc.stdout.fileno(), result_r, started + limits.wall_seconds,
                                             limits.output_chars * 4)
    finally:
        if proc.returncode is None:  # an error before the child was reaped
            _kill_group(proc.pid)
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        os.close(result_r)
        _remove_tree(workdir)
    output = out.decode("utf-8", "replace")[:limits.output_chars]
    status, mechanisms, reason = _parse_result(result, nonce)
    if status is None:
        status = "F"
        reason = f"timed out after {limits.wall_seconds:g} s" if timed_out else _death_reason(
            proc.returncode, cpu, output, limits)
    elif reason == "killed: memory limit":
        reason += f" ({limits.memory_mb} MB)"
    outcome = Outcome(status == "P", "" if status == "P" else _one_line(reason), time.monotonic() - started, output)
    return outcome, mechanisms


def _watch(proc: subprocess.Popen, out_fd: int, result_fd: int, deadline: float,
           keep: int) -> tuple[bytes, bytes, bool, float]:
    """Read the child's output and result until it exits or the deadline passes; then kill its group and
    reap it. Returns (first `keep` bytes of output, result bytes, timed out, CPU seconds used)."""
    buffers = {out_fd: bytearray(), result_fd: bytearray()}
    caps = {out_fd: keep, result_fd: 4096}
    pidfd = os.pidfd_open(proc.pid) if hasattr(os, "pidfd_open") else None
    sel = selectors.DefaultSelector()
    for fd in buffers:
        sel.register(fd, selectors.EVENT_READ)
    if pidfd is not None:
        sel.register(pidfd, selectors.EVENT_READ)
    timed_out = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready = sel.select(min(left, 0.02) if pidfd is None else left)
            for key, _ in ready:
                if key.fd != pidfd:
                    _read_some(sel, key.fd, buffers[key.fd], caps[key.fd])
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                break
        _kill_group(proc.pid)  # the leader is a zombie until reaped, so its group id cannot be reused yet
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if pidfd is not None:
            sel.unregister(pidfd)
        drain_until = time.monotonic() + 1.0  # every writer is dead: what is left in the pipes is finite
        while sel.get_map() and time.monotonic() < drain_until:
            for key, _ in sel.select(0.1):
                _read_some(sel, key.fd, buffers[key.fd], caps[key.fd])
    finally:
        sel.close()
        if pidfd is not None:
            os.close(pidfd)
    return bytes(buffers[out_fd]), bytes(buffers[result_fd]), timed_out, usage.ru_utime + usage.ru_stime


def _read_some(sel: selectors.BaseSelector, fd: int, buffer: bytearray, cap: int) -> None:
    """One bounded read: keep up to `cap` bytes in `buffer`, drop the rest; stop watching `fd` at EOF."""
    chunk = os.read(fd, 65536)
    if not chunk:
        sel.unregister(fd)
    elif len(buffer) < cap:
        buffer += chunk[:cap - len(buffer)]


def _parse_result(result: bytes, nonce: str) -> tuple[str | None, tuple[str, ...], str]:
    """(status "P"/"F" or None when the child wrote no genuine result, mechanisms, reason)."""
    parts = result.decode("utf-8", "replace").split("\n", 3)
    if len(parts) < 4 or parts[0] != nonce or parts[1] not in ("P", "F"):
        return None, (), ""
    return parts[1], tuple(m for m in parts[2].split(";") if m), parts[3]


def _death_reason(code: int | None, cpu: float, output: str, limits: Limits) -> str:
    """Why a child that wrote no verdict ended: a limit's signal, a crash or an early exit."""
    if code is not None and code < 0:
        sig = -code
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= limits.cpu_seconds):
            return f"killed: CPU time limit ({limits.cpu_seconds} s)"
        return f"killed by {signal.Signals(sig).name}" if sig in signal.valid_signals() else f"killed by signal {sig}"
    last = next((line for line in reversed(output.splitlines()) if line.strip()), "")
    if "MemoryError" in last:
        return f"killed: memory limit ({limits.memory_mb} MB)"
    return f"exited with code {code} before the tests finished" + (f": {last}" if last else "")


def _one_line(text: str) -> str:
    """Whitespace and control characters collapsed to single spaces, cut to MAX_REASON characters."""
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= MAX_REASON else text[:MAX_REASON - 1] + "…"


def _kill_group(pgid: int) -> None:
    """SIGKILL to the child's process group (its session: nothing else of ours is in it)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _remove_tree(path: str) -> None:
    """Remove the work directory, also where the child took away permissions (matters when not root)."""
    for dirpath, dirnames, _ in os.walk(path):
        for name in dirnames:  # before os.walk descends: it could not list an unreadable directory
            child = os.path.join(dirpath, name)
            if not os.path.islink(child):  # chmod follows links: never touch anything outside
                os.chmod(child, stat.S_IRWXU)
    shutil.rmtree(path, ignore_errors=True)


_BOOTSTRAP = "import marshal, sys; exec(marshal.load(sys.stdin.buffer))"  # run as __main__


@cache
def _child_code() -> bytes:
    """The child's program, compiled once and marshalled: it reaches the child ahead of the job on its
    stdin, so the child reads none of our files (the same interpreter reads it back)."""
    return marshal.dumps(compile(inspect.getsource(sandbox_child), "<sandbox>", "exec"))
