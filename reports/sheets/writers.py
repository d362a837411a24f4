"""Rater files in three formats with the same columns: CSV, XLSX and an offline HTML form."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from harness.common.files import write_text

from .build import Sheet
from .formulas import FORMULA_START, neutralise
from .layout import ANSWER, COLUMNS, PAIRWISE, PREFERENCES, SCORES

XLSX_SHEET = "ratings"
_WIDTHS = {"sheet_id": 14, "rater": 8, "item_id": 18, "suite": 14, "system": 7, "criterion": 13, "levels": 40,
           "prompt": 40, "reference": 30, "output": 50, "output_a": 45, "output_b": 45, "score": 7,
           "preference": 11, "comment": 30}
_XLSX_CELL_MAX = 32767
_env = Environment(loader=PackageLoader("reports.sheets", "templates"), autoescape=True, undefined=StrictUndefined,
                   trim_blocks=True, lstrip_blocks=True)


def columns(sheet: Sheet) -> list[str]:
    """The sheet's columns as raters see them (no reference column when the rubric hides it)."""
    return [c for c in COLUMNS[sheet.kind] if c != "reference" or sheet.show_reference]


def rater_rows(sheet: Sheet, rater: str) -> list[dict]:
    """The sheet's rows for one rater, holding only its columns."""
    cols = columns(sheet)
    return [{c: row.get(c, "") for c in cols} | {"rater": rater} for row in sheet.rows]


def write_csv(path: Path, sheet: Sheet, rater: str) -> None:
    """The sheet as UTF-8 CSV with a BOM, formula-like cells quoted."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns(sheet), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({c: neutralise(str(v)) for c, v in row.items()} for row in rater_rows(sheet, rater))
    # The BOM makes Excel read the file as UTF-8 instead of the locale's code page.
    write_text(path, "\ufeff" + buf.getvalue())


def write_xlsx(path: Path, sheet: Sheet, rater: str) -> None:
    """The sheet as an XLSX workbook: frozen header, drop-downs for answers, text cells only."""
    cols = columns(sheet)
    rows = rater_rows(sheet, rater)
    wb = Workbook()
    ws = wb.active
    ws.title = XLSX_SHEET
    wrap = Alignment(wrap_text=True, vertical="top")
    for c, name in enumerate(cols, 1):
        cell = ws.cell(row=1, column=c, value=name)
        cell.font = Font(bold=True)
        ws.column_dimensions[get_column_letter(c)].width = _WIDTHS.get(name, 15)
    for r, row in enumerate(rows, 2):
        for c, name in enumerate(cols, 1):
            cell = ws.cell(row=r, column=c, value=_xlsx_text(row[name]))
            cell.data_type = "s"  # model output starting with "=" stays text (an inline string), never a formula
            cell.alignment = wrap
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{len(rows) + 1}"
    answer = get_column_letter(cols.index(ANSWER[sheet.kind]) + 1)
    choices = PREFERENCES if sheet.kind == PAIRWISE else SCORES
    check = DataValidation(type="list", formula1='"' + ",".join(map(str, choices)) + '"', allow_blank=True,
                           showErrorMessage=True, errorTitle="Not an allowed answer",
                           error=f"Choose one of: {', '.join(map(str, choices))}")
    check.add(f"{answer}2:{answer}{max(len(rows), 1) + 1}")
    ws.add_data_validation(check)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    wb.save(tmp)
    tmp.replace(path)


def write_html(path: Path, sheet: Sheet, rater: str) -> None:
    """The sheet as an offline HTML form whose button saves the answers as CSV."""
    rows = rater_rows(sheet, rater)
    items: dict[str, dict] = {}
    for index, row in enumerate(rows):
        item = items.setdefault(row["item_id"], {**row, "criteria": []})
        if sheet.kind != PAIRWISE:
            criterion = next(c for c in sheet.rubrics[row["suite"]].criteria if c.name == row["criterion"])
            item["criteria"].append({"index": index, "criterion": criterion})
        else:
            item["index"] = index
    html = _env.get_template("form.html.j2").render(
        kind=sheet.kind, state=sheet.state, rater=rater, sheet_id=sheet.rows[0]["sheet_id"] if rows else "",
        columns=columns(sheet), rows=rows, items=list(items.values()), scores=SCORES, preferences=PREFERENCES,
        answer=ANSWER[sheet.kind], show_reference=sheet.show_reference,
        download_name=f"{path.stem}-ratings.csv", formula_start=FORMULA_START)
    write_text(path, html)


def _xlsx_text(value) -> str:
    """Text XLSX can hold: control characters spelled out, cells cut at Excel's limit."""
    text = ILLEGAL_CHARACTERS_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))
    return text if len(text) <= _XLSX_CELL_MAX else text[: _XLSX_CELL_MAX - 20] + " … [cut for Excel]"


WRITERS = {"csv": write_csv, "xlsx": write_xlsx, "html": write_html}
