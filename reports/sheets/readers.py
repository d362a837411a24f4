"""Filled rater files read back as rows of text by column name, with spreadsheet row numbers.

A rater file is untrusted: its size, an XLSX archive's size once uncompressed, its rows, columns
and cells are bounded (`harness.common.limits.SHEET_*`, `XLSX_*`) before they are held in memory.
"""
from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from harness.common import limits
from harness.common.errors import HarnessError
from harness.common.limits import human_size

from .formulas import restore
from .writers import XLSX_SHEET


@dataclass
class Table:
    path: Path
    columns: dict[str, str] = field(default_factory=dict)
    """Column name (normalised) → its letter, as a spreadsheet shows it."""
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    """(row number as a spreadsheet shows it, cells by column name); blank rows are left out."""

    def where(self, row: int | None = None, column: str | None = None) -> str:
        """`file: row 7, column 'score' (K)`: what a person needs to find the cell."""
        parts = [] if row is None else [f"row {row}"]
        if column is not None:
            letter = self.columns.get(column)
            parts.append(f"column '{column}'" + (f" ({letter})" if letter else ""))
        return f"{self.path}: {', '.join(parts)}" if parts else str(self.path)


def read_table(path: str | Path, verbatim: Sequence[str] = ()) -> Table:
    """A filled CSV or XLSX rater file as rows of text by column name, within the sheet limits.

    Cells are stripped of surrounding white space, except in the `verbatim` columns (kept as typed)."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError("file not found", str(path))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        records = _csv_records(path)
    elif suffix == ".xlsx":
        records = _xlsx_records(path)
    elif suffix in (".html", ".htm"):
        raise HarnessError("this is the form itself; import the CSV its 'Download my ratings' button saves", str(path))
    else:
        raise HarnessError(f"unsupported file type {suffix or '(none)'}; import .csv or .xlsx", str(path))
    return _table(path, records, verbatim)


def check_file_size(path: Path) -> None:
    """Refuse a rater file larger than `limits.SHEET_MAX_FILE_BYTES` before any of it is read."""
    size = path.stat().st_size
    if size > limits.SHEET_MAX_FILE_BYTES:
        raise HarnessError(f"file is {human_size(size)}, over the limit of {human_size(limits.SHEET_MAX_FILE_BYTES)} "
                           "for a rater file (SHEET_MAX_FILE_BYTES)", str(path))


def _csv_records(path: Path) -> list[list[str]]:
    check_file_size(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise HarnessError(f"not UTF-8 text (byte {e.start}); save it as 'CSV UTF-8'", str(path)) from None
    first = text.split("\n", 1)[0]
    # Spreadsheets in many locales save CSV with ';' (or tabs); the header line tells which.
    delimiter = max((",", ";", "\t"), key=first.count)
    records: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    before = csv.field_size_limit(limits.SHEET_MAX_CELL_CHARS)  # the module-wide default is 128 KiB
    try:
        for record in reader:
            records.append([restore(cell) for cell in _bounded_row(path, len(records) + 1, record)])
    except csv.Error as e:
        if "field limit" in str(e):
            limit = limits.SHEET_MAX_CELL_CHARS
            raise HarnessError(f"row {len(records) + 1}: a cell is longer than the limit of {limit:,} characters "
                               "(SHEET_MAX_CELL_CHARS)", str(path)) from None
        raise HarnessError(f"malformed CSV (line {reader.line_num}): {e}", str(path)) from None
    finally:
        csv.field_size_limit(before)
    return records


def _xlsx_records(path: Path) -> list[list[str]]:
    check_file_size(path)
    _check_archive(path)
    try:
        # Formulas are read as their text ('=1+1'), not as the value a spreadsheet cached for them: like a
        # formula in a CSV cell, they are what the rater typed, and a formula is not a score.
        wb = load_workbook(path, read_only=True, data_only=False)
    except Exception as e:  # openpyxl raises zip, XML and key errors alike for a damaged workbook
        raise HarnessError(f"not a readable XLSX workbook ({type(e).__name__})", str(path)) from None
    try:
        ws = wb[XLSX_SHEET] if XLSX_SHEET in wb.sheetnames else wb.worksheets[0]
        ws.reset_dimensions()  # the size a sheet claims is not trusted: rows are bounded as they are read
        records: list[list[str]] = []
        for row in ws.iter_rows(values_only=True):
            records.append([_cell_text(v) for v in _bounded_row(path, len(records) + 1, row)])
        return records
    except HarnessError:
        raise
    except Exception as e:  # damaged XML shows only once the rows are parsed
        raise HarnessError(f"not a readable XLSX workbook ({type(e).__name__})", str(path)) from None
    finally:
        wb.close()


def _check_archive(path: Path) -> None:
    """Refuse an XLSX whose members would expand past the limits, before any of it is decompressed.

    zipfile never returns more than a member's declared size (and fails on a CRC mismatch), so
    adding up the declared sizes bounds what openpyxl can make of the archive.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as e:
        raise HarnessError(f"not a readable XLSX workbook ({type(e).__name__})", str(path)) from None
    if len(members) > limits.XLSX_MAX_MEMBERS:
        raise HarnessError(f"the XLSX archive holds {len(members):,} files, over the limit of "
                           f"{limits.XLSX_MAX_MEMBERS:,} (XLSX_MAX_MEMBERS)", str(path))
    total = sum(m.file_size for m in members)
    if total > limits.XLSX_MAX_UNCOMPRESSED_BYTES:
        raise HarnessError(f"the XLSX archive expands to {human_size(total)}, over the limit of "
                           f"{human_size(limits.XLSX_MAX_UNCOMPRESSED_BYTES)} (XLSX_MAX_UNCOMPRESSED_BYTES)", str(path))


def _bounded_row(path: Path, n: int, row: Sequence) -> Sequence:
    """Row `n` of a sheet, refused past the row, column or cell limits; empty cells past the last column dropped."""
    if n > limits.SHEET_MAX_ROWS:
        raise HarnessError(f"more than the limit of {limits.SHEET_MAX_ROWS:,} rows (SHEET_MAX_ROWS)", str(path))
    width = limits.SHEET_MAX_COLUMNS
    if len(row) > width:
        if any(cell not in (None, "") for cell in row[width:]):
            raise HarnessError(f"row {n}: more than the limit of {width} columns (SHEET_MAX_COLUMNS)", str(path))
        row = row[:width]
    for i, cell in enumerate(row):
        if isinstance(cell, str) and len(cell) > limits.SHEET_MAX_CELL_CHARS:
            raise HarnessError(f"row {n}, column {get_column_letter(i + 1)}: a cell is longer than the limit of "
                               f"{limits.SHEET_MAX_CELL_CHARS:,} characters (SHEET_MAX_CELL_CHARS)", str(path))
    return row


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a score typed into Excel comes back as 4.0
    return str(value)


def _table(path: Path, records: list[list[str]], verbatim: Sequence[str] = ()) -> Table:
    numbered = [(n, r) for n, r in enumerate(records, 1) if any(c.strip() for c in r)]
    if not numbered:
        raise HarnessError("empty file: no header row and no ratings", str(path))
    (header_row, header), body = numbered[0], numbered[1:]
    table = Table(path)
    names: list[str | None] = []
    for i, cell in enumerate(header):
        name = "_".join(cell.strip().lower().split()) or None
        if name in table.columns:
            raise HarnessError(f"column '{name}' appears twice in the header", table.where(header_row))
        if name:
            table.columns[name] = get_column_letter(i + 1)
        names.append(name)
    for n, record in body:
        cells = (record[i] if i < len(record) else "" for i in range(len(names)))
        table.rows.append((n, {name: cell if name in verbatim else cell.strip()
                               for name, cell in zip(names, cells) if name}))
    return table
