"""Editable plan templates: one CSV per table plus one .xlsx workbook with an instructions sheet.

Every text cell is written as text (``write_string``), so a name beginning with
``=`` never becomes a formula; numbers are written as numbers.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import xlsxwriter

from reachplan.model.tables import TABLES, TABLES_BY_NAME
from reachplan.reports.plan_files import write_plan_tables, write_text_atomic

INSTRUCTIONS = """How to fill this plan
Each sheet (or CSV file of the same name) is one table. Keep the header row; add one row per record.
Required tables: settings, locations, sectors, requirements, populations. The others are optional;
every table is listed below with its columns and an example row.
Money is in US dollars, without separators or currency signs. Years are calendar years (2024).
A value that contains a comma goes in one cell (in a CSV file: in double quotes).
Codes must match across tables: every location_code, sector_code and objective used in
'requirements' must be listed in 'locations', 'sectors' and 'objectives'.
Strategic objectives are optional: leave the objective column of 'requirements' blank in every row
(and the 'objectives' sheet empty) and the plan has one implicit objective, 'ALL'.
Locations are ISO 3166 alpha-3 codes for countries; a province or district is kind 'admin1' or
'admin2' with its OCHA P-code (UA14, starting with the country's ISO alpha-2 code) and its parent
in parent_code (the country for admin1, the admin1 for admin2); a non-country line (regional
support) uses a code from XAA-XZZ with kind 'regional'.
'populations' rows may carry a sector_code: a cluster's people in need, targeted or reached;
blank = the whole location (unique people). A cluster's people in need may not exceed its
location's.
Unit costs: fill 'unit_costs', or give people targeted in 'populations' and let the tool
calibrate them (reachplan plan calibrate FILE writes them). A plan with neither is refused.
'origin' says whether a number is taken from the plan document ('source') or derived by a stated
method ('derived'); leave it empty for 'source'.
Headers may also be written as HDX HAPI names (location_code, sector_code, requirements_usd,
population_status, population) or HXL hashtags (#country+code, #sector+code,
#value+funding+required+usd, #inneed, #targeted) in a row under the header.
Check the filled plan with:  reachplan validate FILE.xlsx   (or the folder of CSV files)
"""


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def render_workbook(tables: Mapping[str, pd.DataFrame]) -> bytes:
    """The plan as an .xlsx workbook: an 'instructions' sheet, then one sheet per table."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(
        buf,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    bold = wb.add_format({"bold": True, "bg_color": "#DDE7F0", "border": 1})
    money = wb.add_format({"num_format": "#,##0.00"})
    count = wb.add_format({"num_format": "#,##0"})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    ws = wb.add_worksheet("instructions")
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 28)
    ws.set_column(2, 2, 90)
    row = 0
    for line in INSTRUCTIONS.splitlines():
        ws.write_string(row, 0, line, bold if row == 0 else None)
        row += 1
    row += 1
    for header in ("table / column", "required", "meaning"):
        ws.write_string(row, ("table / column", "required", "meaning").index(header), header, bold)
    row += 1
    for spec in TABLES:
        ws.write_string(row, 0, spec.name, bold)
        ws.write_string(row, 1, "required table" if spec.required else "optional table")
        ws.write_string(row, 2, spec.description, wrap)
        row += 1
        if spec.example:
            header, values = spec.example_csv().split("\n")
            ws.write_string(row, 0, "  example")
            ws.write_string(row, 1, header)
            ws.write_string(row, 2, values, wrap)
            row += 1
        for col in spec.columns:
            ws.write_string(row, 0, f"  {col.name}")
            ws.write_string(row, 1, "required" if col.required else "optional")
            extra = f" (also: {', '.join(col.aliases + col.hxl)})" if col.aliases or col.hxl else ""
            ws.write_string(row, 2, col.description + extra, wrap)
            row += 1
    for spec in TABLES:
        if spec.name not in tables:
            continue
        frame = tables[spec.name]
        cols = [c for c in spec.column_names if c in frame.columns]
        sheet = wb.add_worksheet(spec.name)
        sheet.freeze_panes(1, 0)
        for j, header in enumerate(cols):
            sheet.write_string(0, j, header, bold)
            width = max([len(header)] + [len(str(v)) for v in frame[header].head(200)])
            sheet.set_column(j, j, min(max(10, width + 2), 60))
        for i, rec in enumerate(frame[cols].itertuples(index=False), start=1):
            for j, value in enumerate(rec):
                kind = TABLES_BY_NAME[spec.name].column(cols[j]).kind
                if value is None or value is pd.NA or (isinstance(value, float) and value != value):
                    continue
                if _is_number(value) and kind in ("money", "number", "int", "year"):
                    fmt = money if kind == "money" else (count if kind in ("int", "year") else None)
                    if kind == "year":
                        fmt = None
                    sheet.write_number(i, j, float(value), fmt)
                else:
                    sheet.write_string(i, j, str(value))
    wb.close()
    return buf.getvalue()


def write_template(
    tables: Mapping[str, pd.DataFrame], directory: Path, workbook_name: str = "plan.xlsx"
) -> list[Path]:
    """Write the CSV files and the workbook into ``directory``; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = write_plan_tables(tables, directory, compact=False)
    path = directory / workbook_name
    write_text_atomic(path, render_workbook(tables))
    return [*written, path]


def empty_tables() -> dict[str, pd.DataFrame]:
    """Header-only tables for every table of a plan."""
    return {spec.name: pd.DataFrame(columns=list(spec.column_names)) for spec in TABLES}
