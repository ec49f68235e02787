"""Writing a scenario report: the HTML page, the workbook, the CSV/JSON tables, PNG charts.

Every file is written to a temporary file beside it and moved into place
(:func:`reports.plan_files.write_text_atomic`), so a report file that exists is
complete. Layout of ``out_dir``::

    report.html        self-contained page (opens offline)
    report.xlsx        workbook: assumptions sheet, one sheet per table, native charts
    report.json        every table, HDX HAPI-style names, with the HXL hashtag of each column
    tables/<name>.csv  one CSV per table, with an HXL hashtag row under the header
    png/<name>.png     static charts (with ``png=True``)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from model.simulation import InitialState
from reports.excel import render_workbook
from reports.html import render_html
from reports.plan_files import write_text_atomic
from reports.report_data import ReportData, collect
from reports.tables import render_report_json, render_table_csv
from scenarios.plan_io import LoadedPlan
from solver.batch import ScenarioRun

__all__ = ["files_sha256", "report_for_runs", "write_report"]


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
        from reports.png import render_pngs

        written += [(out_dir / "png" / name, image) for name, image in render_pngs(data).items()]
    for path, content in written:
        write_text_atomic(path, content)
    return [path for path, _ in written]


def files_sha256(path: Path) -> str:
    """SHA-256 over a plan's files as read: a workbook, or a directory's CSV files.

    Each file contributes its name and its bytes, in name order, so renaming or
    editing any table changes the hash.
    """
    files: Iterable[Path] = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode())
        digest.update(b"\0")
        digest.update(f.read_bytes())
    return digest.hexdigest()


def report_for_runs(
    runs: Sequence[ScenarioRun],
    loaded: LoadedPlan,
    initial: InitialState,
    out_dir: Path,
    *,
    png: bool = False,
    ladder_step: float = 0.1,
    hxl: bool = True,
) -> list[Path]:
    """Compute what the runs do not carry, then write the report; return the paths written.

    Parameters
    ----------
    runs
        Finished runs, in report order, all on ``loaded``'s plan.
    loaded
        The plan as loaded (its validation warnings and files go into the report).
    initial
        The simulation's initial state the runs used.
    out_dir
        Where the report's files go.
    png
        Also write the static charts.
    ladder_step
        Step of the funding ladder (share of the appeal).
    hxl
        Put a row of HXL hashtags under each CSV table's header.

    Raises
    ------
    solver.result.InfeasibleScenarioError
        When a scenario's rules cannot hold at the plan's figures.
    """
    if loaded.plan is None:
        raise ValueError(f"{loaded.path}: the plan has errors; it cannot be reported on")
    data = collect(
        runs,
        loaded.plan,
        initial,
        warnings=loaded.validation.warnings,
        plan_files_sha256=files_sha256(loaded.path),
        ladder_step=ladder_step,
    )
    return write_report(data, out_dir, png=png, hxl=hxl)
