"""Reading plans from files: a directory of CSV files or one .xlsx workbook.

This is the one place plan files are opened. Reading keeps every cell as text
and remembers the row it came from, so that validation can name file, row and
column for every problem.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from reachplan.model.errors import ReachplanError
from reachplan.model.plan import Plan
from reachplan.model.tables import TABLES_BY_NAME, unescape_csv_cell
from reachplan.model.validation import RawTable, ValidationResult, validate_tables

DEFAULT_PLAN_DIR = Path(__file__).resolve().parent / "default_plan"
"""The shipped default plan: IOM Strategic Response Plan, Ukraine and Neighbouring Countries."""

INSTRUCTION_SHEETS = {"instructions", "readme", "read me", "about"}


class PlanReadError(ReachplanError):
    """A plan file cannot be read at all (missing, not a table, corrupted)."""


@dataclass(frozen=True, eq=False)
class UsablePlan:
    """A plan that passed validation: unlike :class:`LoadedPlan`, ``plan`` is always there.

    Attributes
    ----------
    validation
        The validation result (no errors; its warnings travel into reports).
    plan
        The plan built from the validated tables.
    path
        The directory or workbook it was read from.
    """

    validation: ValidationResult
    plan: Plan
    path: Path


@dataclass(frozen=True, eq=False)
class LoadedPlan:
    """Outcome of loading a plan: the validation result and, when valid, the plan."""

    validation: ValidationResult
    plan: Plan | None
    path: Path

    def usable(self) -> UsablePlan | None:
        """The plan as a :class:`UsablePlan`, or ``None`` when validation found errors."""
        if self.plan is None or not self.validation.ok:
            return None
        return UsablePlan(self.validation, self.plan, self.path)


def _is_hashtag_row(cells: list[str]) -> bool:
    filled = [c.strip() for c in cells if c.strip()]
    return bool(filled) and all(c.startswith("#") for c in filled)


def _last_filled(cells: tuple[str, ...] | list[str]) -> int:
    """Number of cells up to and including the last non-empty one."""
    filled = [i for i, c in enumerate(cells) if c.strip()]
    return filled[-1] + 1 if filled else 0


def _raw_from_rows(
    name: str, source: str, rows: list[list[str]], ragged: bool = False
) -> RawTable:
    """Split header, optional HXL hashtag row and data rows (row numbers from 1).

    With ``ragged`` (CSV) the number of fields of each row is kept, so that validation
    can report rows longer or shorter than the header. Without it (a worksheet) the
    header's width is kept, so that validation reports values in a column with no header.
    """
    numbered = [(i + 1, r) for i, r in enumerate(rows)]
    numbered = [(n, r) for n, r in numbered if any(c.strip() for c in r)]
    if not numbered:
        raise PlanReadError(f"{source}: the table is empty (no header row)")
    _, header = numbered[0]
    rest = numbered[1:]
    hashtags: tuple[str, ...] | None = None
    if _is_hashtag_row(header) and rest and not _is_hashtag_row(rest[0][1]):
        hashtags, header_cells = tuple(header), tuple("" for _ in header)
    elif rest and _is_hashtag_row(rest[0][1]):
        hashtags, header_cells = tuple(rest[0][1]), tuple(header)
        rest = rest[1:]
    else:
        header_cells = tuple(header)
    header_length = max(len(header_cells), len(hashtags or ()))
    width = max([len(header_cells)] + [len(r) for _, r in rest])
    header_cells = header_cells + ("",) * (width - len(header_cells))
    if hashtags is not None:
        hashtags = hashtags + ("",) * (width - len(hashtags))
    data = tuple(tuple(r) + ("",) * (width - len(r)) for _, r in rest)
    counts = None
    header_fields = max(_last_filled(header_cells), _last_filled(hashtags or ()))
    if ragged:
        counts = tuple(len(r) for _, r in rest)
    return RawTable(
        name,
        source,
        header_cells,
        hashtags,
        data,
        tuple(n for n, _ in rest),
        counts,
        header_fields,
        header_length if ragged else None,
    )


def _read_csv(path: Path, label: str) -> RawTable:
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
        if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise PlanReadError(
                f"{label}: UTF-16 text; save it as 'CSV UTF-8' (comma delimited)"
            )
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, strict=True)
            try:
                # a cell the tool wrote with a protective quote reads back as it was
                rows = [[unescape_csv_cell(cell) for cell in row] for row in reader]
            except csv.Error as exc:
                raise PlanReadError(
                    f"{label}, row {reader.line_num}: malformed CSV ({exc}; a value with a "
                    'quote must be wholly in double quotes, a quote inside doubled: "a ""b"" c")'
                ) from exc
    except UnicodeDecodeError as exc:
        raise PlanReadError(
            f"{label}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as "
            "'CSV UTF-8' (comma delimited)"
        ) from exc
    except csv.Error as exc:
        raise PlanReadError(f"{label}: malformed CSV ({exc})") from exc
    except OSError as exc:
        raise PlanReadError(f"{label}: cannot read ({exc.strerror})") from exc
    return _raw_from_rows(path.stem, label, rows, ragged=True)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _read_workbook(path: Path) -> dict[str, RawTable]:
    import openpyxl  # local import: only workbook users pay for it

    # A damaged workbook can fail anywhere inside openpyxl, zipfile, zlib or the XML parser,
    # when opening or (read-only mode is lazy) while reading a sheet, with exceptions none of
    # which is ours to explain further: each is reported as an unreadable workbook.
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except OSError as exc:
        raise PlanReadError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except Exception as exc:  # noqa: BLE001 (see above)
        raise PlanReadError(f"{path}: not a readable .xlsx workbook ({_reason(exc)})") from exc
    tables: dict[str, RawTable] = {}
    try:
        for ws in wb.worksheets:
            name = ws.title.strip()
            if name.lower() in INSTRUCTION_SHEETS:
                continue
            try:
                rows = [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
            except Exception as exc:  # noqa: BLE001 (see above)
                raise PlanReadError(
                    f"{path.name} [sheet {name}]: cannot be read ({_reason(exc)})"
                ) from exc
            if name.lower() in tables:
                raise PlanReadError(
                    f"{path}: two sheets hold the table '{name.lower()}' (sheet names are "
                    "matched without regard to case); keep one"
                )
            tables[name.lower()] = _raw_from_rows(name.lower(), f"{path.name} [sheet {name}]", rows)
    finally:
        wb.close()
    return tables


def _reason(exc: BaseException) -> str:
    """An exception as one short phrase: its message, or its type when it has none."""
    text = " ".join(str(exc).split())
    return text[:200] if text else type(exc).__name__


def read_raw_tables(path: Path) -> dict[str, RawTable]:
    """Read every table of a plan as text.

    Parameters
    ----------
    path
        A directory holding ``<table>.csv`` files, or an ``.xlsx`` workbook with one
        sheet per table (an ``instructions`` sheet is skipped).

    Raises
    ------
    PlanReadError
        When the path does not exist or a file cannot be read as a table.
    """
    if not path.exists():
        raise PlanReadError(f"{path}: no such file or directory")
    if path.is_dir():
        files = sorted(path.glob("*.csv"))
        if not files:
            raise PlanReadError(
                f"{path}: no CSV tables here (expected {', '.join(TABLES_BY_NAME)} as .csv)"
            )
        tables: dict[str, RawTable] = {}
        for f in files:
            name = f.stem.lower()
            if name in tables:
                raise PlanReadError(
                    f"{f}: another file in {path} holds the table '{name}' (file names are "
                    "matched without regard to case); keep one"
                )
            tables[name] = _read_csv(f, str(f))
        return tables
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_workbook(path)
    raise PlanReadError(f"{path}: a plan is a directory of CSV files or an .xlsx workbook")


def load_plan(path: Path | str | None = None) -> LoadedPlan:
    """Read and validate a plan; build it when there is no error.

    Parameters
    ----------
    path
        Plan directory or workbook; ``None`` for the shipped default plan.

    Raises
    ------
    PlanReadError
        When the files cannot be read at all (validation problems do not raise:
        they are in ``LoadedPlan.validation``).
    """
    p = DEFAULT_PLAN_DIR if path is None else Path(path)
    raw = read_raw_tables(p)
    result = validate_tables(raw)
    plan = Plan.from_tables(result.tables, source=str(p)) if result.ok else None
    return LoadedPlan(result, plan, p)
