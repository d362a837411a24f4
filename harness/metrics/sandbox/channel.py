"""The channel between the sandbox's two processes (see `harness.metrics.sandbox.child`): literal values
only, each message a 4-byte length and a value in a tagged byte format (`encode`), read back by `decode`,
which builds nothing but None, bools, numbers, strings, bytes, tuples, lists, dicts, sets and frozensets
(and, on the solution's side, a reference to one of its names). Nothing the solution's side sends is
parsed as code, executed or unpickled.

Standard library only and no imports: the children run this file's code ahead of `child`'s.
"""
from __future__ import annotations

import builtins
import os

MAX_MESSAGE = 4 << 20  # bytes of one message on the channel
MAX_DEPTH = 100  # nesting of a value on the channel


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


def _remote_exception(type_name: str, message: str, reason: str) -> Exception:
    """The solution's exception, as the builtin exception of that name where there is one. Never a
    StopIteration: raised into `map` or a `for` loop of the tests, it would end it as if all were done."""
    cls = getattr(builtins, type_name, None)
    exc: Exception | None = None
    stops = (StopIteration, StopAsyncIteration)
    if isinstance(cls, type) and issubclass(cls, Exception) and not issubclass(cls, stops):
        try:
            exc = cls(message)
        except Exception:
            exc = None
    if exc is None:
        exc = type(type_name if type_name.isidentifier() else "SolutionError", (Exception,), {})(message)
    setattr(exc, "remote_reason", reason)  # noqa: B010 - an attribute of our own on a builtin exception
    return exc


class Encoded(bytes):
    """A value already encoded (a value the solution's side encoded while it could still catch errors)."""


class Channel:
    """Length-prefixed literal messages over a pair of pipes. `lost` says how the other side broke it:
    "ended" (it closed its end: it exited or died) or "garbled" (it sent something that is not a message,
    or not the one due); empty while it holds."""

    def __init__(self, rx: int, tx: int):
        self.rx, self.tx, self.lost = rx, tx, ""

    def broken(self, how: str) -> Lost:
        """Lost, remembering the first way the channel broke."""
        self.lost = self.lost or how
        return Lost(self.lost)

    def send(self, message: object) -> None:
        data = encode(message)
        data = len(data).to_bytes(4, "big") + data
        try:
            while data:
                data = data[os.write(self.tx, data):]
        except OSError:
            raise self.broken("ended") from None

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
            raise self.broken("garbled" if body is not None or size > MAX_MESSAGE else "ended")
        return message

    def expect(self, kind: str, size: int) -> tuple:
        """The next message, which must be a `kind` tuple of `size` items; Lost otherwise."""
        message = self.receive()
        if message is None or message[0] != kind or len(message) != size:
            raise self.broken("ended" if message is None else "garbled")
        return message

    def request(self, message: tuple, kind: str, size: int) -> tuple:
        if self.lost:
            raise Lost(self.lost)
        self.send(message)
        return self.expect(kind, size)

    def call(self, name: str, args: tuple, kwargs: dict) -> object:
        """The solution's `name` called: its return value, or its exception raised here."""
        if self.lost:
            raise Lost(self.lost)
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
        raise self.broken("ended" if reply is None else "garbled")

    def _read(self, size: int) -> bytes | None:
        """Exactly `size` bytes; None at the end of the channel."""
        data = b""
        while len(data) < size:
            try:
                chunk = os.read(self.rx, min(size - len(data), 1 << 20))
            except OSError:
                chunk = b""
            if not chunk:
                self.lost = self.lost or "ended"
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
