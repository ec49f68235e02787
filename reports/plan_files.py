"""Writing files atomically, and CSV cells that a spreadsheet cannot run.

:func:`write_text_atomic` is the one way the tool writes a file: the bytes go to a
temporary file in the target directory, are flushed to disk (``fsync``), and the
file is moved into place with ``os.replace``; on POSIX the directory is then
synced too, so that the rename itself survives a crash or power loss. An
interrupted write never leaves a half-written or empty file, and an existing file
is only replaced by a complete one.

:func:`csv_cell` is the one way a CSV cell becomes text, used by every CSV writer
(plan tables, report tables, allocation and frontier tables, templates, simulated
needs). It applies the OWASP rule against CSV (formula) injection: text that
begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
single quote, so that a spreadsheet shows it as text instead of running it as a
formula. Numbers stay numbers (``-3.5`` is written as ``-3.5``), and so does text
that is a plain number (``"-3.5"``); only non-numeric text is escaped. Reading such
a file back, strip the quote with :func:`unescape_csv_cell`.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from reachplan.model.tables import (
    FORMULA_PREFIXES,
    NO_OBJECTIVE,
    TABLES,
    TABLES_BY_NAME,
    escape_formula,
    unescape_csv_cell,
)

__all__ = [
    "FORMULA_PREFIXES",
    "csv_cell",
    "csv_text",
    "escape_formula",
    "escape_frame",
    "format_value",
    "render_csv",
    "unescape_csv_cell",
    "write_plan_tables",
    "without_blank_optional",
    "write_text_atomic",
]

def csv_cell(value: object) -> str:
    """Text of one CSV cell: :func:`format_value`, and text escaped by :func:`escape_formula`.

    Booleans are ``true``/``false``; numpy scalars are written as Python numbers.
    """
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, np.integer):
        return str(int(value))
    if isinstance(value, np.floating):
        return format_value(float(value))
    if isinstance(value, int | float):
        return format_value(value)
    return escape_formula(format_value(value))


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names are escaped for CSV.

    For writers that use :meth:`pandas.DataFrame.to_csv` (number formats kept):
    numeric columns are untouched, text goes through :func:`escape_formula`.
    """
    out = frame.copy()
    for col in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col])):
            out[col] = out[col].map(lambda v: escape_formula(v) if isinstance(v, str) else v)
    out.columns = [escape_formula(str(c)) for c in out.columns]
    return out


def format_value(value: object) -> str:
    """Text for one cell: whole numbers without '.0', other floats in shortest round-trip form."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if value is pd.NA:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def csv_text(rows: Iterable[Sequence[str]]) -> str:
    """CSV text of rows of cell text (already made by :func:`csv_cell`), ``\\n`` line ends.

    Python's CSV writer does not quote a cell holding a carriage return when lines end
    in ``\\n``, and readers then split the row there; a row with such a cell is written
    with every cell quoted. The rows are written in one call when no cell holds a
    carriage return (the writer itself writes none), row by row otherwise.
    """
    rows = rows if isinstance(rows, list) else list(rows)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    text = buf.getvalue()
    if "\r" not in text:  # the writer adds none: no cell holds one
        return text
    buf = io.StringIO()
    plain = csv.writer(buf, lineterminator="\n")
    quoted = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for row in rows:
        (quoted if any("\r" in cell for cell in row) else plain).writerow(row)
    return buf.getvalue()


def render_csv(frame: pd.DataFrame, hxl: bool = False, name: str | None = None) -> str:
    """CSV text of a table; with ``hxl`` a row of HXL hashtags follows the header.

    Cells are written by :func:`csv_cell` (formula-leading text escaped).
    """
    return csv_text(_table_rows(frame, hxl, name))


def _table_rows(frame: pd.DataFrame, hxl: bool, name: str | None) -> Iterator[list[str]]:
    yield [escape_formula(str(c)) for c in frame.columns]
    if hxl and name in TABLES_BY_NAME:
        spec = TABLES_BY_NAME[name]
        tags = []
        for col in frame.columns:
            try:
                c = spec.column(col)
                tags.append(c.hxl[0] if c.hxl else "")
            except KeyError:
                tags.append("")
        yield tags
    for row in frame.itertuples(index=False):
        yield [csv_cell(v) for v in row]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX only)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems do not sync directories; the file itself is synced
    finally:
        os.close(fd)


def write_text_atomic(path: Path, text: str | bytes) -> None:
    """Write a file completely or not at all.

    Text is written as UTF-8 (no newline translation). The data goes to a temporary
    file beside ``path``, is flushed and ``fsync``-ed, then moved into place with
    ``os.replace``; on POSIX the directory is synced after the rename. The one atomic
    writer of the project: every file the tool writes goes through it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8") if isinstance(text, str) else text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give files the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


COMPACT_OPTIONAL = {"populations": ("sector_code",), "locations": ("parent_code",)}
"""Optional columns every canonical table holds, left out of a written file when every row
leaves them blank (a plan without sector figures or sub-national areas reads as before)."""


def without_blank_optional(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without the :data:`COMPACT_OPTIONAL` columns that are blank in every row."""
    drop = [
        column
        for column in COMPACT_OPTIONAL.get(name, ())
        if column in frame.columns
        and len(frame)
        and (frame[column].fillna("").astype(str).str.strip() == "").all()
    ]
    return frame.drop(columns=drop) if drop else frame


def write_plan_tables(
    tables: Mapping[str, pd.DataFrame], directory: Path, compact: bool = True
) -> list[Path]:
    """Write each table as ``<name>.csv`` in ``directory`` (canonical columns, TABLES order).

    With ``compact`` (the default), what the plan does not state is not written: the one
    implicit objective of a plan without strategic objectives (no ``objectives.csv``, no
    ``objective`` column in ``requirements.csv``), and a ``sector_code`` / ``parent_code``
    column blank in every row. Reading the files back gives the same plan. Templates pass
    ``compact=False`` to show every column.

    Returns the paths written.
    """
    written = []
    implicit = False
    objectives = tables.get("objectives")
    if compact and objectives is not None:
        implicit = list(objectives["objective_code"]) == [NO_OBJECTIVE]
    for spec in TABLES:
        if spec.name not in tables or (implicit and spec.name == "objectives"):
            continue
        frame = tables[spec.name]
        cols = [c for c in spec.column_names if c in frame.columns]
        if compact:
            kept = set(without_blank_optional(spec.name, frame).columns)
            if implicit and spec.name == "requirements":
                kept.discard("objective")
            cols = [c for c in cols if c in kept]
        path = directory / f"{spec.name}.csv"
        write_text_atomic(path, render_csv(frame[cols]))
        written.append(path)
    return written
