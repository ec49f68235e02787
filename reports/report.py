"""Writing a scenario report: the HTML page, the workbook, the CSV/JSON tables, PNG charts.

Every file is written to a temporary file beside it and moved into place
(:func:`reports.plan_files.write_text_atomic`), so a report file that exists is
complete. Layout of ``out_dir``::

    report.html        self-contained page (opens offline)
    report.xlsx        workbook: assumptions sheet, one sheet per table, native charts
    report.json        every table, HDX HAPI-style names, with the HXL hashtag of each column
    tables/<name>.csv  one CSV per table, with an HXL hashtag row under the header
    png/<name>.png     static charts (with ``png=True``)

The report's data is computed before (:func:`workflow.report_data`); this module only
renders and writes it.
"""

from __future__ import annotations

from pathlib import Path

from reachplan.reports.excel import render_workbook
from reachplan.reports.html import render_html
from reachplan.reports.plan_files import write_text_atomic
from reachplan.reports.report_data import ReportData
from reachplan.reports.tables import render_report_json, render_table_csv

__all__ = ["write_report"]


def write_report(
    data: ReportData, out_dir: Path, png: bool = False, hxl: bool = True
) -> list[Path]:
    """Write the report's files into ``out_dir``; return the paths written.

    Parameters
    ----------
    data
        The report.
    out_dir
        Directory (created when missing).
    png
        Also write the static charts under ``png/``.
    hxl
        Put an HXL hashtag row under each CSV header.
    """
    written: list[tuple[Path, str | bytes]] = [
        (out_dir / "report.html", render_html(data)),
        (out_dir / "report.xlsx", render_workbook(data)),
        (out_dir / "report.json", render_report_json(data)),
    ]
    written += [
        (out_dir / "tables" / f"{name}.csv", render_table_csv(frame, hxl=hxl))
        for name, frame in data.tables().items()
    ]
    if png:
        from reachplan.reports.png import render_pngs

        written += [(out_dir / "png" / name, image) for name, image in render_pngs(data).items()]
    for path, content in written:
        write_text_atomic(path, content)
    return [path for path, _ in written]
