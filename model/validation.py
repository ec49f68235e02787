"""Checking a plan's tables: every problem at once, each naming file, row and column.

The functions here are pure. :mod:`scenarios.plan_io` reads files into
:class:`RawTable` objects (all cells as text, with the row number each came
from); :func:`validate_tables` parses and checks them and returns the typed
tables together with every :class:`Problem` found.

What is refused, so that ``validate`` catches everything ``allocate`` would refuse:
numbers that read differently in another locale (:func:`parse_number`), values that are
not finite, magnitudes that cannot be real (the ``MAX_*``/``MIN_*`` bounds below, which
also keep the LP's coefficients in a range HiGHS handles), rows longer or shorter than
the header, settings out of their documented range (``model.tables.SETTING_RULES``), and
a plan whose unit costs cannot reach anyone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pycountry

from reachplan.model.plan import (
    PlanError,
    derive_location_populations,
    implicit_objective_table,
)
from reachplan.model.tables import (
    LOCATION_KINDS,
    NO_OBJECTIVE,
    ORIGINS,
    OUTPUTS,
    POPULATION_STATUSES,
    SECTOR_STATUSES,
    SETTING_RULES_BY_KEY,
    STATED_MEASURES,
    STATUS_ALIASES,
    TABLES,
    TABLES_BY_NAME,
    TIERS,
    WIDE_POPULATION_HXL,
    Column,
    TableSpec,
)

Severity = Literal["error", "warning"]

USER_ASSIGNED_CODE = re.compile(r"^(AA[A-Z]|Q[M-Z][A-Z]|X[A-Z]{2}|ZZ[A-Z])$")
"""ISO 3166-1 alpha-3 ranges reserved for user assignment (non-country lines)."""


# ---- magnitudes that can be real ---------------------------------------------------------------
# A value outside these bounds is an error naming file, row and column. The bounds are far
# outside anything a response plan states, and they keep the allocation LP's coefficients
# sane: solver.model.Units puts money in the power of ten nearest the mean requirement and
# people in the power of ten one money unit reaches at the median unit cost, so a reach
# coefficient is about median unit cost / (unit cost x cost factor). With unit costs
# within MAX_UNIT_COST_SPREAD of each other and cost factors in [MIN_COST_FACTOR,
# MAX_COST_FACTOR] every coefficient lies in [1e-8, 1e9], inside the range HiGHS keeps
# (it drops matrix values below 1e-9 and treats values above 1e15 as infinite); tiny unit
# costs or cost factors outside it made PuLP fail with an IndexError or the LP reach nobody.

MAX_REQUIREMENT_USD = 1e12
"""Largest requirement one row may state: one trillion US dollars.

The largest appeals ever made (all humanitarian plans of a year together) are under
$60 billion; a row above this is a unit or typing mistake (and sums of rows of 1e308
overflow to infinity).
"""

MAX_PEOPLE = 10_000_000_000
"""Largest number of people (or entities) a population row or a stated figure may give.

More than everyone alive (the world population is about 8.1 billion in 2024).
"""

MIN_UNIT_COST_USD = 0.01
"""Smallest unit cost: one US cent per person reached.

A line that reaches nobody directly (regional support) has no ``unit_costs`` row;
a unit cost of 0 would mean people reached for free.
"""

MAX_UNIT_COST_USD = 10_000_000.0
"""Largest unit cost: ten million US dollars per person reached."""

MAX_UNIT_COST_SPREAD = 1e6
"""Largest ratio between the plan's highest and lowest unit cost (see the LP units above)."""

MIN_COST_FACTOR = 0.01
"""Smallest cost factor of a tranche in ``cost_curve`` (the first is usually 1)."""

MAX_COST_FACTOR = 100.0
"""Largest cost factor of a tranche: a person costs at most 100 times the unit cost."""

MIN_WEIGHT = 0.001
"""Smallest non-zero priority weight (0 is allowed: people reached by the line do not count).

A weight below ``solver.model.TIE_BREAK`` times the mean would be indistinguishable from
the tie-break; the floor keeps every weight well above it. Not every weight may be 0.
"""

MAX_WEIGHT = 1000.0
"""Largest priority weight (weights are relative; 1 is the default)."""

MAX_TRANCHES = 100
"""Largest tranche number in ``cost_curve``."""

SEVERITY_PHASES = (1, 2, 3, 4, 5)
"""JIAF severity phases: 1 minimal, 2 stressed, 3 severe, 4 extreme, 5 catastrophic."""

INT_RANGES: dict[tuple[str, str], tuple[int, int, str]] = {
    ("cost_curve", "tranche"): (1, MAX_TRANCHES, "tranche"),
    ("objectives", "tier"): (min(TIERS), max(TIERS), "tier"),
    ("sectors", "tier"): (min(TIERS), max(TIERS), "tier"),
    ("severity", "severity"): (min(SEVERITY_PHASES), max(SEVERITY_PHASES), "severity phase"),
}
"""Inclusive range of each whole-number (``int``) column, per (table, column), with the word
used in messages. A column not listed accepts any whole number from 1 up."""

MAX_COST_INDEX_SPREAD = MAX_UNIT_COST_SPREAD
"""Largest ratio between the highest and the lowest ``sector_cost_index`` (unit costs are
calibrated in proportion to it, so it is bound like them)."""


def _out_of_range(table: str, column: str, value: float) -> str | None:
    """Why a parsed non-negative value cannot be real for this column, or ``None``."""
    if table == "requirements" and column == "requirements_usd":
        if value > MAX_REQUIREMENT_USD:
            return (
                f"requirement {value:,.6g} USD is above the largest a plan row can state "
                f"({MAX_REQUIREMENT_USD:,.0f} USD): check the number"
            )
    if table == "populations" and column == "population" and value > MAX_PEOPLE:
        return f"{value:,.6g} people is more than the world population (at most {MAX_PEOPLE:,})"
    if table == "unit_costs" and column == "unit_cost_usd":
        if value < MIN_UNIT_COST_USD:
            return (
                f"unit cost {value:.6g} USD per person is below the floor of "
                f"{MIN_UNIT_COST_USD:g} USD (a line that reaches nobody directly has no "
                "unit_costs row)"
            )
        if value > MAX_UNIT_COST_USD:
            return (
                f"unit cost {value:,.6g} USD per person is above {MAX_UNIT_COST_USD:,.0f} USD"
            )
    if table == "unit_costs" and column == "weight":
        if 0 < value < MIN_WEIGHT or value > MAX_WEIGHT:
            return (
                f"weight {value:.6g} is out of range: 0, or between {MIN_WEIGHT:g} and "
                f"{MAX_WEIGHT:g} (1 is the default)"
            )
    if table == "cost_curve" and column == "cost_factor":
        if not MIN_COST_FACTOR <= value <= MAX_COST_FACTOR:
            return (
                f"cost factor {value:.6g} is out of range: between {MIN_COST_FACTOR:g} and "
                f"{MAX_COST_FACTOR:g} (1 = the unit cost)"
            )
    if table == "cost_curve" and column == "share_of_requirement" and value > 1:
        return f"share {value:.6g} is above 1 (shares of the requirement sum to 1)"
    if table == "sector_cost_index" and column == "cost_index" and value <= 0:
        return (
            f"cost index {value:.6g} must be above 0 (a relative cost per person; 1 = the "
            "reference sector)"
        )
    if table == "stated_totals" and column in ("value", "precision") and value > 1e15:
        return f"{value:,.6g} is above any figure a plan states (1e15)"
    return None


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in a plan.

    ``row`` is the row number as a spreadsheet shows it (header = row 1) or
    ``None`` when the problem concerns a whole table or column.
    """

    severity: Severity
    source: str
    message: str
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = [self.source]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"


@dataclass(frozen=True, eq=False)
class RawTable:
    """A table as read from a file: text cells under their original headers.

    Parameters
    ----------
    name
        Table name (``requirements``, ``populations`` ...).
    source
        File (and sheet) label used in messages, e.g. ``plan/requirements.csv``.
    headers
        Header cells as written.
    hashtags
        HXL hashtag row if the file has one, else ``None``.
    rows
        Data rows, each a tuple of text cells (same length as ``headers``).
    row_numbers
        Spreadsheet row number of each data row.
    field_counts
        Number of fields each data row had in the file before padding (CSV); ``None``
        where the format has no ragged rows (a worksheet).
    header_fields
        Fields of the header up to its last named one, and ``header_length`` all its
        fields (a trailing comma adds an empty one). A row with fewer fields than
        ``header_fields``, more than ``header_length``, or a value under no header, is
        an error.
    """

    name: str
    source: str
    headers: tuple[str, ...]
    hashtags: tuple[str, ...] | None
    rows: tuple[tuple[str, ...], ...]
    row_numbers: tuple[int, ...]
    field_counts: tuple[int, ...] | None = None
    header_fields: int | None = None
    header_length: int | None = None


@dataclass(frozen=True, eq=False)
class ValidationResult:
    """Typed tables (canonical columns) and every problem found."""

    tables: Mapping[str, pd.DataFrame]
    sources: Mapping[str, str]
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    @property
    def errors(self) -> tuple[Problem, ...]:
        """Problems that make the plan unusable."""
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Problems worth reading that do not block use."""
        return tuple(p for p in self.problems if p.severity == "warning")

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not self.errors


def _norm_header(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")


def _norm_hashtag(tag: str) -> tuple[str, frozenset[str]]:
    parts = tag.strip().lower().split("+")
    return parts[0], frozenset(p for p in parts[1:] if p)


def _hxl_matches(tag: str, pattern: str) -> bool:
    t_base, t_attrs = _norm_hashtag(tag)
    p_base, p_attrs = _norm_hashtag(pattern)
    return t_base == p_base and p_attrs <= t_attrs and (bool(p_attrs) or not t_attrs)


def match_columns(
    spec: TableSpec, headers: Sequence[str], hashtags: Sequence[str] | None
) -> tuple[dict[str, int], dict[int, str], list[str]]:
    """Map a file's columns onto the spec's canonical columns.

    Returns
    -------
    found
        Canonical column name -> position in the file.
    wide
        For a wide populations layout: position -> population status.
    duplicates
        Canonical names matched by more than one file column.
    """
    found: dict[str, int] = {}
    wide: dict[int, str] = {}
    duplicates: list[str] = []
    for pos, header in enumerate(headers):
        tag = hashtags[pos] if hashtags is not None and pos < len(hashtags) else ""
        if header.strip().startswith("#") and not tag:
            tag, header = header, ""
        name = _norm_header(header)
        match: Column | None = None
        for col in spec.columns:
            names = {col.name, *(_norm_header(a) for a in col.aliases)}
            if name and name in names:
                match = col
                break
        if match is None and tag:
            # most specific hashtag first: the pattern with the most attributes
            candidates = [
                (len(_norm_hashtag(p)[1]), col)
                for col in spec.columns
                for p in col.hxl
                if _hxl_matches(tag, p)
            ]
            if candidates:
                match = max(candidates, key=lambda c: c[0])[1]
        if match is None and spec.name == "populations":
            status = STATUS_ALIASES.get(name, name)
            if status in POPULATION_STATUSES:
                wide[pos] = status
                continue
            for pattern, status in WIDE_POPULATION_HXL.items():
                if tag and _hxl_matches(tag, pattern):
                    wide[pos] = status
                    break
            if pos in wide:
                continue
        if match is None:
            continue
        if match.name in found:
            duplicates.append(match.name)
            continue
        found[match.name] = pos
    return found, wide, duplicates


_GROUP_SEPARATORS = ", _'\u00a0\u202f"
"""Characters accepted between groups of three digits: comma, space, underscore, apostrophe
(Swiss), no-break and narrow no-break space."""

_PLAIN_NUMBER = re.compile(r"^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_GROUPED_NUMBER = re.compile(
    r"^[0-9]{1,3}(?P<sep>[, _'\u00a0\u202f])[0-9]{3}(?:(?P=sep)[0-9]{3})*(?:\.[0-9]*)?$"
)


def parse_number(text: str) -> tuple[float | None, str | None]:
    """Read a number as a planner writes it; say why when it cannot be read safely.

    Accepted: ``1234.5``, ``-3``, ``1e6``, ``$1,234.50`` and numbers whose thousands are
    grouped by one separator in groups of three: ``1,234,567``, ``1 234 567``,
    ``1'234'567``, ``1_234_567``. Decimals always use a point. Anything else with a
    comma (``22952,42``, ``1,5``, ``1,23,456``, ``1.234,5``) is refused, because the
    same text means a different number in another locale; so is any other grouping
    (``12 34``), and so are ``nan``, ``inf`` and numbers too large for a float.

    Returns
    -------
    value, reason
        The value and ``None``, or ``None`` and the reason in planner words.
    """
    body = text.strip()
    sign = ""
    if body[:1] in ("+", "-"):
        sign, body = body[:1], body[1:]
    if body.startswith("$"):
        body = body[1:]
    if not sign and body[:1] in ("+", "-"):
        sign, body = body[:1], body[1:]
    if _PLAIN_NUMBER.match(body):
        digits = body
    elif _GROUPED_NUMBER.match(body):
        digits = re.sub(r"[^0-9.]", "", body)
    elif "," in body:
        return None, (
            f"ambiguous number {text!r}: decimals use a point (1234.5), and a comma may "
            "only group thousands in threes (1,234,567)"
        )
    elif body.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        return None, f"not a finite number: {text!r}"
    else:
        return None, f"not a number: {text!r}"
    value = float(sign + digits)
    if not math.isfinite(value):
        return None, f"not a finite number: {text!r} (too large)"
    return value, None


def parse_weights(key: str, text: str, allowed: tuple[int, ...]) -> dict[int, float]:
    """Parse a ``'1:2, 2:1, 3:0.5'`` setting into ``{1: 2.0, 2: 1.0, 3: 0.5}``.

    Pairs are separated by commas or semicolons; numbers are read by :func:`parse_number`.
    Keys not given keep the setting's default weight (``model.tables.SETTING_RULES``).

    Raises
    ------
    PlanError
        Naming the setting, when a pair is malformed, a key is not one of ``allowed`` or
        a weight is negative or not finite.
    """
    default = SETTING_RULES_BY_KEY[key].default
    out: dict[int, float] = {}
    for source in (default, text):
        for part in str(source).replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            left, sep, right = part.partition(":")
            if not sep:
                raise PlanError(f"setting {key}: {part!r} is not 'key:weight' (e.g. '1:2')")
            k, _ = parse_number(left.strip())
            w, reason = parse_number(right.strip())
            if k is None or k != int(k) or int(k) not in allowed:
                raise PlanError(f"setting {key}: {left.strip()!r} is not one of "
                                f"{', '.join(map(str, allowed))}")
            if w is None or not np.isfinite(w) or w < 0:
                raise PlanError(f"setting {key}: weight {right.strip()!r} for {int(k)} must be "
                                f"a number >= 0" + (f" ({reason})" if reason else ""))
            out[int(k)] = float(w)
    return out


WEIGHT_SETTINGS: dict[str, tuple[int, ...]] = {
    "tier_weights": TIERS,
    "severity_weights": SEVERITY_PHASES,
}
"""Settings read by :func:`parse_weights`, with the keys each accepts."""


def _parse_number(text: str) -> float | None:
    return parse_number(text)[0]


def _known_location_code(code: str) -> bool:
    return pycountry.countries.get(alpha_3=code) is not None


def _parse_cell(
    col: Column, text: str, table: RawTable, row: int, problems: list[Problem]
) -> object:
    """Parse one cell; append a problem and return None when it is invalid."""
    text = text.strip()
    if text == "":
        if col.required and col.kind not in ("origin", "severity"):
            problems.append(Problem("error", table.source, "empty value", row, col.name))
        return None
    kind = col.kind
    if kind in ("money", "number"):
        value, reason = parse_number(text)
        if value is None:
            problems.append(Problem("error", table.source, str(reason), row, col.name))
            return None
        if value < 0:
            problems.append(Problem("error", table.source, f"negative value {text}", row, col.name))
            return None
        out_of_range = _out_of_range(table.name, col.name, value)
        if out_of_range:
            problems.append(Problem("error", table.source, out_of_range, row, col.name))
            return None
        return value
    if kind in ("int", "year"):
        value, reason = parse_number(text)
        if value is None and reason is not None and reason.startswith("ambiguous"):
            problems.append(Problem("error", table.source, reason, row, col.name))
            return None
        if value is None or value != int(value):
            problems.append(
                Problem("error", table.source, f"not a whole number: {text!r}", row, col.name)
            )
            return None
        if kind == "int":
            low, high, word = INT_RANGES.get((table.name, col.name), (1, None, col.name))
            if value < low or (high is not None and value > high):
                shown = f"{low} to {high}" if high is not None else f"at least {low}"
                problems.append(
                    Problem(
                        "error",
                        table.source,
                        f"{word} {text!r} is out of range: {shown}",
                        row,
                        col.name,
                    )
                )
                return None
        if kind == "year" and not 1900 <= value <= 2200:
            problems.append(
                Problem("error", table.source, f"not a calendar year: {text!r}", row, col.name)
            )
            return None
        return int(value)
    if kind == "origin":
        low = text.lower()
        if low not in ORIGINS:
            problems.append(
                Problem(
                    "error",
                    table.source,
                    "origin must be " + ", ".join(f"'{o}'" for o in ORIGINS[:-1])
                    + f" or '{ORIGINS[-1]}', not {text!r}",
                    row,
                    col.name,
                )
            )
            return None
        return low
    if kind == "severity":
        low = {"warning": "warn"}.get(text.lower(), text.lower())
        if low not in ("error", "warn"):
            problems.append(
                Problem(
                    "error",
                    table.source,
                    f"on_mismatch must be 'error' or 'warn', not {text!r}",
                    row,
                    col.name,
                )
            )
            return None
        return low
    if kind == "code":
        return text.upper() if col.name in ("location_code", "parent_code") else text
    return text


def _ragged_rows(table: RawTable) -> dict[int, Problem]:
    """Rows with more or fewer fields than the header (CSV), keyed by row number.

    More fields usually means an unquoted comma inside a value (``22,952.42`` split in
    two), which shifts every later cell; fewer means a truncated or hand-shortened row.
    A trailing comma on every line (the header too) is accepted.

    In a worksheet (``field_counts`` is ``None`` but ``header_fields`` given) a value in a
    column without a header is an error too: it would otherwise be dropped without a word
    (text split into columns at its commas leaves its tail there).
    """
    if table.header_fields is None:
        return {}
    width = table.header_fields
    if table.field_counts is None:
        out_sheet: dict[int, Problem] = {}
        for cells, row in zip(table.rows, table.row_numbers, strict=True):
            extra = [i for i, c in enumerate(cells) if i >= width and c.strip()]
            if extra:
                letter = _column_letter(extra[0])
                out_sheet[row] = Problem(
                    "error",
                    table.source,
                    f"a value ({cells[extra[0]].strip()!r}) in column {letter}, which has no "
                    f"header (the header has {width} columns): a value split at a comma "
                    "belongs in one cell; give the column a header or remove the value",
                    row,
                )
        return out_sheet
    length = max(width, table.header_length or 0)
    out: dict[int, Problem] = {}
    for cells, row, n in zip(table.rows, table.row_numbers, table.field_counts, strict=True):
        if all(c.strip() == "" for c in cells):
            continue
        if n > length or any(c.strip() for c in cells[width:]):
            out[row] = Problem(
                "error",
                table.source,
                f"this row has {n} fields but the header has {width}: a value that contains "
                'a comma must be in double quotes ("22,952.42"), and decimals use a point',
                row,
            )
        elif n < width:
            out[row] = Problem(
                "error",
                table.source,
                f"this row has {n} fields but the header has {width} (the file may be cut "
                "short; every row needs one field per column, an empty one written as ,,)",
                row,
            )
    return out


def _column_letter(index: int) -> str:
    """Spreadsheet letter of a 0-based column index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


def parse_table(table: RawTable, spec: TableSpec) -> tuple[pd.DataFrame, list[Problem]]:
    """Parse a raw table into canonical, typed columns.

    The returned frame has the spec's columns in order (optional ones absent
    from the file are filled with defaults), plus ``_row`` holding the
    spreadsheet row number each record came from. Rows with an invalid cell are
    kept (the cell is ``None``) so that later checks still see them; callers
    must not build a plan while errors exist.
    """
    problems: list[Problem] = []
    found, wide, duplicates = match_columns(spec, table.headers, table.hashtags)
    for name in duplicates:
        problems.append(
            Problem("error", table.source, "more than one column matches this field", None, name)
        )
    wide_layout = bool(wide) and "population_status" not in found and "population" not in found
    for col in spec.columns:
        if col.name in found or not col.required:
            continue
        if wide_layout and col.name in ("population_status", "population"):
            continue
        accepted = ", ".join((col.name, *col.aliases, *col.hxl))
        problems.append(
            Problem(
                "error",
                table.source,
                f"missing column (accepted headers: {accepted})",
                None,
                col.name,
            )
        )
    missing_required = any(
        p.severity == "error" and p.row is None and "missing column" in p.message for p in problems
    )
    if missing_required:
        return pd.DataFrame(columns=[*spec.column_names, "_row"]), problems

    ragged = _ragged_rows(table)
    problems.extend(ragged.values())
    records: list[dict[str, object]] = []
    for cells, row in zip(table.rows, table.row_numbers, strict=True):
        if all(c.strip() == "" for c in cells) or row in ragged:
            continue
        base: dict[str, object] = {"_row": row}
        for col in spec.columns:
            if col.name in found:
                pos = found[col.name]
                text = cells[pos] if pos < len(cells) else ""
                base[col.name] = _parse_cell(col, text, table, row, problems)
            elif not (wide_layout and col.name in ("population_status", "population")):
                base[col.name] = None
        if wide_layout:
            pop_col = spec.column("population")
            for pos, status in wide.items():
                text = cells[pos] if pos < len(cells) else ""
                if text.strip() == "":
                    continue
                record = dict(base)
                record["population_status"] = status
                record["population"] = _parse_cell(pop_col, text, table, row, problems)
                records.append(record)
        else:
            records.append(base)
    # defaults and normal forms, filled in the records (one frame construction, no per-column
    # pandas passes: validation runs on every command)
    text_columns = [c.name for c in spec.columns if c.kind in ("text", "code")]
    for record in records:
        if "origin" in record and record["origin"] is None:
            record["origin"] = "source"
        if "on_mismatch" in record and record["on_mismatch"] is None:
            record["on_mismatch"] = "error"
        if "population_status" in record:
            status = record["population_status"]
            record["population_status"] = (
                STATUS_ALIASES.get(_norm_header(status), _norm_header(status))
                if isinstance(status, str)
                else None
            )
        for name in text_columns:
            if record.get(name, "") is None:
                record[name] = ""
    frame = pd.DataFrame.from_records(records, columns=[*spec.column_names, "_row"])
    defaults = {"origin": "source", "on_mismatch": "error"}
    for name in ("origin", "on_mismatch", *text_columns):
        if name in frame.columns and frame[name].isna().any():
            frame[name] = frame[name].where(frame[name].notna(), defaults.get(name, ""))
    return frame, problems


def _duplicates(frame: pd.DataFrame, spec: TableSpec, source: str) -> list[Problem]:
    problems: list[Problem] = []
    keys = [k for k in spec.key if k in frame.columns]
    if not keys or frame.empty:
        return problems
    duplicated = frame.duplicated(keys, keep="first")
    if not duplicated.any():
        return problems
    dup = frame[duplicated]
    first_rows = frame.drop_duplicates(keys, keep="first").set_index(keys)["_row"]
    for _, rec in dup.iterrows():
        key = tuple(rec[k] for k in keys)
        first = first_rows.get(key if len(keys) > 1 else key[0])
        shown = ", ".join(f"{k}={v}" for k, v in zip(keys, key, strict=True))
        problems.append(
            Problem(
                "error",
                source,
                f"duplicate of row {first} ({shown})",
                int(rec["_row"]),
                spec.key[-1],
            )
        )
    return problems


def _unknown_codes(
    frame: pd.DataFrame, column: str, known: Iterable[object], source: str, what: str
) -> list[Problem]:
    known_set = set(known)
    problems = []
    for value, row in zip(frame[column].tolist(), frame["_row"].tolist(), strict=True):
        if value is None or value == "" or value in known_set or pd.isna(value):
            continue
        problems.append(Problem("error", source, f"unknown {what} {value!r}", int(row), column))
    return problems


def stated_total_agrees(computed: float, stated: float, precision: float) -> bool:
    """Whether a stated figure is the computed sum rounded or truncated to ``precision``.

    Documents print "$225.4m" for 225,464,000 (truncated) and "$524m" for
    523,932,000 (rounded); both agree. A tolerance of half a dollar absorbs
    float noise and cents.
    """
    if not (math.isfinite(computed) and math.isfinite(stated) and math.isfinite(precision)):
        return False
    if precision <= 1:
        return abs(computed - stated) < 0.5 + 1e-9 * abs(stated)
    q = computed / precision
    rounded = math.floor(q + 0.5) * precision
    truncated = math.floor(q + 1e-9) * precision
    return any(abs(stated - c) < 0.5 for c in (rounded, truncated))


def compute_stated(tables: Mapping[str, pd.DataFrame], rec: Mapping[str, object]) -> float | None:
    """Sum the tables over the filters of one stated-total record.

    Returns ``None`` when the measure is unknown.
    """
    measure = str(rec["measure"])
    locations = tables["locations"]
    if measure == "requirements_usd":
        frame = tables["requirements"]
        value_col = "requirements_usd"
    elif measure.startswith("population:"):
        status = measure.split(":", 1)[1]
        frame = tables["populations"]
        frame = frame[frame["population_status"] == status]
        if "sector_code" in frame.columns and rec.get("sector_code") in (None, ""):
            # a total of people is of the locations' own figures, not of their sectors too
            frame = frame[frame["sector_code"].fillna("") == ""]
        value_col = "population"
    else:
        return None
    mask = np.ones(len(frame), dtype=bool)
    for col in ("objective", "location_code", "sector_code"):
        want = rec.get(col)
        if want not in (None, "") and col in frame.columns:
            mask &= frame[col].to_numpy() == want
    if rec.get("year") not in (None, "") and not pd.isna(rec.get("year")):
        mask &= frame["year"].to_numpy() == rec["year"]
    region = rec.get("region")
    if region not in (None, ""):
        in_region = set(locations.loc[locations["region"] == region, "location_code"])
        mask &= np.isin(frame["location_code"].to_numpy(), list(in_region))
    values = pd.to_numeric(pd.Series(frame[value_col].to_numpy()[mask]), errors="coerce")
    return float(values.sum())


def _check_stated_totals(
    tables: Mapping[str, pd.DataFrame], sources: Mapping[str, str]
) -> list[Problem]:
    problems: list[Problem] = []
    stated = tables.get("stated_totals")
    if stated is None or stated.empty:
        return problems
    src = sources["stated_totals"]
    regions = set(tables["locations"]["region"])
    for _, rec in stated.iterrows():
        row = int(rec["_row"])
        if rec["measure"] not in STATED_MEASURES:
            problems.append(
                Problem(
                    "error",
                    src,
                    f"unknown measure {rec['measure']!r} (one of {', '.join(STATED_MEASURES)})",
                    row,
                    "measure",
                )
            )
            continue
        if rec["region"] not in ("", None) and rec["region"] not in regions:
            problems.append(
                Problem("error", src, f"unknown region {rec['region']!r}", row, "region")
            )
            continue
        if rec["value"] is None or pd.isna(rec["value"]):
            continue
        computed = compute_stated(tables, rec)
        if computed is None:
            continue
        precision = rec["precision"]
        if precision is None or pd.isna(precision):
            precision = 1.0
        if stated_total_agrees(computed, float(rec["value"]), float(precision)):
            continue
        diff = computed - float(rec["value"])
        unit = "$" if rec["measure"] == "requirements_usd" else ""
        what = str(rec["note"]) if rec["note"] else ""
        message = (
            f"{rec['figure']}: the document states {unit}{float(rec['value']):,.0f}"
            f" but the tables sum to {unit}{computed:,.0f} (difference {unit}{diff:+,.0f})"
            + (f" [{rec['section']}]" if rec["section"] else "")
            + (f" - {what}" if what else "")
        )
        severity: Severity = "warning" if rec["on_mismatch"] == "warn" else "error"
        problems.append(Problem(severity, src, message, row, "value"))
    return problems


def _check_nesting(populations: pd.DataFrame, source: str) -> list[Problem]:
    """People reached <= targeted <= in need, per location, sector and year.

    Rows with a blank ``sector_code`` are the location's own figures.
    """
    problems: list[Problem] = []
    people: dict[tuple[object, object], dict[str, tuple[float, int]]] = {}
    sectors = _sector_column(populations)
    for loc, sector, year, status, value, row in zip(
        populations["location_code"],
        sectors,
        populations["year"],
        populations["population_status"],
        populations["population"],
        populations["_row"],
        strict=True,
    ):
        if status not in ("in_need", "targeted", "reached") or value is None or pd.isna(value):
            continue
        where = f"{loc} {sector}" if sector else str(loc)
        people.setdefault((where, year), {}).setdefault(status, (float(value), int(row)))
    for (loc, year), rec in people.items():
        for small, big in (
            ("reached", "targeted"),
            ("targeted", "in_need"),
            ("reached", "in_need"),
        ):
            if small not in rec or big not in rec:
                continue
            if rec[small][0] > rec[big][0] + 1e-9:
                problems.append(
                    Problem(
                        "error",
                        source,
                        f"{loc} {year}: people {small.replace('_', ' ')} ({rec[small][0]:,.0f}) "
                        f"exceed people {big.replace('_', ' ')} ({rec[big][0]:,.0f})",
                        rec[small][1],
                        "population",
                    )
                )
    return problems


def _sector_column(populations: pd.DataFrame) -> list[str]:
    """The ``sector_code`` of each populations row as text ("" = the whole location)."""
    if "sector_code" not in populations.columns:
        return [""] * len(populations)
    return ["" if _blank(v) else str(v).strip() for v in populations["sector_code"]]


def _sector_statuses(populations: pd.DataFrame, source: str) -> list[Problem]:
    """A sector row gives people in need, targeted, reached or entities targeted only."""
    problems: list[Problem] = []
    for sector, status, row in zip(
        _sector_column(populations),
        populations["population_status"],
        populations["_row"],
        strict=True,
    ):
        if sector and status in POPULATION_STATUSES and status not in SECTOR_STATUSES:
            problems.append(
                Problem(
                    "error",
                    source,
                    f"{status} are a stock of the whole location, not of a sector: leave "
                    f"sector_code blank (per sector: {', '.join(SECTOR_STATUSES)})",
                    int(row),
                    "sector_code",
                )
            )
    return problems


def _check_sector_within_location(populations: pd.DataFrame, source: str) -> list[Problem]:
    """A sector's figure against its location's own (the row with a blank sector_code).

    A cluster's people in need cannot exceed the location's intersectoral people in need
    (unique people across clusters): an error. A cluster's people targeted or reached above
    the location's is a warning: the location's figure counts unique people and should be
    at least the largest cluster's, but plans do not always derive it that way.
    """
    problems: list[Problem] = []
    rows = list(zip(
        populations["location_code"],
        _sector_column(populations),
        populations["year"],
        populations["population_status"],
        populations["population"],
        populations["_row"],
        strict=True,
    ))
    whole: dict[tuple[object, object, str], float] = {}
    for loc, sector, year, status, value, _ in rows:
        if not sector and not _blank(value):
            whole.setdefault((loc, year, status), float(value))
    for loc, sector, year, status, value, row in rows:
        if not sector or _blank(value) or status not in ("in_need", "targeted", "reached"):
            continue
        total = whole.get((loc, year, status))
        if total is None or float(value) <= total + 1e-9:
            continue
        word = status.replace("_", " ")
        if status == "in_need":
            problems.append(
                Problem(
                    "error",
                    source,
                    f"{loc} {year}: people in need of {sector} ({float(value):,.0f}) exceed "
                    f"the location's people in need ({total:,.0f}); a location's people in "
                    "need are the unique people across sectors, at least as many as any "
                    "sector's",
                    int(row),
                    "population",
                )
            )
        else:
            problems.append(
                Problem(
                    "warning",
                    source,
                    f"{loc} {year}: people {word} by {sector} ({float(value):,.0f}) exceed "
                    f"the location's people {word} ({total:,.0f}), which count unique people "
                    "across sectors: check the figures",
                    int(row),
                    "population",
                )
            )
    return problems


def _check_locations(locations: pd.DataFrame, source: str) -> list[Problem]:
    """Kinds, codes and parents of the locations table.

    ``country``: an ISO 3166 alpha-3 code, no parent. ``regional``: a user-assigned code
    (``X..``), no parent. ``admin1``: parent a country of the table; ``admin2``: parent an
    admin1 of the table; both carry an OCHA P-code, which starts with the ISO 3166 alpha-2
    code of the country at the top (``UA14`` under ``UKR``) followed by letters or digits.
    """
    problems: list[Problem] = []
    has_parent = "parent_code" in locations.columns
    kinds: dict[str, str] = {}
    parents: dict[str, str] = {}
    for code, kind, parent in zip(
        locations["location_code"],
        locations["kind"] if "kind" in locations.columns else [""] * len(locations),
        locations["parent_code"] if has_parent else [""] * len(locations),
        strict=True,
    ):
        if code:
            kinds.setdefault(str(code), (str(kind or "").strip().lower() or "country"))
            parents.setdefault(str(code), "" if _blank(parent) else str(parent))
    for _, rec in locations.iterrows():
        code = rec["location_code"]
        if not code:
            continue
        row = int(rec["_row"])
        kind = str(rec["kind"] or "").strip().lower() or "country"
        parent = "" if not has_parent or _blank(rec["parent_code"]) else str(rec["parent_code"])
        if kind not in LOCATION_KINDS:
            problems.append(
                Problem(
                    "error",
                    source,
                    "kind must be " + ", ".join(f"'{k}'" for k in LOCATION_KINDS[:-1])
                    + f" or '{LOCATION_KINDS[-1]}' (blank = country), not {rec['kind']!r}",
                    row,
                    "kind",
                )
            )
            continue
        if kind == "country" and not _known_location_code(code):
            if USER_ASSIGNED_CODE.match(code):
                hint = " (a non-country line needs kind 'regional')"
            elif re.fullmatch(r"[A-Z]{2}[0-9A-Z]+", code):
                hint = " (a sub-national area needs kind 'admin1' or 'admin2' and a parent_code)"
            else:
                hint = ""
            problems.append(
                Problem(
                    "error",
                    source,
                    f"{code!r} is not an ISO 3166 alpha-3 country code{hint}",
                    row,
                    "location_code",
                )
            )
        if kind == "regional" and not USER_ASSIGNED_CODE.match(code):
            problems.append(
                Problem(
                    "error",
                    source,
                    f"non-country line {code!r} must use a user-assigned code (X.., e.g. XRS)",
                    row,
                    "location_code",
                )
            )
        if kind in ("country", "regional"):
            if parent:
                problems.append(
                    Problem(
                        "error",
                        source,
                        f"a {kind} location has no parent: leave parent_code blank "
                        f"(not {parent!r})",
                        row,
                        "parent_code",
                    )
                )
            continue
        want = "country" if kind == "admin1" else "admin1"
        if not parent:
            problems.append(
                Problem(
                    "error",
                    source,
                    f"an {kind} area names its parent ({want}) in parent_code",
                    row,
                    "parent_code",
                )
            )
            continue
        if parent not in kinds:
            problems.append(
                Problem(
                    "error",
                    source,
                    f"parent {parent!r} is not a location of this table (add it with kind "
                    f"'{want}')",
                    row,
                    "parent_code",
                )
            )
            continue
        if kinds[parent] != want:
            problems.append(
                Problem(
                    "error",
                    source,
                    f"the parent of an {kind} area must be a location of kind '{want}'; "
                    f"{parent!r} is {kinds[parent]!r}",
                    row,
                    "parent_code",
                )
            )
            continue
        country = parent if kind == "admin1" else parents.get(parent, "")
        found = pycountry.countries.get(alpha_3=country) if country else None
        if found is None:
            continue  # the country row carries its own error
        if not re.fullmatch(rf"{found.alpha_2}[0-9A-Z]+", code):
            problems.append(
                Problem(
                    "error",
                    source,
                    f"{code!r} is not an OCHA P-code of {country}: the P-code of an {kind} "
                    f"area starts with the country's ISO 3166 alpha-2 code {found.alpha_2!r} "
                    f"followed by letters or digits (e.g. {found.alpha_2}14)",
                    row,
                    "location_code",
                )
            )
    return problems


def _check_objectives(
    tables: Mapping[str, pd.DataFrame], sources: Mapping[str, str]
) -> tuple[list[Problem], dict[str, pd.DataFrame]]:
    """Strategic objectives: all rows name one, or none does.

    Returns the problems and the tables to replace: when no requirement row names an
    objective, ``requirements.objective`` becomes ``model.tables.NO_OBJECTIVE`` and
    ``objectives`` the one implicit objective (with a warning when an ``objectives`` table
    with rows is there but unused). A plan where some rows name an objective and others do
    not is an error per blank row; objectives named without an ``objectives`` table is an
    error saying what to add.
    """
    problems: list[Problem] = []
    req, req_src = tables["requirements"], sources["requirements"]
    objectives = tables.get("objectives")
    listed = objectives is not None and not objectives.empty
    blank = [_blank(v) for v in req["objective"]]
    if all(blank):
        if listed:
            problems.append(
                Problem(
                    "warning",
                    sources["objectives"],
                    "no requirement row names a strategic objective, so this table is not "
                    f"used: every requirement falls under one objective, {NO_OBJECTIVE!r}",
                )
            )
        return problems, {
            "requirements": req.assign(objective=NO_OBJECTIVE),
            "objectives": implicit_objective_table().assign(_row=pd.NA),
        }
    named = sorted({str(v) for v, b in zip(req["objective"], blank, strict=True) if not b})
    for row, is_blank in zip(req["_row"], blank, strict=True):
        if is_blank:
            problems.append(
                Problem(
                    "error",
                    req_src,
                    f"no objective here, while other rows name one ({', '.join(named[:5])}): "
                    "give every row an objective, or leave the objective blank in every row "
                    "(a plan without strategic objectives)",
                    int(row),
                    "objective",
                )
            )
    if not listed:
        problems.append(
            Problem(
                "error",
                sources.get("objectives") or _sibling_label(req_src, "objectives"),
                f"requirements name strategic objectives ({', '.join(named[:5])}) but the plan "
                "lists none: add the objectives table (objective_code, objective_name, tier; "
                "e.g. 'SO1,Saving lives,1'), or leave the objective column of requirements "
                "blank for a plan without strategic objectives",
            )
        )
        return problems, {}
    problems += _unknown_codes(
        req, "objective", set(objectives["objective_code"]), req_src, "objective"
    )
    return problems, {}


def _check_settings(settings: pd.DataFrame, source: str, n_sectors: int | None) -> list[Problem]:
    """Every setting the tool reads (``model.tables.SETTING_RULES``) within its range."""
    problems: list[Problem] = []
    for _, rec in settings.iterrows():
        key, text, row = str(rec["key"]), str(rec["value"]).strip(), int(rec["_row"])
        rule = SETTING_RULES_BY_KEY.get(key)
        if rule is None:
            near = _norm_header(key)
            if near in SETTING_RULES_BY_KEY:
                problems.append(
                    Problem(
                        "error",
                        source,
                        f"setting {key!r} would be ignored: write the key as {near!r}",
                        row,
                        "key",
                    )
                )
            continue
        if text and key in WEIGHT_SETTINGS:
            try:
                parse_weights(key, text, WEIGHT_SETTINGS[key])
            except PlanError as exc:
                problems.append(
                    Problem("error", source, f"{exc} ({rule.description})", row, "value")
                )
            continue
        if text == "" or rule.kind == "text":
            continue
        if rule.kind == "currency":
            if text.upper() != "USD":
                problems.append(
                    Problem(
                        "error",
                        source,
                        f"{key} = {text!r}: every amount must be in US dollars (USD); "
                        "convert the plan's money to USD",
                        row,
                        "value",
                    )
                )
            continue
        value, reason = parse_number(text)
        if value is None:
            problems.append(Problem("error", source, f"{key}: {reason}", row, "value"))
            continue
        low = rule.minimum
        high = n_sectors if rule.maximum == "sectors" else rule.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            shown_high = (
                f"{high:g}" + (" (the number of sectors)" if rule.maximum == "sectors" else "")
                if high is not None
                else "no limit"
            )
            problems.append(
                Problem(
                    "error",
                    source,
                    f"{key} = {text!r} is out of range: from {low:g} to {shown_high}. "
                    + rule.description,
                    row,
                    "value",
                )
            )
    return problems


def _finite_sum(frame: pd.DataFrame, column: str, source: str, what: str) -> list[Problem]:
    values = pd.to_numeric(frame[column], errors="coerce").dropna().to_numpy(dtype=float)
    total = math.fsum(values) if np.all(np.isfinite(values)) else math.inf
    if math.isfinite(total):
        return []
    return [Problem("error", source, f"the {what} do not add up to a finite number", None, column)]


def _sibling_label(label: str, table: str) -> str:
    """Where a missing table would be: ``plan/unit_costs.csv`` or ``plan.xlsx [sheet ...]``."""
    if label.endswith(".csv"):
        slash = max(label.rfind("/"), label.rfind("\\"))
        return f"{label[: slash + 1]}{table}.csv"
    if " [sheet " in label:
        return f"{label.split(' [sheet ')[0]} [sheet {table}]"
    return table


def _blank(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _check_plan_lines(
    tables: Mapping[str, pd.DataFrame],
    sources: Mapping[str, str],
    loc_codes: set[str],
    sector_codes: set[str],
) -> list[Problem]:
    """Check sector outputs, the sector cost index, severity, and people lines without targets.

    Errors: an output not in ``model.tables.OUTPUTS``; a ``sector_cost_index`` or
    ``severity`` row naming a sector, location or year the plan does not have; cost
    indices further apart than ``MAX_COST_INDEX_SPREAD``. Warnings: a sector the cost
    index leaves out (it gets 1), and a location whose lines reach people (not regional,
    not enabler or entity lines) with requirements but no people targeted in any year:
    calibrated unit costs (``model.unit_costs``) give those lines none, so they reach
    nobody. The rule deciding a line's output is the one of ``model.lines.cell_outputs``.
    """
    problems: list[Problem] = []
    sectors, sec_src = tables["sectors"], sources["sectors"]
    outputs: dict[str, str] = {}
    if "output" in sectors.columns:
        for code, value, row in zip(
            sectors["sector_code"], sectors["output"], sectors["_row"], strict=True
        ):
            text = "" if _blank(value) else str(value).strip().lower()
            if text and text not in OUTPUTS:
                problems.append(
                    Problem(
                        "error",
                        sec_src,
                        f"output must be one of {', '.join(OUTPUTS)} (blank = people), "
                        f"not {value!r}",
                        int(row),
                        "output",
                    )
                )
            outputs[str(code)] = text or "people"
    index = tables.get("sector_cost_index")
    if index is not None and not index.empty:
        src = sources["sector_cost_index"]
        problems += _unknown_codes(index, "sector_code", sector_codes, src, "sector code")
        values = pd.to_numeric(index["cost_index"], errors="coerce")
        if values.notna().all() and (values > 0).all():
            lo, hi = values.idxmin(), values.idxmax()
            if values[hi] > values[lo] * MAX_COST_INDEX_SPREAD:
                problems.append(
                    Problem(
                        "error",
                        src,
                        f"cost indices span {values[lo]:.6g} to {values[hi]:.6g} (row "
                        f"{int(index.loc[hi, '_row'])}), more than a factor of "
                        f"{MAX_COST_INDEX_SPREAD:,.0f}: check the figures",
                        int(index.loc[lo, "_row"]),
                        "cost_index",
                    )
                )
        indexed = set(index["sector_code"])
        missing = [c for c in tables["sectors"]["sector_code"] if c not in indexed]
        if missing:
            problems.append(
                Problem(
                    "warning",
                    src,
                    f"no cost index for {', '.join(map(str, missing))}: 1 (the reference) is used",
                    None,
                    "sector_code",
                )
            )
    severity = tables.get("severity")
    if severity is not None and not severity.empty:
        src = sources["severity"]
        problems += _unknown_codes(severity, "location_code", loc_codes, src, "location code")
        years = set(pd.to_numeric(tables["requirements"]["year"], errors="coerce").dropna())
        for year, row in zip(severity["year"], severity["_row"], strict=True):
            if not _blank(year) and year not in years:
                shown = ", ".join(str(int(y)) for y in sorted(years))
                problems.append(
                    Problem(
                        "error",
                        src,
                        f"year {int(year)} is not a year of the plan's requirements ({shown})",
                        int(row),
                        "year",
                    )
                )
    if "populations" in tables:
        problems += _people_lines_without_targets(tables, sources, outputs)
    return problems


def _people_lines_without_targets(
    tables: Mapping[str, pd.DataFrame], sources: Mapping[str, str], outputs: Mapping[str, str]
) -> list[Problem]:
    locations = tables["locations"]
    regional = {
        c for c, k in zip(locations["location_code"], locations["kind"], strict=True)
        if str(k or "").strip().lower() == "regional"
    }
    pops = tables["populations"]
    amount = pd.to_numeric(pops["population"], errors="coerce").fillna(0.0)
    targeted = set(pops.loc[(pops["population_status"] == "targeted") & (amount > 0),
                            "location_code"])
    with_entities = set(pops.loc[(pops["population_status"] == "entities_targeted")
                                 & (amount > 0), "location_code"])
    req = tables["requirements"]
    money = pd.to_numeric(req["requirements_usd"], errors="coerce").fillna(0.0)
    totals: dict[str, float] = {}
    for loc, sector, usd in zip(req["location_code"], req["sector_code"], money, strict=True):
        output = outputs.get(str(sector), "people")
        if loc in regional or output == "enabler" or usd <= 0:
            continue
        if output == "entities" and loc in with_entities:
            continue
        totals[loc] = totals.get(loc, 0.0) + float(usd)
    return [
        Problem(
            "warning",
            sources["populations"],
            f"{loc} has ${usd:,.0f} of requirements in lines that reach people but no people "
            "targeted in any year: unit costs calibrated from the targets give these lines "
            "none, so they reach nobody (add its people targeted, or give it kind 'regional' "
            "if it supports other lines)",
            None,
            "population_status",
        )
        for loc, usd in sorted(totals.items())
        if loc not in targeted
    ]


def _check_costs(
    tables: Mapping[str, pd.DataFrame], sources: Mapping[str, str]
) -> list[Problem]:
    """Unit costs that let the allocation reach people, with sane magnitudes.

    A plan without unit costs validated and then reached nobody at any funding; it is
    an error that says which table to add. All weights 0, unit costs further apart than
    ``MAX_UNIT_COST_SPREAD``, and a line whose full requirement would reach more people
    than ``MAX_PEOPLE`` are errors too.
    """
    problems: list[Problem] = []
    req = tables["requirements"]
    if req.empty or req["requirements_usd"].isna().any():
        return problems
    first = req.iloc[0]
    example = f"{first['location_code']},{first['sector_code']},25.00,1"
    how = (
        "add unit_costs.csv to the plan folder (or a unit_costs sheet to the workbook) with "
        "columns location_code, sector_code, unit_cost_usd and optionally weight: the US "
        "dollars per person reached by the first tranche of each line's requirement, e.g. "
        f"the row '{example}'; a line that reaches nobody directly (regional support) has "
        "no row"
    )
    costs = tables.get("unit_costs")
    if costs is None or costs.empty:
        src = sources.get("unit_costs") or _sibling_label(sources["requirements"], "unit_costs")
        pops = tables.get("populations")
        targets = pops is not None and bool(
            (
                pops["population_status"].isin(("targeted", "entities_targeted"))
                & (pd.to_numeric(pops["population"], errors="coerce").fillna(0.0) > 0)
            ).any()
        )
        if targets:
            problems.append(
                Problem(
                    "warning",
                    src,
                    "no unit costs: they will be calibrated from the plan's people targeted "
                    "when the plan is loaded (at full funding each location's lines reach its "
                    "people targeted); 'reachplan plan calibrate PLAN' writes them to the plan "
                    "to review",
                )
            )
            return problems
        pop_src = sources.get("populations") or _sibling_label(
            sources["requirements"], "populations"
        )
        problems.append(
            Problem(
                "error",
                src,
                "no unit costs and no people targeted, so no money can reach anyone: either "
                f"{how}; or add people targeted to {pop_src}, rows with population_status "
                f"'targeted' (e.g. '{first['location_code']},{first['year']},targeted,"
                "350000' under location_code, year, population_status, population), from "
                "which 'reachplan plan calibrate PLAN' calibrates the unit costs",
            )
        )
        return problems
    src = sources["unit_costs"]
    if costs["unit_cost_usd"].isna().any():
        return problems
    cell_req = req.groupby(["location_code", "sector_code", "year"])["requirements_usd"].sum()
    cell_req = cell_req[cell_req > 0]
    keyed = costs.drop_duplicates(["location_code", "sector_code"]).set_index(
        ["location_code", "sector_code"]
    )
    pairs = pd.MultiIndex.from_arrays(
        [
            cell_req.index.get_level_values("location_code"),
            cell_req.index.get_level_values("sector_code"),
        ]
    )
    matched = keyed.reindex(pairs)
    has_cost = matched["unit_cost_usd"].notna().to_numpy()
    if not has_cost.any():
        problems.append(
            Problem(
                "error",
                src,
                "no requirement line (location_code, sector_code) has a unit cost, so no money "
                f"can reach anyone: {how}",
                None,
                "unit_cost_usd",
            )
        )
        return problems
    weights = pd.to_numeric(matched["weight"], errors="coerce").fillna(1.0).to_numpy()
    if np.all(weights[has_cost] == 0):
        problems.append(
            Problem(
                "error",
                src,
                "every weight of a line with a requirement is 0, so people reached count for "
                "nothing: give the lines weights above 0 (1 is the default)",
                None,
                "weight",
            )
        )
    unit = costs["unit_cost_usd"].astype(float)
    lo, hi = unit.idxmin(), unit.idxmax()
    if unit[hi] > unit[lo] * MAX_UNIT_COST_SPREAD:
        problems.append(
            Problem(
                "error",
                src,
                f"unit costs span {unit[lo]:,.6g} to {unit[hi]:,.6g} USD per person (row "
                f"{int(costs.loc[hi, '_row'])}), more than a factor of "
                f"{MAX_UNIT_COST_SPREAD:,.0f}: check the units",
                int(costs.loc[lo, "_row"]),
                "unit_cost_usd",
            )
        )
    people = cell_req.to_numpy(dtype=float) / matched["unit_cost_usd"].to_numpy(dtype=float)
    rows = matched["_row"].to_numpy()
    for i in np.flatnonzero(has_cost & (people > MAX_PEOPLE)):
        loc, sector, year = cell_req.index[i]
        problems.append(
            Problem(
                "error",
                src,
                f"at {float(matched['unit_cost_usd'].iloc[i]):,.6g} USD per person the "
                f"requirement of {sector} in {loc}, {year} (${float(cell_req.iloc[i]):,.0f}) "
                f"would reach {people[i]:,.0f} people, more than the world population",
                int(rows[i]),
                "unit_cost_usd",
            )
        )
    return problems


def validate_tables(raw: Mapping[str, RawTable]) -> ValidationResult:
    """Parse and check every table of a plan, collecting every problem.

    Parameters
    ----------
    raw
        Raw tables keyed by table name. Unknown names are reported as warnings.

    Returns
    -------
    ValidationResult
        Typed tables (only when parsed) and all problems, errors first in file order.
    """
    problems: list[Problem] = []
    tables: dict[str, pd.DataFrame] = {}
    sources: dict[str, str] = {}
    for name, table in raw.items():
        if name not in TABLES_BY_NAME:
            problems.append(
                Problem(
                    "warning",
                    table.source,
                    f"unknown table {name!r} ignored (known: {', '.join(TABLES_BY_NAME)})",
                )
            )
    some_source = next((t.source for t in raw.values()), "")
    for spec in TABLES:
        if spec.name not in raw:
            if spec.required:
                where = _sibling_label(some_source, spec.name) if some_source else spec.name
                problems.append(
                    Problem("error", where, f"missing table '{spec.name}' ({spec.description})")
                )
            continue
        table = raw[spec.name]
        frame, table_problems = parse_table(table, spec)
        problems.extend(table_problems)
        problems.extend(_duplicates(frame, spec, table.source))
        tables[spec.name] = frame
        sources[spec.name] = table.source
    if "settings" in tables:
        n_sectors = (
            max(int(tables["sectors"]["sector_code"].nunique()), 1) if "sectors" in tables else None
        )
        problems += _check_settings(tables["settings"], sources["settings"], n_sectors)
    if any(n not in tables for n in ("locations", "sectors", "requirements")):
        return ValidationResult(tables, sources, tuple(problems))

    locations = tables["locations"]
    loc_src = sources["locations"]
    problems += _check_locations(locations, loc_src)
    loc_codes = set(locations["location_code"])
    sector_codes = set(tables["sectors"]["sector_code"])
    req, req_src = tables["requirements"], sources["requirements"]
    objective_problems, objective_tables = _check_objectives(tables, sources)
    problems += objective_problems
    tables.update(objective_tables)
    if "objectives" in objective_tables and "objectives" not in sources:
        sources["objectives"] = _sibling_label(req_src, "objectives")
    req = tables["requirements"]
    problems += _unknown_codes(req, "location_code", loc_codes, req_src, "location code")
    problems += _unknown_codes(req, "sector_code", sector_codes, req_src, "sector code")
    if req.empty:
        problems.append(Problem("error", req_src, "no requirement rows"))
    else:
        problems += _finite_sum(req, "requirements_usd", req_src, "requirements")
        amounts = pd.to_numeric(req["requirements_usd"], errors="coerce")
        if amounts.notna().all() and not (amounts > 0).any():
            problems.append(
                Problem(
                    "error",
                    req_src,
                    "every requirement is 0: there is nothing to allocate",
                    None,
                    "requirements_usd",
                )
            )
    if "populations" in tables:
        pops, pop_src = tables["populations"], sources["populations"]
        problems += _unknown_codes(pops, "location_code", loc_codes, pop_src, "location code")
        problems += _unknown_codes(pops, "sector_code", sector_codes, pop_src, "sector code")
        problems += _unknown_codes(
            pops, "population_status", POPULATION_STATUSES, pop_src, "population status"
        )
        problems += _sector_statuses(pops, pop_src)
        if not any(p.severity == "error" for p in problems):
            problems += _check_nesting(pops, pop_src)
            problems += _check_sector_within_location(pops, pop_src)
        if not any(p.severity == "error" for p in problems):
            tables["populations"], derived = derive_location_populations(pops)
            problems += [
                Problem(
                    "warning",
                    pop_src,
                    f"{loc} {year}: no people {status.replace('_', ' ')} for the whole "
                    f"location, only per sector; the largest sector figure ({value:,.0f}) is "
                    "used, a lower bound of the unique people (add a row with a blank "
                    "sector_code to give the plan's own figure)",
                    None if _blank(row) else int(row),
                    "population",
                )
                for loc, year, status, value, row in derived
            ]
    for name in ("unit_costs",):
        if name in tables:
            frame, src = tables[name], sources[name]
            problems += _unknown_codes(frame, "location_code", loc_codes, src, "location code")
            problems += _unknown_codes(frame, "sector_code", sector_codes, src, "sector code")
    problems += _check_plan_lines(tables, sources, loc_codes, sector_codes)
    if "cost_curve" in tables and not tables["cost_curve"].empty:
        curve, src = tables["cost_curve"].sort_values("tranche"), sources["cost_curve"]
        shares = pd.to_numeric(curve["share_of_requirement"])
        if shares.notna().all() and abs(shares.sum() - 1.0) > 1e-9:
            problems.append(
                Problem(
                    "error",
                    src,
                    f"tranche shares sum to {shares.sum():.6g}, not 1",
                    None,
                    "share_of_requirement",
                )
            )
        factors = pd.to_numeric(curve["cost_factor"]).to_numpy()
        if len(factors) > 1 and np.all(np.isfinite(factors)) and np.any(np.diff(factors) < 0):
            problems.append(
                Problem(
                    "error",
                    src,
                    "cost factors must not fall from one tranche to the next (returns diminish)",
                    None,
                    "cost_factor",
                )
            )
    problems += _check_costs(tables, sources)
    if not any(p.severity == "error" for p in problems):
        problems += _check_stated_totals(tables, sources)
    return ValidationResult(tables, sources, tuple(problems))
