"""The programs the sandbox's two processes run (see `harness.metrics.sandbox.runner`): the solution's
side, which runs the model's code and answers calls, and the tests' side, which runs the hidden tests
and writes the verdict.

Standard library only, and nothing slow to import at the top: the parent compiles this file and hands
the code object to a bare ``python -I -S -B`` on its stdin, so a child reads none of the harness's files.
Untrusted code is compiled with ``dont_inherit=True``: no future flag of this file reaches it.

The two talk through `harness.metrics.sandbox.channel` (literal values only), whose code each child
runs ahead of this file's: hence the guarded import below.
"""
from __future__ import annotations

import builtins
import marshal
import os
import sys

try:
    from harness.metrics.sandbox.channel import Channel, Encoded, Lost, Remote, encode
except ImportError:  # in a child, which has no harness: the channel's code already ran in this namespace
    pass

MAX_REASON = 1000  # characters of a reason a child sends; the parent keeps at most 300


def main() -> None:
    """Read the job from stdin, set the resource limits, then play the job's role."""
    job = marshal.load(sys.stdin.buffer)  # the rest of stdin, after this program's own code
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.close(null)
    confine(job)
    if job["role"] == "solution":
        serve(job)
    else:
        judge(job)
    os._exit(0)  # no atexit handlers or lingering threads get to run


def confine(job: dict) -> None:
    """Resource limits, set before any untrusted code runs: the child cannot raise them again."""
    import resource  # here, not at the top: the parent imports this module too, on any platform
    for limit, value in ((resource.RLIMIT_CPU, (job["cpu"], job["cpu"] + 1)),
                         (resource.RLIMIT_AS, (job["memory"],) * 2), (resource.RLIMIT_FSIZE, (job["fsize"],) * 2),
                         (resource.RLIMIT_NPROC, (job["nproc"],) * 2), (resource.RLIMIT_CORE, (0, 0)),
                         (resource.RLIMIT_NOFILE, (256, 256))):
        try:
            resource.setrlimit(limit, value)
        except (ValueError, OSError):
            if limit != resource.RLIMIT_NPROC:  # only the process count may be out of reach (it is counted per user)
                raise


# --- the solution's side ----------------------------------------------------------------------------

def serve(job: dict) -> None:
    """Run the preamble and the solution, say whether they defined a function, then answer calls."""
    channel = Channel(job["rx"], job["tx"])
    namespace: dict = {"__name__": "solution"}  # not "__main__": a demo under `if __name__ == ...` stays out
    sources = {"<preamble>": job["preamble"], "<solution>": job["solution"]}
    problem = ""
    try:
        for filename, source in sources.items():
            exec(compile(source, filename, "exec", dont_inherit=True), namespace)
        if not any(_defined_in_solution(value) for value in list(namespace.values())):
            problem = "no function defined"
    except SyntaxError as e:
        problem = f"{type(e).__name__}: {e.msg} ({str(e.filename).strip('<>')} line {e.lineno})"
    except MemoryError:
        namespace.clear()
        problem = "killed: memory limit"
    except BaseException as e:
        problem = failure_reason(e, sources)
    _flush()
    try:
        channel.send(("ready", problem[:MAX_REASON]))
        while not problem:
            request = channel.receive(namespace.get)
            if request is None:
                return
            if request[0] == "lookup":
                channel.send(("names", {n: _describe(namespace[n]) for n in request[1] if n in namespace}))
            elif request[0] == "call" and len(request) == 4:
                reply = _call(namespace, request[1], request[2], request[3], sources)
                _flush()  # what it printed reaches the harness before the tests go on (it may be killed then)
                channel.send(reply)
            else:
                return
    except Lost:
        return


def _call(namespace: dict, name: str, args: tuple, kwargs: dict, sources: dict[str, str]) -> tuple:
    """Call one of the solution's names; ("return", value) or ("raise", type name, message, reason)."""
    try:
        value = namespace[name](*args, **kwargs)
        return ("return", Encoded(encode(value)))
    except MemoryError:
        return ("raise", "MemoryError", "", "killed: memory limit")
    except BaseException as e:
        try:
            message = str(e)[:MAX_REASON]
        except BaseException:
            message = "<unprintable>"
        return ("raise", type(e).__name__[:100], message, failure_reason(e, sources)[:MAX_REASON])


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def _defined_in_solution(value: object) -> bool:
    for _ in range(8):  # decorated functions (lru_cache, wraps) keep the original in __wrapped__
        if isinstance(value, type(main)) and value.__code__.co_filename == "<solution>":
            return True
        value = getattr(value, "__wrapped__", None)
    return False


def _describe(value: object) -> tuple:
    """What the tests' side may see of a name: something to call, a literal value, a module's name."""
    if isinstance(value, type(sys)):
        return ("module", str(value.__name__))
    if callable(value):
        return ("callable",)
    try:
        return ("value", Encoded(encode(value)))
    except (TypeError, ValueError, RecursionError):
        return ("other", type(value).__name__[:100])


# --- the tests' side --------------------------------------------------------------------------------

def judge(job: dict) -> None:
    """Run the preamble and the tests, the solution's names standing in as `Remote`s; write the verdict."""
    channel = Channel(job["rx"], job["tx"])
    namespace: dict = {"__name__": "tests"}
    sources = {"<preamble>": job["preamble"], "<tests>": job["tests"]}
    verdict = "F\n"
    try:
        ready = channel.expect("ready", 2)
        if ready[1]:
            verdict = "F\n" + str(ready[1])
        else:
            code = {name: compile(source, name, "exec", dont_inherit=True) for name, source in sources.items()}
            exec(code["<preamble>"], namespace)
            # The solution's names the tests use, except builtins and the preamble's: no solution
            # redefines what the tests rely on (`abs`, a tolerance the preamble sets, ...).
            wanted = sorted(n for n in _names(code["<tests>"]) if not hasattr(builtins, n) and n not in namespace)
            names = channel.request(("lookup", wanted), "names", 2)[1]
            try:
                for name, (kind, *detail) in names.items():
                    if name not in wanted:
                        continue
                    if kind == "callable":
                        namespace[name] = Remote(channel, name)
                    elif kind == "value":
                        namespace[name] = detail[0]
                    elif kind == "module" and detail[0] in sys.stdlib_module_names:
                        namespace[name] = __import__(detail[0])
            except (AttributeError, TypeError, ValueError, IndexError):
                raise channel.broken("garbled") from None
            exec(code["<tests>"], namespace)
            verdict = "P\n"
    except Lost:
        verdict = "L\n" + channel.lost
    except MemoryError:
        verdict = "F\nkilled: memory limit"
    except BaseException as e:
        verdict = "F\n" + failure_reason(e, sources)
    if channel.lost:  # a test that swallowed the error still has no verdict
        verdict = "L\n" + channel.lost
    data = verdict[:MAX_REASON].encode("utf-8", "replace")[:4000]  # one write under PIPE_BUF: atomic
    os.write(job["verdict"], data)


def _names(code: object) -> set[str]:
    """Every name the code (and the functions in it) may look up."""
    names = set(code.co_names) | set(code.co_varnames)  # type: ignore[attr-defined]
    for const in code.co_consts:  # type: ignore[attr-defined]
        if hasattr(const, "co_names"):
            names |= _names(const)
    return names


def failure_reason(exc: BaseException, sources: dict[str, str]) -> str:
    """One line: a failing assert's source (and message), else the exception and where it was raised
    (in the solution, as its side reported it, when the tests called it)."""
    remote = getattr(exc, "remote_reason", None)
    if isinstance(remote, str):
        return remote
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
