"""Writing plan tables as CSV files, atomically.

Each file is written to a temporary file in the target directory and moved into
place with ``os.replace``, so an interrupted write never leaves a half-written
table and an existing file is only replaced by a complete one.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from model.tables import TABLES, TABLES_BY_NAME


def format_value(value: object) -> str:
    """Text for one cell: whole numbers without '.0', other floats in shortest round-trip form."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if value is pd.NA:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def render_csv(frame: pd.DataFrame, hxl: bool = False, name: str | None = None) -> str:
    """CSV text of a table; with ``hxl`` a row of HXL hashtags follows the header."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(frame.columns))
    if hxl and name in TABLES_BY_NAME:
        spec = TABLES_BY_NAME[name]
        tags = []
        for col in frame.columns:
            try:
                c = spec.column(col)
                tags.append(c.hxl[0] if c.hxl else "")
            except KeyError:
                tags.append("")
        writer.writerow(tags)
    for row in frame.itertuples(index=False):
        writer.writerow([format_value(v) for v in row])
    return buf.getvalue()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: Path, text: str | bytes) -> None:
    """Write a file completely or not at all (temp file + ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8") if isinstance(text, str) else text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give files the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_plan_tables(tables: Mapping[str, pd.DataFrame], directory: Path) -> list[Path]:
    """Write each table as ``<name>.csv`` in ``directory`` (canonical columns, TABLES order).

    Returns the paths written.
    """
    written = []
    for spec in TABLES:
        if spec.name not in tables:
            continue
        frame = tables[spec.name]
        cols = [c for c in spec.column_names if c in frame.columns]
        path = directory / f"{spec.name}.csv"
        write_text_atomic(path, render_csv(frame[cols]))
        written.append(path)
    return written
