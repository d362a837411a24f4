"""JSONL data and suite.yaml against hostile input: every problem is one bounded line naming file and line."""
from __future__ import annotations

import hashlib
import json
import time
import tracemalloc
from pathlib import Path

import pytest

from harness.common import limits
from harness.common.errors import HarnessError
from harness.common.files import iter_jsonl, read_jsonl
from harness.suitedef.suite import load_suite

from .test_suite import ROWS, basic_spec, write_suite


def jsonl_error(tmp_path: Path, content: bytes) -> str:
    path = tmp_path / "data.jsonl"
    path.write_bytes(content)
    with pytest.raises(HarnessError) as error:
        read_jsonl(path)
    message = str(error.value)
    assert message.startswith(str(path)) and "\n" not in message and len(message) < 400
    return message.removeprefix(str(path))


def suite_error(folder: Path) -> str:
    with pytest.raises(HarnessError) as error:
        load_suite(folder)
    message = str(error.value)
    assert "\n" not in message and len(message) < 400
    return message


GOOD = b'{"id": 1}\n'


@pytest.mark.parametrize("content, message", [
    (GOOD + b'{"x": NaN}\n', ":2: NaN is not a number JSON allows"),
    (GOOD + b'{"x": Infinity}\n', ":2: Infinity is not a number JSON allows"),
    (b'{"x": -Infinity}\n', ":1: -Infinity is not a number JSON allows"),
    (b'{"x": 1e999}\n', ":1: number '1e999' is out of range"),
    (b'{"x": 1' + b"0" * 5000 + b"}\n", ":1: invalid JSON: a number with too many digits"),
    (GOOD + GOOD + b'{"id": 1, "id": 2}\n', ":3: duplicate key 'id' in one object"),
    (b'{"a": {"b": 1, "b": 1}}\n', ":1: duplicate key 'b' in one object"),
    (b"[" * 65 + b"]" * 65 + b"\n", ":1: arrays and objects nested deeper than the limit of 64 levels "
                                   "(JSON_MAX_DEPTH)"),
    (b"[" * 200_000 + b"]" * 200_000 + b"\n", ":1: arrays and objects nested deeper than the limit of 64 levels"),
    (GOOD + b'{"x": "caf\xe9"}\n', ":2: not UTF-8 text: byte 0xe9 at byte offset 20 of the file"),
    (GOOD + b"[1]\n", ":2: expected a JSON object, got an array"),
    (b'{"x": 1}\n{oops}\n', ":2: invalid JSON: Expecting property name enclosed in double quotes (column 2)"),
])
def test_bad_jsonl_lines(tmp_path, content, message):
    assert message in jsonl_error(tmp_path, content)


def test_byte_offset_is_where_the_bad_byte_is(tmp_path):
    content = GOOD * 3 + '{"x": "中文 ok"}\n'.encode() + b'{"x": "\xff"}\n'
    message, offset = jsonl_error(tmp_path, content), content.index(b"\xff")
    assert f"byte 0xff at byte offset {offset} of the file" in message and message.startswith(":5:")


def test_accepted_jsonl(tmp_path):
    path = tmp_path / "ok.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": "a"}\r\n\r\n  \n{"id": "b", "deep": [[[1]]], "n": 1.5e300}\n{"id": "c"}')
    assert [(n, row["id"]) for n, row in iter_jsonl(path)] == [(1, "a"), (4, "b"), (5, "c")]
    nested = tmp_path / "nested.jsonl"
    nested.write_text(json.dumps({"x": json.loads("[" * 63 + "]" * 63)}) + "\n", encoding="utf-8")
    assert read_jsonl(nested), "64 levels are allowed"


def test_line_and_file_limits(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "JSONL_MAX_LINE_BYTES", 100)
    line, longest = (json.dumps({"x": "y" * n}).encode() for n in (90, 91))
    assert (len(line), len(longest)) == (99, 100)
    path = tmp_path / "lines.jsonl"
    path.write_bytes(line + b"\r\n" + longest + b"\r\n" + longest)  # the line ending does not count
    assert len(read_jsonl(path)) == 3
    path.write_bytes(line + b"\r\n" + b'{"x": "' + b"y" * 200 + b'"}\n' + line + b"\n")
    with pytest.raises(HarnessError, match=r"lines.jsonl:2: line is longer than the limit of 100 bytes "
                                           r"\(JSONL_MAX_LINE_BYTES\)"):
        read_jsonl(path)
    monkeypatch.setattr(limits, "DATA_MAX_FILE_BYTES", 150)
    size = path.stat().st_size
    with pytest.raises(HarnessError, match=rf"lines.jsonl: file is {size} bytes, over the limit of 150 bytes"):
        read_jsonl(path)


def test_a_huge_line_is_refused_in_bounded_memory(tmp_path):
    path = tmp_path / "huge.jsonl"
    with open(path, "wb") as f:
        f.write(b'{"x": "')
        for _ in range(8):
            f.write(b"y" * limits.MIB)
        f.write(b'"}\n')
    tracemalloc.start()
    with pytest.raises(HarnessError, match="huge.jsonl:1: line is longer than the limit of 1 MiB"):
        read_jsonl(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * limits.MIB


# --- data lines in a suite --------------------------------------------------------------------------------

@pytest.mark.parametrize("row, message", [
    ({"id": None, "prompt": "p", "completion": "c"}, "field 'id' must be a string or an integer, not null"),
    ({"id": True, "prompt": "p", "completion": "c"}, "field 'id' must be a string or an integer, not true"),
    ({"id": 1.5, "prompt": "p", "completion": "c"}, "field 'id' must be a string or an integer, not 1.5"),
    ({"id": ["a"], "prompt": "p", "completion": "c"}, "field 'id' must be a string or an integer, not [\"a\"]"),
    ({"id": " ", "prompt": "p", "completion": "c"}, "field 'id' is empty"),
    ('{"id": "z", "prompt": "p", "prompt": "q", "completion": "c"}\n', "duplicate key 'prompt' in one object"),
    ('{"id": "z", "prompt": "p", "completion": NaN}\n', "NaN is not a number JSON allows"),
])
def test_bad_rows_in_a_suite_name_their_line(tmp_path, row, message):
    msg = suite_error(write_suite(tmp_path, basic_spec(), ROWS, [ROWS[0], row]))
    assert f"test.jsonl:2: {message}" in msg


def test_integer_ids_and_a_bom_are_accepted(tmp_path):
    folder = write_suite(tmp_path, basic_spec(), ROWS, [{"id": 7, "prompt": "p", "completion": "c"}, ROWS[1]])
    (folder / "test.jsonl").write_bytes(b"\xef\xbb\xbf" + (folder / "test.jsonl").read_bytes())
    assert [e.id for e in load_suite(folder).test] == ["7", "b"]


# --- suite.yaml ---------------------------------------------------------------------------------------------

def yaml_suite(tmp_path: Path, text: str | bytes) -> Path:
    folder = write_suite(tmp_path, basic_spec(), ROWS, ROWS)
    (folder / "suite.yaml").write_bytes(text if isinstance(text, bytes) else text.encode())
    return folder


GOOD_YAML = (b"name: s\nversion: '1'\ndata:\n  format: prompt-completion\n  test: test.jsonl\n"
             b"metrics: [exact_match]\n")


@pytest.mark.parametrize("version", ["1.10", "2024-01-01", "null", "true"])
def test_unquoted_version_is_refused_with_a_hint(tmp_path, version):
    msg = suite_error(yaml_suite(tmp_path, GOOD_YAML.replace(b"'1'", version.encode())))
    assert "line 2: field 'version': must be a quoted string, e.g. version: \"1.10\"" in msg
    if version == "1.10":
        assert "(YAML read 1.1," in msg


def test_quoted_version_is_kept_as_written(tmp_path):
    assert load_suite(yaml_suite(tmp_path, GOOD_YAML.replace(b"'1'", b'"1.10"'))).spec.version == "1.10"


@pytest.mark.parametrize("version", ["1", "2", "10"])
def test_a_whole_number_version_is_read_as_text(tmp_path, version):
    # A whole number loses no digits in YAML (only fractions do: 1.10 → 1.1), and earlier suites used it.
    assert load_suite(yaml_suite(tmp_path, GOOD_YAML.replace(b"'1'", version.encode()))).spec.version == version


def test_yaml_that_is_not_utf8(tmp_path):
    content = GOOD_YAML.replace(b"name: s", b"name: s\ndescription: caf\xe9")
    msg, offset = suite_error(yaml_suite(tmp_path, content)), content.index(b"\xe9")
    assert f"suite.yaml: line 2: not UTF-8 text: byte 0xe9 at byte offset {offset}" in msg


@pytest.mark.parametrize("depth, message", [
    (40, "line 7: invalid YAML: nested deeper than the limit of 32 levels (YAML_MAX_DEPTH)"),
    (100_000, "line 7: invalid YAML: nested deeper than the limit of 32 levels (YAML_MAX_DEPTH)"),
])
def test_deep_yaml(tmp_path, depth, message):
    started = time.monotonic()
    assert message in suite_error(yaml_suite(tmp_path, GOOD_YAML + b"x: " + b"[" * depth + b"]" * depth + b"\n"))
    assert time.monotonic() - started < 5


def billion_laughs(levels: int = 9) -> bytes:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return GOOD_YAML + "\n".join(lines).encode() + b"\n"


def test_alias_bomb_is_refused_without_expanding_it(tmp_path):
    tracemalloc.start()
    started = time.monotonic()
    msg = suite_error(yaml_suite(tmp_path, billion_laughs()))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "holds more than the limit of 100000 values once aliases are expanded (YAML_MAX_VALUES)" in msg
    assert time.monotonic() - started < 2 and peak < 32 * limits.MIB


def test_aliases_within_the_limits_still_work(tmp_path):
    rubric = (b"rubric:\n  criteria:\n    - {name: a, description: d, levels: &lv {1: a, 2: b, 3: c, 4: d, 5: e}}\n"
              b"    - {name: b, description: d, levels: *lv}\n")
    spec = load_suite(yaml_suite(tmp_path, GOOD_YAML + rubric)).spec
    assert spec.rubric.criteria[1].levels[5] == "e"


def test_alias_nesting_past_the_depth_limit_and_recursive_aliases(tmp_path):
    chain = "\n".join(["l0: &l0 [1]"] + [f"l{i}: &l{i} [*l{i - 1}]" for i in range(1, 40)])
    assert "nested deeper than the limit of 32 levels once aliases are expanded" in suite_error(
        yaml_suite(tmp_path / "a", GOOD_YAML + chain.encode() + b"\n"))
    assert "invalid YAML: an alias refers to a node that contains it" in suite_error(
        yaml_suite(tmp_path / "b", GOOD_YAML + b"loop: &x [*x]\n"))


def test_yaml_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "YAML_MAX_BYTES", 50)
    msg = suite_error(yaml_suite(tmp_path, GOOD_YAML))
    assert "suite.yaml: file is over the limit of 50 bytes (YAML_MAX_BYTES)" in msg


@pytest.mark.parametrize("path", ["../elsewhere.jsonl", "/etc/passwd", "data/../../x.jsonl"])
def test_data_paths_stay_inside_the_suite(tmp_path, path):
    msg = suite_error(write_suite(tmp_path, basic_spec(data={"format": "prompt-completion", "test": path}), ROWS, ROWS))
    assert "field 'data.test': must be a path inside the suite folder" in msg and "line 6:" in msg


def test_whole_suite_checks_point_at_their_items_line(tmp_path):
    spec = basic_spec(metrics=["exact_match", "accuracy"], gates=[])
    msg = suite_error(write_suite(tmp_path / "a", spec, ROWS, ROWS))
    text = (tmp_path / "a" / "suite.yaml").read_text(encoding="utf-8")
    line = text.splitlines().index("- accuracy") + 1
    assert f"line {line}: field 'metrics.1': unknown metric 'accuracy'" in msg and line > 1
    del spec["metrics"]
    msg = suite_error(write_suite(tmp_path / "b", spec, ROWS, ROWS))
    assert "field 'metrics': Field required" in msg and "line 1" not in msg, "a missing field has no line"


# --- every data format, one set of limits -------------------------------------------------------------------

def write_rows(path: Path, rows: list[dict], fmt: str) -> None:
    """`rows` as a data file of `fmt`: JSONL, a JSON array, CSV with a header, or Parquet."""
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif fmt == "json":
        path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    elif fmt == "csv":
        import csv

        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)


FORMATS = ["jsonl", "json", "csv", "parquet"]
OK_ROWS = [{"id": f"r{i}", "prompt": f"p{i}", "completion": f"c{i}"} for i in range(3)]


def format_error(tmp_path: Path, fmt: str, rows: list[dict] | None = None, raw: bytes | None = None) -> str:
    folder = write_suite(tmp_path / fmt, basic_spec(data={"format": "prompt-completion", "test": f"test.{fmt}"}))
    path = folder / f"test.{fmt}"
    if raw is not None:
        path.write_bytes(raw)
    else:
        write_rows(path, rows or OK_ROWS, fmt)
    message = suite_error(folder)
    assert message.startswith(str(path)), message
    return message.removeprefix(str(path))


def where(fmt: str, row: int) -> str:
    """How a message names a row: JSONL by line, JSON by row, CSV by row and line (its header is line 1)."""
    return {"jsonl": f":{row}: ", "json": f": row {row}: ", "csv": f": row {row} (line {row + 1}): ",
            "parquet": f": row {row}: "}[fmt]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_the_same_records(tmp_path, fmt):
    folder = write_suite(tmp_path, basic_spec(data={"format": "prompt-completion", "test": f"test.{fmt}"}))
    write_rows(folder / f"test.{fmt}", OK_ROWS + [{"id": "007", "prompt": "", "completion": "x"}], fmt)
    suite = load_suite(folder)
    assert [(e.id, e.messages[0]["content"], e.reference) for e in suite.test] == [
        ("r0", "Say: p0", "c0"), ("r1", "Say: p1", "c1"), ("r2", "Say: p2", "c2"), ("007", "Say: ", "x")]
    assert suite.sources["test"]["sha256"] == hashlib.sha256((folder / f"test.{fmt}").read_bytes()).hexdigest()


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_meets_the_row_limit(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(limits, "DATA_MAX_ROWS", 2)
    message = format_error(tmp_path, fmt)
    if fmt == "parquet":  # from the metadata, before any row is decoded
        assert message == ": holds 3 rows, over the limit of 2 (DATA_MAX_ROWS)"
    else:
        assert message == f"{where(fmt, 3)}more than the limit of 2 rows (DATA_MAX_ROWS)"


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_meets_the_field_limit(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(limits, "DATA_MAX_FIELD_CHARS", 10)
    rows = [OK_ROWS[0], {"id": "r1", "prompt": "y" * 11, "completion": "c"}]
    message = format_error(tmp_path, fmt, rows)
    assert message == f"{where(fmt, 2)}field 'prompt' is 11 characters, over the limit of 10 (DATA_MAX_FIELD_CHARS)"


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_meets_the_total_characters_limit(tmp_path, monkeypatch, fmt):
    # each row holds 2 + 2 + 6 + 2 + 10 + 2 = 24 characters of keys and values: the third row passes 60
    monkeypatch.setattr(limits, "DATA_MAX_TOTAL_CHARS", 60)
    assert format_error(tmp_path, fmt) == f"{where(fmt, 3)}the file's text is over the limit of 60 characters " \
                                          "(DATA_MAX_TOTAL_CHARS)"


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_refuses_a_nul(tmp_path, fmt):
    rows = [OK_ROWS[0], {"id": "r1", "prompt": "a\0b", "completion": "c"}]
    assert format_error(tmp_path, fmt, rows) == f"{where(fmt, 2)}field 'prompt' holds a NUL character (\\0), which " \
                                                "is no text"


@pytest.mark.parametrize("fmt", ["jsonl", "json", "parquet"])
def test_every_nesting_format_meets_the_depth_limit(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(limits, "JSON_MAX_DEPTH", 4)
    deep = {"id": "r1", "prompt": "p", "completion": "c", "extra": [[[["x"]]]]}  # the record and 4 lists: 5 levels
    message = format_error(tmp_path, fmt, [dict(deep, id="r0"), deep])
    expected = "arrays and objects nested deeper than the limit of 4 levels (JSON_MAX_DEPTH)"
    # JSONL checks each line as it parses it; a JSON array is one document (one level more); Parquet its schema
    assert message == {"jsonl": f":1: {expected}", "json": f": {expected}", "parquet": f": {expected}"}[fmt]


@pytest.mark.parametrize("fmt, raw, message", [
    ("jsonl", b'{"id": "a", "prompt": "p", "prompt": "q", "completion": "c"}\n', ":1: duplicate key 'prompt' in one object"),
    ("json", b'[{"id": "a", "prompt": "p", "prompt": "q", "completion": "c"}]', ": duplicate key 'prompt' in one object"),
    ("csv", b"id,prompt,prompt,completion\na,p,q,c\n", ":1: duplicate key 'prompt': a column is named twice"),
    ("csv", b"id,prompt,completion\na,p\n", ": row 1 (line 2): 2 values under a header of 3 columns"),
    ("csv", b'id,prompt,completion\na,"p"x,c\n', ": line 2: invalid CSV: ',' expected after '\"'"),
    ("csv", b'id,prompt,completion\na,"p,c\n', ": line 2: invalid CSV: unexpected end of data"),
    ("csv", b"id,prompt,completion\na,caf\xe9,c\n", ":2: not UTF-8 text: byte 0xe9 at byte offset 26 of the file"),
    ("json", b'{"id": "a", "prompt": "p", "completion": "c"}\n"text"\n', ":2: expected a JSON object"),
    ("json", b'[{"id": "a", "prompt": "caf\xe9"}]', ":1: not UTF-8 text: byte 0xe9 at byte offset 27 of the file"),
    ("parquet", b"PAR1 not really", ": not a readable Parquet file"),
])
def test_format_specific_problems_name_the_file_and_place(tmp_path, fmt, raw, message):
    assert format_error(tmp_path, fmt, raw=raw).startswith(message)


def test_parquet_duplicate_columns_are_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = write_suite(tmp_path, basic_spec(data={"format": "prompt-completion", "test": "test.parquet"}))
    table = pa.table([pa.array(["a"]), pa.array(["p"]), pa.array(["q"]), pa.array(["c"])],
                     names=["id", "prompt", "prompt", "completion"])
    pq.write_table(table, folder / "test.parquet")
    assert suite_error(folder).endswith("test.parquet: duplicate key 'prompt': a column is named twice")


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_oversized_file_is_refused_before_a_byte_is_read_or_hashed(tmp_path, fmt):
    folder = write_suite(tmp_path, basic_spec(data={"format": "prompt-completion", "test": f"test.{fmt}"}))
    path = folder / f"test.{fmt}"
    with open(path, "wb") as f:  # sparse: 1 GiB and a byte on disk in no time
        f.truncate(limits.DATA_MAX_FILE_BYTES + 1)
    tracemalloc.start()
    start = time.perf_counter()
    message = suite_error(folder)
    seconds, peak = time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert message == f"{path}: file is 1 GiB, over the limit of 1 GiB (DATA_MAX_FILE_BYTES)"
    assert seconds < 2 and peak < 4 * limits.MIB  # reading or hashing a GiB would take both


def test_a_small_parquet_file_of_millions_of_rows_is_refused_from_its_metadata(tmp_path):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = write_suite(tmp_path, basic_spec(data={"format": "prompt-completion", "test": "test.parquet"}))
    n = 3_000_000
    column = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array(["hi"]))
    pq.write_table(pa.table({"prompt": column, "completion": column}), folder / "test.parquet",
                   row_group_size=n)
    assert (folder / "test.parquet").stat().st_size < limits.MIB  # small on disk
    start = time.perf_counter()
    message = suite_error(folder)
    assert message.endswith("test.parquet: holds 3000000 rows, over the limit of 1000000 (DATA_MAX_ROWS)")
    assert time.perf_counter() - start < 5
