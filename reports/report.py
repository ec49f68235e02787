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

from concurrent.futures import BrokenExecutor, CancelledError, Executor, Future
from pathlib import Path

from reachplan.reports.excel import render_workbook
from reachplan.reports.html import render_html
from reachplan.reports.plan_files import write_text_atomic
from reachplan.reports.report_data import ReportData
from reachplan.reports.tables import render_report_json, render_table_csv

__all__ = ["render_in_pool", "write_report"]


def render_in_pool(data: ReportData) -> tuple[bytes, str]:
    """The workbook and the JSON document of ``data``: the renderings a pool is given.

    A top-level function, so a process pool can run it (``data`` is pickled to it).
    """
    return render_workbook(data), render_report_json(data)


def _submitted(pool: Executor | None, data: ReportData) -> Future[tuple[bytes, str]] | None:
    """:func:`render_in_pool` sent to ``pool``; ``None`` without one, or when it is shut down."""
    if pool is None:
        return None
    try:
        return pool.submit(render_in_pool, data)
    except RuntimeError:  # shut down (or broken): render here
        return None


def _result(future: Future[tuple[bytes, str]] | None, data: ReportData) -> tuple[bytes, str]:
    """What the pool rendered; rendered here when there is no pool or the pool broke.

    An error of the rendering itself is raised as it would be without a pool.
    """
    if future is not None:
        try:
            return future.result()
        except (BrokenExecutor, CancelledError):
            pass  # a worker died, or the pool was shut down with its queue cancelled
    return render_in_pool(data)


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
        Where to render the workbook and the JSON document (:func:`render_in_pool`,
        ``data`` pickled to it) while this process renders the page and the CSV tables;
        for example the command's worker pool. ``None`` renders everything here. The
        files are the same either way. A pool that is shut down or broken (a worker
        died, :class:`concurrent.futures.BrokenExecutor`; the task cancelled) is passed
        over and the rendering done here; an error of the rendering
        itself is raised here as without a pool.
    """
    future = _submitted(pool, data)
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
        if future is not None:
            future.cancel()
        raise
    workbook, document = _result(future, data)
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
