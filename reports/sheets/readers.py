"""Filled rater files read back as rows of text by column name, with spreadsheet row numbers."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from harness.errors import HarnessError

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


def read_table(path: str | Path) -> Table:
    """A filled CSV or XLSX sheet as rows of text by column name."""
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
    return _table(path, records)


def _csv_records(path: Path) -> list[list[str]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise HarnessError(f"not UTF-8 text (byte {e.start}); save it as 'CSV UTF-8'", str(path)) from None
    first = text.split("\n", 1)[0]
    # Spreadsheets in many locales save CSV with ';' (or tabs); the header line tells which.
    delimiter = max((",", ";", "\t"), key=first.count)
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as e:
        raise HarnessError(f"malformed CSV: {e}", str(path)) from None


def _xlsx_records(path: Path) -> list[list[str]]:
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises zip, XML and key errors alike for a damaged workbook
        raise HarnessError(f"not a readable XLSX workbook ({type(e).__name__})", str(path)) from None
    try:
        ws = wb[XLSX_SHEET] if XLSX_SHEET in wb.sheetnames else wb.worksheets[0]
        return [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a score typed into Excel comes back as 4.0
    return str(value)


def _table(path: Path, records: list[list[str]]) -> Table:
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
        table.rows.append((n, {name: record[i].strip() if i < len(record) else ""
                               for i, name in enumerate(names) if name}))
    return table
