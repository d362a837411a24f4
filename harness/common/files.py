"""Files the harness writes and reads: atomic writes, strict JSONL reading, and a lock between processes.

A reader never sees half a file and a crash never leaves one; a JSONL file someone else wrote is
read within the bounds in `limits`, and each problem is one line naming the file and line.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

import yaml

from harness.common import limits

from .errors import HarnessError, quoted
from .limits import human_size

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

_UMASK = os.umask(0)
os.umask(_UMASK)


def write_text(path: Path, text: str) -> None:
    """Write `text` as UTF-8 to a temporary file beside `path`, then move it into place."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then move it into place."""
    _replace(path, lambda f: f.write(data))


class ContentChanged(HarnessError):
    """A file's bytes do not hash to what was recorded for them."""


def copy_file(src: Path, dest: Path, expect_sha256: str | None = None) -> str:
    """Copy `src` to `dest` atomically (a reader sees the old file or the whole new one) and return the
    sha256 of the bytes copied, hashed as they pass (one read). With `expect_sha256`, bytes that hash
    otherwise never reach `dest`: the copy is dropped and `ContentChanged` raised."""
    digest = hashlib.sha256()

    def fill(f: BinaryIO) -> None:
        with open(src, "rb") as source:
            while chunk := source.read(1 << 20):
                digest.update(chunk)
                f.write(chunk)
        if expect_sha256 is not None and digest.hexdigest() != expect_sha256:
            raise ContentChanged(f"content changed: sha256 {digest.hexdigest()[:12]}…, recorded "
                                 f"{expect_sha256[:12]}…", str(src))

    _replace(dest, fill)
    return digest.hexdigest()


def _replace(path: Path, fill: Callable[[BinaryIO], Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            fill(f)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's private 0600 is not what a results file wants
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """Write `data` as indented JSON, atomically."""
    write_text(path, json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n")


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    """Write one JSON object per line, atomically."""
    write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive OS lock on the lock file `path` (created if need be) for the block.

    Processes taking the same lock run their blocks one at a time, so a read-modify-write inside
    the block never loses another process's write; the OS drops the lock when a process dies.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        if fcntl is not None:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        else:
            _lock_windows(f)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
            else:
                import msvcrt  # Windows only: no such module elsewhere

                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)


def _lock_windows(f) -> None:
    import msvcrt  # Windows only: no such module elsewhere

    while True:
        f.seek(0)
        try:
            msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)  # type: ignore[attr-defined]  # retries 10 s, then raises
            return
        except OSError:
            continue


def file_sha256(path: Path, limit: int | None = None) -> str:
    """sha256 of a file's bytes, read in chunks (never whole); with `limit`, a file that grows past it
    while it is read is refused (DATA_MAX_FILE_BYTES)."""
    digest, seen = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            seen += len(chunk)
            if limit is not None and seen > limit:
                raise HarnessError(f"file is over the limit of {human_size(limit)} (DATA_MAX_FILE_BYTES)", str(path))
            digest.update(chunk)
    return digest.hexdigest()


def read_jsonl(path: Path) -> list[dict]:
    """One JSON object per non-blank line, read with `iter_jsonl`'s checks."""
    rows = []
    for lineno, value in iter_jsonl(path):
        if not isinstance(value, dict):
            raise HarnessError(f"expected a JSON object, got {_json_type(value)}", f"{path}:{lineno}")
        rows.append(value)
    return rows


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank line of a UTF-8 JSONL file.

    Bounded and strict: a file over `limits.DATA_MAX_FILE_BYTES` or a line over
    `JSONL_MAX_LINE_BYTES` is refused before it is decoded; bytes that are not UTF-8 are reported
    with their offset in the file; `parse_json` refuses what JSON parsers disagree on. A UTF-8
    byte-order mark before the first line is allowed (editors on Windows write one).
    """
    path = Path(path)
    line_limit, file_limit = limits.JSONL_MAX_LINE_BYTES, limits.DATA_MAX_FILE_BYTES
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > file_limit:
            raise HarnessError(f"file is {human_size(size)}, over the limit of {human_size(file_limit)} "
                               "(DATA_MAX_FILE_BYTES)", str(path))
        offset = 0
        for lineno in count(1):
            raw = f.readline(line_limit + 2)  # room for the line's own \r\n
            if not raw:
                return
            where = f"{path}:{lineno}"
            if len(raw.rstrip(b"\r\n")) > line_limit:
                raise HarnessError(f"line is longer than the limit of {human_size(line_limit)} (JSONL_MAX_LINE_BYTES)",
                                   where)
            if offset + len(raw) > file_limit:  # the file grew while it was read
                raise HarnessError(f"file is over the limit of {human_size(file_limit)} (DATA_MAX_FILE_BYTES)",
                                   str(path))
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise HarnessError(f"not UTF-8 text: byte 0x{raw[e.start]:02x} at byte offset {offset + e.start} "
                                   "of the file; save it as UTF-8", where) from None
            offset += len(raw)
            if lineno == 1:
                text = text.removeprefix("\ufeff")
            if text.strip():
                yield lineno, parse_json(text, where)


def read_yaml(path: Path) -> tuple[str, Any]:
    """(text, data) of a UTF-8 YAML file, loaded safely and within `limits`.

    Only plain data (SafeLoader); the file, its nesting and its size once aliases are expanded
    are bounded, so neither a deep document nor an alias bomb ("billion laughs") costs more than
    the limits allow. Problems are YAML errors with a line where one applies.
    """
    path = Path(path)
    with open(path, "rb") as f:
        data = f.read(limits.YAML_MAX_BYTES + 1)
    if len(data) > limits.YAML_MAX_BYTES:
        raise HarnessError(f"file is over the limit of {human_size(limits.YAML_MAX_BYTES)} (YAML_MAX_BYTES)", str(path))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise HarnessError(f"line {line}: not UTF-8 text: byte 0x{data[e.start]:02x} at byte offset {e.start}; "
                           "save it as UTF-8", str(path)) from None
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return text, None
        values, depth = _expanded_size(node)
        if depth > limits.YAML_MAX_DEPTH:
            raise HarnessError(f"nested deeper than the limit of {limits.YAML_MAX_DEPTH} levels once aliases are "
                               "expanded (YAML_MAX_DEPTH)", str(path))
        if values > limits.YAML_MAX_VALUES:
            raise HarnessError(f"holds more than the limit of {limits.YAML_MAX_VALUES} values once aliases are "
                               "expanded (YAML_MAX_VALUES)", str(path))
        return text, loader.construct_document(node)
    finally:
        loader.dispose()


def load_yaml(path: Path) -> tuple[str, Any]:
    """`read_yaml`, with every problem (missing, unreadable, not YAML) as one HarnessError line."""
    where = str(path)
    try:
        return read_yaml(Path(path))
    except FileNotFoundError:
        raise HarnessError("file not found", where) from None
    except OSError as e:
        raise HarnessError(f"cannot read: {e.strerror}", where) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark else ""
        problem = " ".join(str(getattr(e, "problem", None) or e).split())
        raise HarnessError(f"{line}invalid YAML: {problem}", where) from None


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that stops composing past `limits.YAML_MAX_DEPTH`, before Python's recursion limit."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > limits.YAML_MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than the limit of {limits.YAML_MAX_DEPTH} levels (YAML_MAX_DEPTH)",
                    self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _expanded_size(root: yaml.Node) -> tuple[int, int]:
    """(values, depth) of a composed document as construction would expand it; a recursive alias is refused.

    Aliases share nodes, so this walks each node once and adds up the counts of its children.
    """
    cap = limits.YAML_MAX_VALUES + 1
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        children = _children(node)
        if finished:
            size[id(node)] = min(cap, 1 + sum(size[id(c)] for c in children))
            depth[id(node)] = 1 + max((depth[id(c)] for c in children), default=0)
            open_nodes.discard(id(node))
        elif id(node) in open_nodes:
            raise yaml.composer.ComposerError(None, None, "an alias refers to a node that contains it",
                                              node.start_mark)
        elif id(node) not in size:
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children)
    return size[id(root)], depth[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


class _Refused(Exception):
    """A JSON text that parses but that the harness does not accept."""


def parse_json(text: str, where: str) -> Any:
    """`json.loads`, refusing NaN/Infinity, out-of-range numbers, duplicate keys and deep nesting.

    Python accepts all of these silently (the last duplicate wins, NaN poisons every mean); other
    tools read them differently or not at all, so they are one error line naming `where`.
    """
    if text.startswith("\ufeff"):
        raise HarnessError("invalid JSON: a byte-order mark (U+FEFF) starts this line; only the file may start "
                           "with one", where)
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as e:  # the column within the file's line (JSON's own counts its line breaks)
        column = min(e.pos, len(text.rstrip("\r\n"))) + 1
        raise HarnessError(f"invalid JSON: {e.msg} (column {column})", where) from None
    except _Refused as e:
        raise HarnessError(str(e), where) from None
    except RecursionError:
        raise HarnessError(_too_deep(), where) from None
    except ValueError:  # an integer with more digits than Python converts (sys.get_int_max_str_digits)
        raise HarnessError("invalid JSON: a number with too many digits", where) from None
    # Depth can only exceed the limit if there are that many brackets; most lines have a handful.
    if text.count("[") + text.count("{") > limits.JSON_MAX_DEPTH and _depth(value) > limits.JSON_MAX_DEPTH:
        raise HarnessError(_too_deep(), where)
    # "\ud800" alone parses to a string no UTF-8 file can hold: writing the predictions would fail later.
    if _SURROGATE_ESCAPE.search(text) and not _encodable(value):
        raise HarnessError("a \\u escape of half a UTF-16 surrogate pair (\\ud800–\\udfff) is not text", where)
    return value


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _encodable(value: Any) -> bool:
    """Whether every string (and key) in parsed JSON can be written as UTF-8."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return True


def _too_deep() -> str:
    return f"arrays and objects nested deeper than the limit of {limits.JSON_MAX_DEPTH} levels (JSON_MAX_DEPTH)"


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a number JSON allows; write null or a number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"number {quoted(text)} is out of range")
    return value


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"duplicate key {quoted(key)} in one object")
            seen.add(key)
    return result


# Built once: json.loads with hooks builds a decoder per call, which costs more than the parsing.
_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float,
                            object_pairs_hook=_no_duplicate_keys)


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "true or false", type(None): "null"}
    return names.get(type(value), "a number")
