"""Run untrusted Python (a model's solution) against hidden unit tests: two jailed processes, one verdict.

The design. Each example starts two processes, each in a jail of its own (`harness.metrics.sandbox.jail`:
bubblewrap namespaces, read-only Python, a 64 MB tmpfs as the only writable place, a seccomp filter
against new processes, resource limits): the *solution's* process runs the suite's preamble and the
solution, then answers calls; the *tests'* process runs the preamble and the hidden tests, in which
every name of the solution's the tests use (a function, `candidate` passed to `check`) is a stand-in
that sends the call's arguments to the solution's process and gets back its return value or its
exception. The two talk through a pair of pipes carrying literal values only (None, bools, numbers,
strings, bytes, tuples, lists, dicts, sets: `harness.metrics.sandbox.channel`, a tagged byte format
read back with bounded lengths and depth, building nothing else). Only the tests' process holds the
descriptor the verdict is read from; each process gets its program and job on its stdin, never
from a file. The harness watches both processes' wall-clock time and kills both jails at the limit
or at the verdict: killing a jail's first process ends every process in its pid namespace, and the
harness waits for that before it returns. Output is read in bounded chunks and only the first
``output_chars`` characters are kept.

What a hostile solution can do: use its CPU, memory and files up to the limits (3 s CPU, 512 MB
address space, 64 MB of files, 1 MB per file), within the wall-clock limit; read the system's
libraries and programs under ``/usr`` and the interpreter's standard library; write its own tmpfs;
threads; print (kept up to the output limit); answer each call with any literal value or exception
it likes, or write anything to the channel (a malformed message ends the run with a failure).

What it cannot do: reach the tests' process (another pid, user, mount and IPC namespace), its
verdict descriptor, its memory or its frames; make a wrong answer compare equal (the tests see only
rebuilt plain values, so an object whose ``__eq__`` is always true never reaches them); shadow a
builtin or a name of the preamble in the tests; end a loop of asserts early by raising StopIteration;
pass by exiting, crashing or breaking the channel (a failure, even where a test swallowed the error);
start a process (fork, vfork, clone without CLONE_THREAD and clone3 are refused) or leave one behind;
use the network (no interface but a down loopback); see the harness, the virtual environment, ``/etc``,
``/home``, ``/root``, the cache, the runs or any other process; write outside its tmpfs or fill the
disk; raise its limits.

What is not isolated: the kernel itself (a kernel exploit escapes any namespace); the machine's CPU
time and memory within the limits; the clock. Semantics that differ from running solution and tests
in one interpreter: arguments and results are copied (a test does not see the solution mutate an
argument in place), and a result that is not a literal value (an instance of the solution's class,
a generator) fails its test with a TypeError naming the type. String hashes are randomised per run.

Where bubblewrap is not installed, `run_tests` refuses unless unsandboxed execution was accepted
(``--allow-unsandboxed-code``, which sets HARNESS_ALLOW_UNSANDBOXED_CODE): then both processes run
as plain ``python -I -S -B`` children with only the resource limits, in temporary directories; the
verdict still comes from the tests' process, but nothing confines what the solution reads, writes
or starts.
"""
from __future__ import annotations

import inspect
import marshal
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache

from harness.common.errors import HarnessError

from . import channel as sandbox_channel
from . import child as sandbox_child
from . import jail
from .extract import extract_code
from .reasons import MAX_REASON, death_reason, last_line, one_line

ALLOW_UNSANDBOXED_ENV = "HARNESS_ALLOW_UNSANDBOXED_CODE"
"""Set to 1 (by ``--allow-unsandboxed-code``) to run code without bubblewrap where it is missing."""


@dataclass(frozen=True)
class Limits:
    """What one run may use. All are per example and per process; the children cannot raise them."""

    wall_seconds: float = 5.0
    """Wall-clock time from start to finish; after it both jails are killed."""
    cpu_seconds: int = 3
    """CPU time (RLIMIT_CPU): SIGXCPU at this many seconds, SIGKILL one second later."""
    memory_mb: int = 512
    """Address space (RLIMIT_AS), including the interpreter's own (about 30 MB)."""
    file_size_mb: int = 1
    """Largest file the child may write (RLIMIT_FSIZE): a longer write fails with "File too large"."""
    disk_mb: int = 64
    """Size of the jail's tmpfs, the only place it can write: all its files together."""
    processes: int = 32
    """Processes and threads (RLIMIT_NPROC; not binding where the harness runs as root: the seccomp
    filter refuses new processes in the jail anyway)."""
    output_chars: int = 2000
    """How much of the solution's stdout+stderr is kept (the rest is read and dropped)."""

    def __post_init__(self) -> None:
        """Refuse limits that are not positive numbers."""
        for name in ("wall_seconds", "cpu_seconds", "memory_mb", "file_size_mb", "disk_mb", "processes",
                     "output_chars"):
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
    """The first `Limits.output_chars` characters of what the solution printed (stdout and stderr)."""
    timed_out: bool = False
    """Whether the wall-clock limit ended it (without a passing verdict): how loaded the machine was decided it."""


def available() -> bool:
    """Whether code runs jailed here (bubblewrap is installed and works)."""
    return jail.bwrap() is not None


def unsandboxed_allowed() -> bool:
    """Whether the user accepted running code without a jail where bubblewrap is missing."""
    return os.environ.get(ALLOW_UNSANDBOXED_ENV, "") == "1"


def require_sandbox() -> None:
    """HarnessError naming the package to install, unless a jail is available or its absence accepted."""
    if not available() and not unsandboxed_allowed():
        raise HarnessError(f"code metrics run model output only in a sandbox: {jail.unavailable()}; or pass "
                           "--allow-unsandboxed-code to run it unconfined")


def run_tests(solution: str, tests: str, limits: Limits = Limits(), preamble: str = "") -> Outcome:
    """Run `preamble` + `solution` in one jail and `preamble` + `tests` (asserts calling the solution's
    functions) in another; the verdict is the tests' process's."""
    require_sandbox()
    for name, source in (("hidden tests", tests), ("the suite's preamble", preamble)):
        try:
            compile(source, "<tests>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as e:
            line = f" (line {e.lineno})" if isinstance(e, SyntaxError) else ""
            raise HarnessError(f"{name} do not compile: {getattr(e, 'msg', e)}{line}") from None
    return _Run(solution, tests, preamble, limits, available()).outcome()


def run_many(pairs: Iterable[tuple[str, str]], limits: Limits = Limits(), workers: int | None = None,
             preamble: str = "") -> list[Outcome]:
    """`run_tests` on many (solution, tests) pairs, each in its own processes, `workers` at a time; in order."""
    workers = workers or min(8, os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox") as pool:
        return list(pool.map(lambda pair: run_tests(pair[0], pair[1], limits, preamble), pairs))


def isolation(limits: Limits = Limits()) -> tuple[str, ...]:
    """The containment mechanisms a run gets on this machine."""
    mechanisms = ["separate tests process", f"rlimits cpu {limits.cpu_seconds}s/as {limits.memory_mb}MB/fsize/nofile"]
    if not available():
        return ("UNSANDBOXED", *mechanisms)
    seccomp = ["seccomp: no new processes"] if jail.seccomp_filter() is not None else []
    return ("bubblewrap: user/pid/net/ipc/uts namespaces", f"read-only python, tmpfs {limits.disk_mb}MB",
            *seccomp, *mechanisms)


__all__ = ["ALLOW_UNSANDBOXED_ENV", "MAX_REASON", "Limits", "Outcome", "available", "extract_code", "isolation",
           "require_sandbox", "run_many", "run_tests", "unsandboxed_allowed"]


# ---------------------------------------------------------------------------------------------------
# The parent side: start both processes, feed them, watch them, read the verdict, clean up.

@dataclass
class _Process:
    """One child: its process (bubblewrap, or the bare interpreter), output and, when jailed, its first pid."""

    proc: subprocess.Popen
    keep: int
    info_fd: int | None = None
    workdir: str | None = None
    output: bytearray = field(default_factory=bytearray)
    info: bytearray = field(default_factory=bytearray)
    cpu: float = 0.0
    killed: bool = False
    """Whether it was still running when the harness killed it."""

    def ended(self) -> bool:
        return self.proc.returncode is not None or \
            os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None

    def first_pid(self) -> int | None:
        """The pid of the jail's first process, as bubblewrap reported it."""
        first = re.search(rb'"child-pid":\s*(\d+)', self.info)
        return int(first.group(1)) if first is not None and hasattr(os, "pidfd_open") else None

    def reap(self) -> None:
        """Kill what is left of the process (its jail already ended) and reap it."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: nothing else of ours is in it
        except (ProcessLookupError, PermissionError):
            pass
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.cpu = usage.ru_utime + usage.ru_stime

    def close(self) -> None:
        for stream in (self.proc.stdout, self.proc.stdin):
            if stream is not None:
                stream.close()
        if self.info_fd is not None:
            os.close(self.info_fd)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


class _Run:
    """One example: the solution's process, the tests' process and the verdict pipe between the tests and us."""

    def __init__(self, solution: str, tests: str, preamble: str, limits: Limits, jailed: bool):
        self.limits, self.jailed, self.started = limits, jailed, time.monotonic()
        common = {"preamble": preamble, "cpu": limits.cpu_seconds, "memory": limits.memory_mb << 20,
                  "fsize": limits.file_size_mb << 20, "nproc": limits.processes}
        to_solution, from_solution, verdict = os.pipe(), os.pipe(), os.pipe()
        self.verdict_fd, self.children = verdict[0], []
        try:
            self.children.append(self._start(
                {**common, "role": "solution", "solution": solution, "rx": to_solution[0], "tx": from_solution[1]},
                limits.output_chars * 4))
            self.children.append(self._start(
                {**common, "role": "tests", "tests": tests, "rx": from_solution[0], "tx": to_solution[1],
                 "verdict": verdict[1]}, 4096))
        except BaseException:
            self._finish()
            raise
        finally:
            for fd in (*to_solution, *from_solution, verdict[1]):
                os.close(fd)

    def _start(self, job: dict, keep: int) -> _Process:
        """Start one child with the job's descriptors (and, jailed, the seccomp filter's and info's)."""
        passed = tuple(job[k] for k in ("rx", "tx", "verdict") if k in job)
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        workdir, info_r, own = None, None, []
        if self.jailed:
            seccomp = jail.seccomp_filter()
            seccomp_r = None
            if seccomp is not None:
                seccomp_r, seccomp_w = os.pipe()
                os.write(seccomp_w, seccomp)  # a few hundred bytes: fits the pipe's buffer
                os.close(seccomp_w)
                own.append(seccomp_r)
            info_r, info_w = os.pipe()
            own.append(info_w)
            command = jail.command(self.limits.disk_mb << 20, seccomp_r, info_w)
        else:
            workdir = tempfile.mkdtemp(prefix="sandbox-")
            env |= {"HOME": workdir, "TMPDIR": workdir}
            command = [sys.executable, "-I", "-S", "-B"]
        try:
            proc = subprocess.Popen(
                [*command, "-c", _BOOTSTRAP], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                cwd=workdir or "/", env=env, pass_fds=passed + tuple(own), start_new_session=True, bufsize=0)
        except BaseException:
            if info_r is not None:
                os.close(info_r)
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)
            raise
        finally:
            for fd in own:
                os.close(fd)
        child = _Process(proc, keep, info_r, workdir)
        assert proc.stdin is not None
        try:
            view = memoryview(_child_code() + marshal.dumps(job))
            while view:
                view = view[os.write(proc.stdin.fileno(), view):]
        except BrokenPipeError:
            pass  # it died at once; its exit status says why
        proc.stdin.close()
        return child

    def outcome(self) -> Outcome:
        try:
            verdict, timed_out = self._watch(self.started + self.limits.wall_seconds)
        finally:
            self._finish()
        solution = self.children[0]
        output = solution.output.decode("utf-8", "replace")[:self.limits.output_chars]
        status, _, reason = verdict.decode("utf-8", "replace").partition("\n")
        if timed_out and status != "P":
            reason = f"timed out after {self.limits.wall_seconds:g} s"
        elif status == "L" and reason == "garbled":
            reason = "the solution broke the channel to the tests: it sent something that is not an answer"
        elif status == "L":
            reason = "the solution closed the channel to the tests" if solution.killed else \
                death_reason(solution.proc.returncode, solution.cpu, output, self.limits.cpu_seconds,
                             self.limits.memory_mb, self.jailed)
        elif status not in ("P", "F"):
            tests_output = self.children[1].output.decode("utf-8", "replace")
            reason = f"the tests' process ended without a verdict: {last_line(tests_output) or 'no output'}"
        elif reason == "killed: memory limit":
            reason += f" ({self.limits.memory_mb} MB)"
        passed = status == "P"
        return Outcome(passed, "" if passed else one_line(reason), time.monotonic() - self.started, output,
                       timed_out and not passed)

    def _watch(self, deadline: float) -> tuple[bytes, bool]:
        """Read outputs, infos and the verdict until the tests' process ends (and, when it lost the
        channel, the solution's too, for its exit status) or the deadline; then kill both jails.
        Returns (verdict bytes, timed out)."""
        solution, tests = self.children
        buffers: dict[int, tuple[bytearray, int]] = {self.verdict_fd: (bytearray(), 4096)}
        for child in self.children:
            assert child.proc.stdout is not None
            buffers[child.proc.stdout.fileno()] = (child.output, child.keep)
            if child.info_fd is not None:
                buffers[child.info_fd] = (child.info, 4096)
        sel = selectors.DefaultSelector()
        for fd in buffers:
            sel.register(fd, selectors.EVENT_READ)
        timed_out, grace_until = False, None
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                for key, _ in sel.select(min(left, 0.01)):
                    _read_some(sel, key.fd, *buffers[key.fd])
                verdict = buffers[self.verdict_fd][0]
                if verdict or self.verdict_fd not in sel.get_map():  # one atomic write, or the tests died
                    if verdict != b"L\nended" or solution.ended():
                        break
                    grace_until = grace_until or time.monotonic() + 1.0  # it closed the channel, or is dying
                    if time.monotonic() > grace_until:
                        break
            _end(self.children)
            drain_until = time.monotonic() + 1.0  # every writer is dead: what is left in the pipes is finite
            while sel.get_map() and time.monotonic() < drain_until:
                for key, _ in sel.select(0.1):
                    _read_some(sel, key.fd, *buffers[key.fd])
        finally:
            sel.close()
        return bytes(buffers[self.verdict_fd][0]), timed_out

    def _finish(self) -> None:
        try:
            _end(self.children)
        finally:
            for child in self.children:
                child.close()
            os.close(self.verdict_fd)


def _end(children: list[_Process]) -> None:
    """End both jails together (each with every process in it), then reap the processes we started."""
    live = [child for child in children if child.proc.returncode is None]
    for child in live:
        child.killed = not child.ended()
    jail.end([(pid, child.proc.pid) for child in live if (pid := child.first_pid()) is not None])
    for child in live:
        child.reap()


def _read_some(sel: selectors.BaseSelector, fd: int, buffer: bytearray, cap: int) -> None:
    """One bounded read: keep up to `cap` bytes in `buffer`, drop the rest; stop watching `fd` at EOF."""
    chunk = os.read(fd, 65536)
    if not chunk:
        sel.unregister(fd)
    elif len(buffer) < cap:
        buffer += chunk[:cap - len(buffer)]


# The channel's code, then the child's, run in one namespace as __main__.
_BOOTSTRAP = "import marshal, sys; g = globals(); exec(marshal.load(sys.stdin.buffer), g); " \
             "exec(marshal.load(sys.stdin.buffer), g)"


@cache
def _child_code() -> bytes:
    """The children's program, compiled once and marshalled: it reaches each child ahead of its job on
    its stdin, so no child reads our files (the same interpreter reads it back)."""
    return b"".join(marshal.dumps(compile(inspect.getsource(module), f"<sandbox {module.__name__}>", "exec"))
                    for module in (sandbox_channel, sandbox_child))
