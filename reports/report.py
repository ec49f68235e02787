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

from collections.abc import Callable
from concurrent.futures import BrokenExecutor, CancelledError, Executor, Future
from pathlib import Path
from typing import TypeVar

from reachplan.reports.excel import render_workbook
from reachplan.reports.html import render_html
from reachplan.reports.plan_files import write_text_atomic
from reachplan.reports.report_data import ReportData
from reachplan.reports.tables import render_report_json, render_table_csv

__all__ = ["write_report"]

_T = TypeVar("_T")


def _submitted(
    pool: Executor | None, render: Callable[[ReportData], _T], data: ReportData
) -> Future[_T] | None:
    """``render(data)`` sent to ``pool``; ``None`` without one, or when it is shut down."""
    if pool is None:
        return None
    try:
        return pool.submit(render, data)
    except RuntimeError:  # shut down (or broken): render here
        return None


def _result(
    future: Future[_T] | None, render: Callable[[ReportData], _T], data: ReportData
) -> _T:
    """What the pool rendered; rendered here when there is no pool or the pool broke.

    An error of the rendering itself is raised as it would be without a pool.
    """
    if future is not None:
        try:
            return future.result()
        except (BrokenExecutor, CancelledError):
            pass  # a worker died, or the pool was shut down with its queue cancelled
    return render(data)


def write_report(
    data: ReportData,
    out_dir: Path,
    png: bool = False,
    hxl: bool = True,
    *,
    pool: Executor | None = None,
) -> list[Path]:
    """Write the report's files into ``out_dir``; return the paths written.

    Every file is rendered before the first is written, so a rendering that fails
    writes nothing; each file is then written atomically.

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
    pool
        Where to render the workbook and the JSON document (two tasks,
        :func:`reports.excel.render_workbook` and
        :func:`reports.tables.render_report_json`, ``data`` pickled to each) while this
        process renders the page and the CSV tables; for example the command's worker
        pool. ``None`` renders everything here. The
        files are the same either way. A pool that is shut down or broken (a worker
        died, :class:`concurrent.futures.BrokenExecutor`; the task cancelled) is passed
        over and the rendering done here; an error of the rendering
        itself is raised here as without a pool.
    """
    workbook_task = _submitted(pool, render_workbook, data)
    document_task = _submitted(pool, render_report_json, data)
    try:
        html = render_html(data)
        tables = [
            (out_dir / "tables" / f"{name}.csv", render_table_csv(frame, hxl=hxl))
            for name, frame in data.tables().items()
        ]
        images = {}
        if png:
            from reachplan.reports.png import render_pngs

            images = render_pngs(data)
    except BaseException:
        for task in (workbook_task, document_task):
            if task is not None:
                task.cancel()
        raise
    workbook = _result(workbook_task, render_workbook, data)
    document = _result(document_task, render_report_json, data)
    written: list[tuple[Path, str | bytes]] = [
        (out_dir / "report.html", html),
        (out_dir / "report.xlsx", workbook),
        (out_dir / "report.json", document),
        *tables,
        *((out_dir / "png" / name, image) for name, image in images.items()),
    ]
    for path, content in written:
        write_text_atomic(path, content)
    return [path for path, _ in written]
