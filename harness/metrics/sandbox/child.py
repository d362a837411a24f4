"""The program the sandbox's child runs (see `harness.sandbox`), before and around the untrusted code.

Standard library only, and nothing imported at the top that is slow to import (``signal`` pulls in
``enum``, doubling the start-up): the parent compiles this file and hands the code object to a bare
``python -I -S -B`` on its stdin, so the child reads none of the harness's files.
"""
from __future__ import annotations

import ctypes
import marshal
import os
import sys


def main() -> None:
    """Read the job from stdin, confine this process, run the solution and tests, write the verdict."""
    job = marshal.load(sys.stdin.buffer)  # the rest of stdin, after this program's own code
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.close(null)
    mechanisms = confine(job)
    roots = tuple(os.path.realpath(p) for p in sys.path if os.path.exists(p))
    install_audit_hook(os.path.realpath(os.getcwd()), roots)
    mechanisms.append("audit hook")
    passed, reason = run(job["solution"], job["tests"])
    reason = reason[:1000]  # the parent keeps one line of at most 300 characters
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    verdict = f"{job['nonce']}\n{'P' if passed else 'F'}\n{';'.join(mechanisms)}\n{reason}".encode("utf-8", "replace")
    while verdict:
        verdict = verdict[os.write(job["result_fd"], verdict):]
    os._exit(0)  # no atexit handlers or lingering threads of the solution get to run


def confine(job: dict) -> list[str]:
    """Namespaces, parent-death signal and resource limits; returns the mechanisms that took effect."""
    import resource  # here, not at the top: the parent imports this module too, on any platform
    active = []
    root = os.geteuid() == 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        new_user, new_net = 0x10000000, 0x40000000  # CLONE_NEWUSER, CLONE_NEWNET
        if libc.unshare(new_user | new_net) == 0:
            active += ["user namespace", "network namespace"]
        elif root and libc.unshare(new_net) == 0:
            active.append("network namespace")
        if libc.prctl(1, 9) == 0:  # PR_SET_PDEATHSIG, SIGKILL
            active.append("parent-death signal")
    except (ImportError, OSError, AttributeError):
        pass  # no ctypes or no such calls (not Linux): the other layers still hold
    if os.getppid() != job["parent"]:
        os._exit(1)  # the harness died before the parent-death signal was armed
    for limit, value in ((resource.RLIMIT_CPU, (job["cpu"], job["cpu"] + 1)),
                         (resource.RLIMIT_AS, (job["memory"],) * 2), (resource.RLIMIT_FSIZE, (job["fsize"],) * 2),
                         (resource.RLIMIT_NPROC, (job["nproc"],) * 2), (resource.RLIMIT_CORE, (0, 0)),
                         (resource.RLIMIT_NOFILE, (256, 256))):
        resource.setrlimit(limit, value)
    active += ["rlimits cpu/as/fsize/core/nofile", "rlimit nproc (not binding: root)" if root else "rlimit nproc"]
    return active


def install_audit_hook(workdir: str, read_roots: tuple[str, ...]) -> None:
    """Refuse what a unit-tested function has no business doing (listed in `harness.sandbox`'s docstring)."""
    refused = ("socket.", "subprocess.", "os.system", "os.exec", "os.fork", "os.posix_spawn", "os.spawn",
               "os.kill", "os.symlink", "os.link", "pty.", "ctypes.", "resource.setrlimit", "resource.prlimit",
               "code.__new__", "sqlite3.", "os.startfile", "webbrowser.", "_winapi.", "winreg.")
    refused_modules = ("ctypes", "_ctypes", "_posixsubprocess", "_sqlite3", "sqlite3", "_ssl", "_dbm", "_gdbm",
                       "_posixshmem", "readline", "_tkinter", "_xxsubinterpreters", "_xxinterpchannels")
    reads = ("os.listdir", "os.scandir", "os.getxattr", "os.listxattr")
    writes = ("os.chmod", "os.chown", "os.mkdir", "os.remove", "os.rmdir", "os.truncate", "os.utime",
              "os.setxattr", "os.removexattr")
    devices = ("/dev/null", "/dev/urandom", "/dev/random")
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    for name in [m for m in sys.modules if m.split(".")[0] in refused_modules]:
        del sys.modules[name]  # a fresh import then goes through the hook

    def inside(path: object, writing: bool) -> bool:
        if isinstance(path, int):
            return True  # an already open descriptor
        if not isinstance(path, (str, bytes)):
            return False  # Python hands hooks the converted path; anything else is unexpected
        real = os.path.realpath(os.fsdecode(path))
        if real == workdir or real.startswith(workdir + os.sep) or real == "/dev/null":
            return True
        return not writing and (real in devices or any(real == r or real.startswith(r + os.sep) for r in read_roots))

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(flags & write_flags)
            if not inside(path, writing):
                raise PermissionError(f"sandbox: {'writing' if writing else 'reading'} {path!r} is not allowed")
        elif event in reads or event in writes or event == "os.rename":
            paths = args[:2] if event == "os.rename" else args[:1]
            if not all(inside("." if p is None else p, event not in reads) for p in paths):
                raise PermissionError(f"sandbox: {event} {paths[0]!r} is not allowed")
        elif event == "import":
            if args[0].split(".")[0] in refused_modules or args[0].startswith("_test"):
                raise ImportError(f"sandbox: importing {args[0]} is not allowed")  # optional imports cope
        elif event.startswith(refused):
            raise PermissionError(f"sandbox: {event} is not allowed")

    sys.addaudithook(hook)


def run(solution: str, tests: str) -> tuple[bool, str]:
    """Execute the solution, check that it defined a function, execute the tests in its namespace."""
    sources = {"<solution>": solution, "<tests>": tests}
    namespace: dict = {"__name__": "solution"}  # not "__main__": a demo under `if __name__ == ...` stays out
    function = type(run)

    def defined_here(value: object) -> bool:
        for _ in range(8):  # decorated functions (lru_cache, wraps) keep the original in __wrapped__
            if isinstance(value, function) and value.__code__.co_filename == "<solution>":
                return True
            value = getattr(value, "__wrapped__", None)
        return False

    try:
        code = compile(solution, "<solution>", "exec")
    except SyntaxError as e:
        return False, f"{type(e).__name__}: {e.msg} (solution line {e.lineno})"
    except BaseException as e:
        return False, f"{type(e).__name__}: {e}"
    try:
        exec(code, namespace)
        if not any(defined_here(value) for value in list(namespace.values())):
            return False, "no function defined"
        exec(compile(tests, "<tests>", "exec"), namespace)
    except MemoryError:
        namespace.clear()
        return False, "killed: memory limit"
    except BaseException as e:
        return False, failure_reason(e, sources)
    return True, ""


def failure_reason(exc: BaseException, sources: dict[str, str]) -> str:
    """One line: a failing assert's source (and message), else the exception and where it was raised."""
    try:
        message = str(exc)
    except BaseException:
        message = "<unprintable>"
    name = type(exc).__name__
    tb, where = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in sources:
            where = tb
        tb = tb.tb_next
    if where is None:
        return f"{name}: {message}" if message else name
    filename = where.tb_frame.f_code.co_filename
    label = f"{filename.strip('<>')} line {where.tb_lineno}"
    if isinstance(exc, AssertionError):
        first = last = where.tb_lineno
        positions = list(where.tb_frame.f_code.co_positions())
        if where.tb_lasti // 2 < len(positions):
            last = positions[where.tb_lasti // 2][1] or first  # a multi-line assert ends here
        text = " ".join(" ".join(sources[filename].splitlines()[first - 1:last]).split())
        text = text + (f" ({name}: {message})" if message else "")
        return text if filename == "<tests>" else f"{text} ({label})"
    return f"{name}: {message} ({label})" if message else f"{name} ({label})"


if __name__ == "__main__":
    main()
