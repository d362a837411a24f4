"""Every bound on what untrusted input may cost, defined once.

Suites, their data and templates, and filled rating sheets come from people the harness does not
trust. Each limit turns an input that would exhaust memory or time into one error line that names
the file and the limit. Code reads these as `limits.NAME` at call time, so a test can lower one.
"""
from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

# --- data files: suite splits (JSONL, JSON, CSV, Parquet), predictions, imported ratings -----------
DATA_MAX_FILE_BYTES = 1 * GIB
"""One data file at most, checked before it is read or hashed (a Parquet file: also its row groups
once uncompressed); everything in it is held in memory."""
DATA_MAX_ROWS = 1_000_000
"""Rows (records) in one data file; a Parquet file's metadata is checked before any row is decoded."""
DATA_MAX_FIELD_CHARS = 1 * MIB
"""Characters in one value or key of a record (a CSV field, a Parquet cell, a JSON string)."""
DATA_MAX_TOTAL_CHARS = 512 * MIB
"""Characters of all values and keys of one data file together."""
JSONL_MAX_LINE_BYTES = 1 * MIB
"""One example (one line) at most; a longer line is refused before it is decoded."""
JSON_MAX_DEPTH = 64
"""Nesting of arrays and objects in one record; deeper data is refused before Python's recursion limit."""

# --- names and ids a suite brings ------------------------------------------------------------------
NAME_MAX_CHARS = 100
"""A suite's name: it becomes part of file names (`predictions/<name>.jsonl`) and report URLs."""
EXAMPLE_ID_MAX_CHARS = 200
"""An example's id: shown in reports and rating sheets, and a key in every per-example record."""
SEED_MAX = 2**32 - 1
"""The largest seed: what numpy, torch and transformers all accept (0 … 2³²−1)."""

# --- suite.yaml ----------------------------------------------------------------------------------
YAML_MAX_BYTES = 1 * MIB
"""suite.yaml at most."""
YAML_MAX_DEPTH = 32
"""Nesting of mappings and lists in suite.yaml."""
YAML_MAX_VALUES = 100_000
"""Values in suite.yaml once aliases are expanded: stops "billion laughs" alias bombs."""

# --- prompt templates, per rendered example --------------------------------------------------------
TEMPLATE_MAX_CHARS = 2_000_000
"""Characters a template may output, and the size of any string or list it builds on the way."""
TEMPLATE_MAX_STEPS = 100_000
"""Loop iterations, calls and arithmetic operations in one rendering."""
TEMPLATE_MAX_SECONDS = 2.0
"""Wall-clock time for one rendering (a safety net behind the step budget)."""
TEMPLATE_MAX_RANGE = 10_000
"""Items in one `range(...)`."""
TEMPLATE_MAX_INT_BITS = 4096
"""Size of an integer a template computes (`9**9**9` is refused, not computed)."""

# --- filled rating sheets (CSV and XLSX) ----------------------------------------------------------------
SHEET_MAX_FILE_BYTES = 32 * MIB
"""A rater file as stored (CSV text, or the compressed XLSX)."""
XLSX_MAX_UNCOMPRESSED_BYTES = 64 * MIB
"""All members of an XLSX archive together once uncompressed: stops zip bombs before openpyxl opens one."""
XLSX_MAX_MEMBERS = 1_000
"""Files inside one XLSX archive."""
SHEET_MAX_ROWS = 100_000
"""Rows of a sheet, counting blank ones up to the last used row."""
SHEET_MAX_COLUMNS = 64
"""Columns of a sheet (an exported one has at most 12)."""
SHEET_MAX_CELL_CHARS = 1 * MIB
"""Characters in one cell: room for a prompt of JSONL_MAX_LINE_BYTES."""


def human_size(n: int) -> str:
    """Bytes as people read them: `1 MiB`, `64 MiB`, `1.5 GiB`."""
    for unit, scale in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"
