"""One bounded reader for a suite's data files: JSONL, JSON, CSV and Parquet under the same limits.

A data file comes from whoever wrote the suite. Before anything is read or hashed its size is
checked; then every format meets the same bounds with the same messages, each naming the file and
the line (JSONL) or row: rows per file, characters per field and per file, nesting, NUL characters
and duplicate keys (a key twice in one JSON object, or a column twice in a header or schema).
Parquet is compressed, so its row groups' metadata (rows, bytes once uncompressed, the schema's
nesting) is checked before any row is decoded: a small file can hold millions of rows.

JSON is one array of records, or JSON lines (what `datasets` writes); CSV is UTF-8 with a header
row and every value a string (nothing guesses types: `007` stays `007`, an empty cell is "").
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from harness.common import limits
from harness.common.errors import HarnessError, quoted
from harness.common.files import file_sha256, iter_jsonl, parse_json
from harness.common.lazy import lazy_module
from harness.common.limits import human_size

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq
else:  # only for Parquet files: imported on first use
    pa = lazy_module("pyarrow")
    pq = lazy_module("pyarrow.parquet")

FORMATS = (".jsonl", ".json", ".csv", ".parquet")
_PARQUET_BATCH_ROWS = 1024


def read_data_file(path: Path) -> tuple[str, list[tuple[str, int, Any]]]:
    """(sha256 of the file's bytes, [(where, row number, record)]) within `limits`; one HarnessError
    naming the file and line or row for the first problem."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise HarnessError(f"unsupported data file type {path.suffix or '(none)'}; use .jsonl, .json, .csv or "
                           ".parquet", str(path))
    check_file_size(path)
    fingerprint = file_sha256(path, limits.DATA_MAX_FILE_BYTES)
    reader = {".jsonl": _jsonl, ".json": _json, ".csv": _csv, ".parquet": _parquet}[suffix]
    bound = RecordBound()
    return fingerprint, [(where, n, bound.check(record, where)) for where, n, record in reader(path)]


def check_file_size(path: Path) -> int:
    """The file's size; refused over `DATA_MAX_FILE_BYTES` before a byte of it is read."""
    size = Path(path).stat().st_size
    if size > limits.DATA_MAX_FILE_BYTES:
        raise HarnessError(f"file is {human_size(size)}, over the limit of {human_size(limits.DATA_MAX_FILE_BYTES)} "
                           "(DATA_MAX_FILE_BYTES)", str(path))
    return size


class RecordBound:
    """The limits every record of one file meets, whatever its format: rows, field and file characters,
    nesting and NUL characters. Keys count as characters too."""

    def __init__(self) -> None:
        self.rows, self.chars = 0, 0

    def check(self, record: Any, where: str) -> Any:
        self.rows += 1
        if self.rows > limits.DATA_MAX_ROWS:
            raise HarnessError(f"more than the limit of {limits.DATA_MAX_ROWS} rows (DATA_MAX_ROWS)", where)
        try:
            chars = _chars(record, 0, limits.DATA_MAX_FIELD_CHARS, limits.JSON_MAX_DEPTH)
        except _OverLimit:  # found cheaply; walked again to name the field
            self._name_the_problem(record, where)
            raise
        self.chars += chars
        if self.chars > limits.DATA_MAX_TOTAL_CHARS:
            raise HarnessError(f"the file's text is over the limit of {limits.DATA_MAX_TOTAL_CHARS} characters "
                               "(DATA_MAX_TOTAL_CHARS)", where)
        return record

    def _name_the_problem(self, record: Any, where: str) -> None:
        """Raise the HarnessError that names the field of `record` over a limit."""
        stack: list[tuple[Any, str, int]] = [(record, "", 0)]
        while stack:
            node, field, depth = stack.pop()
            if isinstance(node, (str, bytes)):
                self._text(node, field, where)
            elif isinstance(node, (dict, list)):
                if depth + 1 > limits.JSON_MAX_DEPTH:
                    raise HarnessError(f"arrays and objects nested deeper than the limit of {limits.JSON_MAX_DEPTH} "
                                       "levels (JSON_MAX_DEPTH)", where)
                if isinstance(node, dict):
                    for key, value in node.items():
                        name = f"{field}.{key}" if field else str(key)
                        self._text(str(key), name, where)
                        stack.append((value, name, depth + 1))
                else:
                    stack.extend((value, f"{field}[{i}]", depth + 1) for i, value in enumerate(node))

    def _text(self, text: str | bytes, field: str, where: str) -> None:
        if len(text) > limits.DATA_MAX_FIELD_CHARS:
            raise HarnessError(f"field {quoted(field)} is {len(text)} characters, over the limit of "
                               f"{limits.DATA_MAX_FIELD_CHARS} (DATA_MAX_FIELD_CHARS)", where)
        if (isinstance(text, str) and "\0" in text) or (isinstance(text, bytes) and b"\0" in text):
            raise HarnessError(f"field {quoted(field)} holds a NUL character (\\0), which is no text", where)


class _OverLimit(Exception):
    """A record breaks a field limit; `RecordBound` walks it again to say where."""


def _chars(node: Any, depth: int, max_field: int, max_depth: int) -> int:
    """The characters of a record's keys and texts (no names built: every row of every file passes here)."""
    if isinstance(node, str):
        if len(node) > max_field or "\0" in node:
            raise _OverLimit
        return len(node)
    if isinstance(node, bytes):
        if len(node) > max_field or b"\0" in node:
            raise _OverLimit
        return len(node)
    if isinstance(node, dict):
        if depth + 1 > max_depth:
            raise _OverLimit
        return sum(_chars(str(k), depth, max_field, max_depth) + _chars(v, depth + 1, max_field, max_depth)
                   for k, v in node.items())
    if isinstance(node, list):
        if depth + 1 > max_depth:
            raise _OverLimit
        return sum(_chars(v, depth + 1, max_field, max_depth) for v in node)
    return 0


def _jsonl(path: Path) -> Iterator[tuple[str, int, Any]]:
    for lineno, value in iter_jsonl(path):
        yield f"{path}:{lineno}", lineno, value


def _json(path: Path) -> Iterator[tuple[str, int, Any]]:
    """An array of records, or JSON lines (`datasets` writes those to `.json`)."""
    with open(path, "rb") as f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"["):
        yield from _jsonl(path)
        return
    records = parse_json(_utf8_text(path), str(path))  # starts with "[": an array
    for n, record in enumerate(records, 1):
        yield f"{path}: row {n}", n, record


def _utf8_text(path: Path) -> str:
    """The whole file as text (its size is checked: within DATA_MAX_FILE_BYTES), a bad byte named by its
    line and offset; a byte-order mark is allowed."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise HarnessError(f"not UTF-8 text: byte 0x{data[e.start]:02x} at byte offset {e.start} of the file; "
                           "save it as UTF-8", f"{path}:{line}") from None


def _csv(path: Path) -> Iterator[tuple[str, int, Any]]:
    """Rows as {header: value}. The text is held whole already (within DATA_MAX_FILE_BYTES), so the csv
    module's own field limit is lifted to that, and `RecordBound` names the field over DATA_MAX_FIELD_CHARS
    as it does for every format."""
    rows = csv.reader(io.StringIO(_utf8_text(path), newline=""), strict=True)  # bad quoting is an error
    previous = csv.field_size_limit(max(limits.DATA_MAX_FILE_BYTES, limits.DATA_MAX_FIELD_CHARS))
    try:
        header = next(rows, None)
        if header is None:
            return
        _no_duplicate_columns(header, f"{path}:1")
        for n, values in enumerate(rows, 1):
            where = f"{path}: row {n} (line {rows.line_num})"
            if not values:
                continue  # a blank line
            if len(values) != len(header):
                raise HarnessError(f"{len(values)} values under a header of {len(header)} columns", where)
            yield where, n, dict(zip(header, values))
    except csv.Error as e:
        raise HarnessError(f"invalid CSV: {e}", f"{path}: line {rows.line_num}") from None
    finally:
        csv.field_size_limit(previous)


def _no_duplicate_columns(names: list[str], where: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise HarnessError(f"duplicate key {quoted(name)}: a column is named twice", where)
        seen.add(name)


def _parquet(path: Path) -> Iterator[tuple[str, int, Any]]:

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise HarnessError(f"not a readable Parquet file: {(str(e).splitlines() or [type(e).__name__])[0]}",
                           str(path)) from None
    with pf:
        meta = pf.metadata
        if meta.num_rows > limits.DATA_MAX_ROWS:
            raise HarnessError(f"holds {meta.num_rows} rows, over the limit of {limits.DATA_MAX_ROWS} (DATA_MAX_ROWS)",
                               str(path))
        unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        if unpacked > limits.DATA_MAX_FILE_BYTES:
            raise HarnessError(f"holds {human_size(unpacked)} once uncompressed, over the limit of "
                               f"{human_size(limits.DATA_MAX_FILE_BYTES)} (DATA_MAX_FILE_BYTES)", str(path))
        schema = pf.schema_arrow
        _no_duplicate_columns(schema.names, str(path))
        deepest = max((_type_depth(f.type) for f in schema), default=0)
        if deepest + 1 > limits.JSON_MAX_DEPTH:
            raise HarnessError(f"arrays and objects nested deeper than the limit of {limits.JSON_MAX_DEPTH} levels "
                               "(JSON_MAX_DEPTH)", str(path))
        n = 0
        try:
            for batch in pf.iter_batches(batch_size=_PARQUET_BATCH_ROWS):
                for record in batch.to_pylist():
                    n += 1
                    yield f"{path}: row {n}", n, record
        except (pa.ArrowException, OSError) as e:
            raise HarnessError(f"not a readable Parquet file: {(str(e).splitlines() or [type(e).__name__])[0]}",
                               f"{path}: row {n + 1}") from None


def _type_depth(t: Any) -> int:
    """Levels of lists and structs in an Arrow type (0 for a plain value)."""

    if pa.types.is_struct(t):
        return 1 + max((_type_depth(t.field(i).type) for i in range(t.num_fields)), default=0)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return 1 + _type_depth(t.value_type)
    if pa.types.is_map(t):
        return 1 + max(_type_depth(t.key_type), _type_depth(t.item_type))
    return 0

