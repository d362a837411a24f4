"""The programs the sandbox's two processes run (see `harness.metrics.sandbox.runner`): the solution's
side, which runs the model's code and answers calls, and the tests' side, which runs the hidden tests
and writes the verdict.

Standard library only, and nothing slow to import at the top: the parent compiles this file and hands
the code object to a bare ``python -I -S -B`` on its stdin, so a child reads none of the harness's files.
Untrusted code is compiled with ``dont_inherit=True``: no future flag of this file reaches it.

The channel between the two carries literal values only: each message is a 4-byte length and the
UTF-8 text of a Python literal (`encode`), read back by `decode`, which builds nothing but None, bools,
numbers, strings, bytes, tuples, lists, dicts, sets and frozensets (and, from the tests' side, a
reference to one of the solution's names). Nothing the solution's side sends is executed or unpickled.
"""
from __future__ import annotations

import marshal
import os
import sys

MAX_MESSAGE = 4 << 20  # bytes of one message on the channel
MAX_DEPTH = 100  # nesting of a value on the channel
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

class Lost(Exception):
    """The solution's process ended, or sent something that is not a message: no verdict can pass."""


class Remote:
    """A name of the solution's, called through the channel: arguments and results are literal values."""

    def __init__(self, channel: Channel, name: str):
        self.channel, self.name = channel, name

    def __call__(self, *args: object, **kwargs: object) -> object:
        return self.channel.call(self.name, args, kwargs)

    def __repr__(self) -> str:
        return f"<the solution's {self.name}>"


def judge(job: dict) -> None:
    """Run the preamble and the tests, the solution's names standing in as `Remote`s; write the verdict."""
    import builtins
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
            for name, (kind, *detail) in names.items():
                if name not in wanted:
                    continue
                if kind == "callable":
                    namespace[name] = Remote(channel, name)
                elif kind == "value":
                    namespace[name] = detail[0]
                elif kind == "module" and detail[0] in sys.stdlib_module_names:
                    namespace[name] = __import__(detail[0])
            exec(code["<tests>"], namespace)
            verdict = "P\n"
    except Lost:
        verdict = "L\n"
    except MemoryError:
        verdict = "F\nkilled: memory limit"
    except BaseException as e:
        verdict = "F\n" + failure_reason(e, sources)
    if channel.lost:  # a test that swallowed the error still has no verdict
        verdict = "L\n"
    data = verdict[:MAX_REASON].encode("utf-8", "replace")
    while data:
        data = data[os.write(job["verdict"], data):]


def _names(code: object) -> set[str]:
    """Every name the code (and the functions in it) may look up."""
    names = set(code.co_names) | set(code.co_varnames)  # type: ignore[attr-defined]
    for const in code.co_consts:  # type: ignore[attr-defined]
        if hasattr(const, "co_names"):
            names |= _names(const)
    return names


def _remote_exception(type_name: str, message: str, reason: str) -> Exception:
    """The solution's exception, as the builtin exception of that name where there is one."""
    import builtins
    cls = getattr(builtins, type_name, None)
    exc: Exception | None = None
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            exc = cls(message)
        except Exception:
            exc = None
    if exc is None:
        exc = type(type_name if type_name.isidentifier() else "SolutionError", (Exception,), {})(message)
    setattr(exc, "remote_reason", reason)  # noqa: B010 - an attribute of our own on a builtin exception
    return exc


# --- the channel and its values ---------------------------------------------------------------------

class Encoded(bytes):
    """A value already encoded (a value the solution's side encoded while it could still catch errors)."""


class Channel:
    """Length-prefixed literal messages over a pair of pipes; `lost` once the other side broke it."""

    def __init__(self, rx: int, tx: int):
        self.rx, self.tx, self.lost = rx, tx, False

    def send(self, message: object) -> None:
        data = encode(message)
        data = len(data).to_bytes(4, "big") + data
        try:
            while data:
                data = data[os.write(self.tx, data):]
        except OSError:
            self.lost = True
            raise Lost() from None

    def receive(self, resolve: object = None) -> tuple | None:
        """The next message; None at the end of the channel; Lost on anything that is not a message."""
        header = self._read(4)
        if header is None:
            return None
        size = int.from_bytes(header, "big")
        body = self._read(size) if size <= MAX_MESSAGE else None
        try:
            message = decode(body, resolve) if body is not None else None
        except Exception:
            message = None
        if not isinstance(message, tuple) or not message or not isinstance(message[0], str):
            self.lost = True
            raise Lost()
        return message

    def expect(self, kind: str, size: int) -> tuple:
        """The next message, which must be a `kind` tuple of `size` items; Lost otherwise."""
        message = self.receive()
        if message is None or message[0] != kind or len(message) != size:
            self.lost = True
            raise Lost()
        return message

    def request(self, message: tuple, kind: str, size: int) -> tuple:
        if self.lost:
            raise Lost()
        self.send(message)
        return self.expect(kind, size)

    def call(self, name: str, args: tuple, kwargs: dict) -> object:
        """The solution's `name` called: its return value, or its exception raised here."""
        if self.lost:
            raise Lost()
        try:
            message = Encoded(encode(("call", name, args, kwargs)))
        except (TypeError, ValueError, RecursionError) as e:
            raise TypeError(f"cannot pass to the solution's {name}: {e}") from None
        self.send(message)
        reply = self.receive()
        if reply is not None and reply[0] == "return" and len(reply) == 2:
            return reply[1]
        if reply is not None and reply[0] == "raise" and len(reply) == 4 and all(isinstance(x, str) for x in reply):
            raise _remote_exception(*reply[1:])
        self.lost = True
        raise Lost()

    def _read(self, size: int) -> bytes | None:
        """Exactly `size` bytes; None at the end of the channel."""
        data = b""
        while len(data) < size:
            try:
                chunk = os.read(self.rx, min(size - len(data), 1 << 20))
            except OSError:
                chunk = b""
            if not chunk:
                self.lost = True
                return None
            data += chunk
        return data


_CONTAINERS = ((tuple, b"t"), (list, b"l"), (frozenset, b"g"), (set, b"S"), (dict, b"d"))


def encode(value: object, depth: int = 0) -> bytes:
    """A literal value as bytes `decode` reads back; TypeError for anything else. Subclasses of the
    literal types are written as their base type (an IntEnum as its int, a namedtuple as a tuple).

    The format: a tag byte, then ``N`` None, ``T``/``Z`` True/False, ``i<hex>;`` int, ``f<float.hex>;``
    float, ``c<hex>;<hex>;`` complex, ``s<n>:<n bytes of UTF-8>`` str, ``b<n>:<n bytes>`` bytes,
    ``r<n>:<name>`` a reference to one of the solution's names, and ``t`` tuple, ``l`` list, ``S`` set,
    ``g`` frozenset, ``d`` dict as ``<count>:`` followed by the items (a dict's as key, value, ...).
    Read back by a few lines of standard-library-free code: no parser, no import, nothing run."""
    if type(value) is Encoded:
        return value
    if depth > MAX_DEPTH:
        raise ValueError("nested too deep")
    if value is None or isinstance(value, bool):
        return b"N" if value is None else b"T" if value else b"Z"
    if isinstance(value, int):
        return b"i%x;" % int(value)  # hexadecimal: no limit on the digits int() reads back
    if isinstance(value, float):
        return b"f" + float(value).hex().encode() + b";"
    if isinstance(value, complex):
        return b"c" + float(value.real).hex().encode() + b";" + float(value.imag).hex().encode() + b";"
    if isinstance(value, (str, Remote)):
        text = (value.name if isinstance(value, Remote) else str(value)).encode("utf-8", "surrogatepass")
        return (b"r" if isinstance(value, Remote) else b"s") + b"%d:" % len(text) + text
    if isinstance(value, (bytes, bytearray)):
        return b"b%d:" % len(value) + bytes(value)
    for kind, tag in _CONTAINERS:
        if isinstance(value, kind):
            items = [x for pair in value.items() for x in pair] if isinstance(value, dict) else list(value)
            return tag + b"%d:" % len(value) + b"".join(encode(item, depth + 1) for item in items)
    raise TypeError(f"{type(value).__name__} is not a literal value")


def decode(data: bytes, resolve: object = None) -> object:
    """The value `encode` wrote; ValueError (or TypeError: an unhashable key) for anything else.
    `resolve` turns a reference into a value (the solution's side only)."""
    value, end = _read_value(bytes(data), 0, resolve, 0)
    if end != len(data):
        raise ValueError("trailing bytes")
    return value


def _read_value(data: bytes, at: int, resolve: object, depth: int) -> tuple[object, int]:
    if depth > MAX_DEPTH or at >= len(data):
        raise ValueError("nested too deep or cut short")
    tag = data[at:at + 1]
    at += 1
    if tag in (b"N", b"T", b"Z"):
        return {b"N": None, b"T": True, b"Z": False}[tag], at
    if tag in (b"i", b"f", b"c"):
        end = data.index(b";", at)
        if tag == b"i":
            return int(data[at:end].decode("ascii"), 16), end + 1
        real = float.fromhex(data[at:end].decode("ascii"))
        if tag == b"f":
            return real, end + 1
        end2 = data.index(b";", end + 1)
        return complex(real, float.fromhex(data[end + 1:end2].decode("ascii"))), end2 + 1
    colon = data.index(b":", at, at + 12)
    count = int(data[at:colon].decode("ascii"))
    at = colon + 1
    if count < 0 or count > len(data) - at:
        raise ValueError("a length longer than the message")
    if tag in (b"s", b"b", b"r"):
        raw = data[at:at + count]
        if tag == b"b":
            return raw, at + count
        text = raw.decode("utf-8", "surrogatepass")
        if tag == b"s":
            return text, at + count
        if callable(resolve):
            return resolve(text), at + count
        raise ValueError("a reference where none may be")
    items = []
    for _ in range(count * 2 if tag == b"d" else count):
        item, at = _read_value(data, at, resolve, depth + 1)
        items.append(item)
    if tag == b"t":
        return tuple(items), at
    if tag == b"l":
        return items, at
    if tag == b"S":
        return set(items), at
    if tag == b"g":
        return frozenset(items), at
    if tag == b"d":
        return dict(zip(items[::2], items[1::2])), at
    raise ValueError("not a value")


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
