"""Checking a plan's tables: every problem at once, each naming file, row and column.

The functions here are pure. :mod:`scenarios.plan_io` reads files into
:class:`RawTable` objects (all cells as text, with the row number each came
from); :func:`validate_tables` parses and checks them and returns the typed
tables together with every :class:`Problem` found.
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

from model.tables import (
    ORIGINS,
    POPULATION_STATUSES,
    STATED_MEASURES,
    STATUS_ALIASES,
    TABLES,
    TABLES_BY_NAME,
    WIDE_POPULATION_HXL,
    Column,
    TableSpec,
)

Severity = Literal["error", "warning"]

USER_ASSIGNED_CODE = re.compile(r"^(AA[A-Z]|Q[M-Z][A-Z]|X[A-Z]{2}|ZZ[A-Z])$")
"""ISO 3166-1 alpha-3 ranges reserved for user assignment (non-country lines)."""


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
    """

    name: str
    source: str
    headers: tuple[str, ...]
    hashtags: tuple[str, ...] | None
    rows: tuple[tuple[str, ...], ...]
    row_numbers: tuple[int, ...]


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


def _parse_number(text: str) -> float | None:
    cleaned = text.strip().replace(",", "").replace("_", "").replace(" ", "")
    if cleaned.startswith("$"):
        cleaned = cleaned[1:]
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


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
        value = _parse_number(text)
        if value is None:
            problems.append(
                Problem("error", table.source, f"not a number: {text!r}", row, col.name)
            )
            return None
        if value < 0:
            problems.append(Problem("error", table.source, f"negative value {text}", row, col.name))
            return None
        return value
    if kind in ("int", "year"):
        value = _parse_number(text)
        if value is None or value != int(value):
            problems.append(
                Problem("error", table.source, f"not a whole number: {text!r}", row, col.name)
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
                    f"origin must be 'source' or 'derived', not {text!r}",
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
        return text.upper() if col.name in ("location_code",) else text
    return text


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

    records: list[dict[str, object]] = []
    for cells, row in zip(table.rows, table.row_numbers, strict=True):
        if all(c.strip() == "" for c in cells):
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
    frame = pd.DataFrame.from_records(records, columns=[*spec.column_names, "_row"])
    if "origin" in frame.columns:
        frame["origin"] = frame["origin"].where(frame["origin"].notna(), "source")
    if "on_mismatch" in frame.columns:
        frame["on_mismatch"] = frame["on_mismatch"].where(frame["on_mismatch"].notna(), "error")
    if "population_status" in frame.columns:
        frame["population_status"] = frame["population_status"].map(
            lambda s: None if s is None else STATUS_ALIASES.get(_norm_header(s), _norm_header(s))
        )
    for col in spec.columns:
        if col.kind in ("text", "code") and col.name in frame.columns:
            frame[col.name] = frame[col.name].where(frame[col.name].notna(), "")
    return frame, problems


def _duplicates(frame: pd.DataFrame, spec: TableSpec, source: str) -> list[Problem]:
    problems: list[Problem] = []
    keys = [k for k in spec.key if k in frame.columns]
    if not keys or frame.empty:
        return problems
    dup = frame[frame.duplicated(keys, keep="first")]
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
    for _, rec in frame.iterrows():
        value = rec[column]
        if value in (None, "") or value in known_set:
            continue
        problems.append(
            Problem("error", source, f"unknown {what} {value!r}", int(rec["_row"]), column)
        )
    return problems


def stated_total_agrees(computed: float, stated: float, precision: float) -> bool:
    """Whether a stated figure is the computed sum rounded or truncated to ``precision``.

    Documents print "$225.4m" for 225,464,000 (truncated) and "$524m" for
    523,932,000 (rounded); both agree. A tolerance of half a dollar absorbs
    float noise and cents.
    """
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
        value_col = "population"
    else:
        return None
    mask = np.ones(len(frame), dtype=bool)
    for col in ("objective", "location_code", "sector_code"):
        want = rec.get(col)
        if want not in (None, "") and col in frame.columns:
            mask &= (frame[col] == want).to_numpy()
    if rec.get("year") not in (None, "") and not pd.isna(rec.get("year")):
        mask &= (frame["year"] == rec["year"]).to_numpy()
    region = rec.get("region")
    if region not in (None, ""):
        in_region = set(locations.loc[locations["region"] == region, "location_code"])
        mask &= frame["location_code"].isin(in_region).to_numpy()
    return float(pd.to_numeric(frame.loc[mask, value_col]).sum())


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
        if rec["value"] is None:
            continue
        computed = compute_stated(tables, rec)
        if computed is None:
            continue
        precision = rec["precision"] if rec["precision"] is not None else 1.0
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
    """People reached <= targeted <= in need, per location and year."""
    problems: list[Problem] = []
    people = populations[populations["population_status"].isin(["in_need", "targeted", "reached"])]
    if people.empty:
        return problems
    wide = people.pivot_table(
        index=["location_code", "year"],
        columns="population_status",
        values="population",
        aggfunc="first",
    )
    rows = people.set_index(["location_code", "year", "population_status"])["_row"]
    for (loc, year), rec in wide.iterrows():
        for small, big in (
            ("reached", "targeted"),
            ("targeted", "in_need"),
            ("reached", "in_need"),
        ):
            if small not in rec or big not in rec:
                continue
            if pd.isna(rec[small]) or pd.isna(rec[big]):
                continue
            if rec[small] > rec[big] + 1e-9:
                problems.append(
                    Problem(
                        "error",
                        source,
                        f"{loc} {year}: people {small.replace('_', ' ')} ({rec[small]:,.0f}) "
                        f"exceed people {big.replace('_', ' ')} ({rec[big]:,.0f})",
                        int(rows[(loc, year, small)]),
                        "population",
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
    for spec in TABLES:
        if spec.name not in raw:
            if spec.required:
                problems.append(
                    Problem("error", spec.name, f"missing table '{spec.name}' ({spec.description})")
                )
            continue
        table = raw[spec.name]
        frame, table_problems = parse_table(table, spec)
        problems.extend(table_problems)
        problems.extend(_duplicates(frame, spec, table.source))
        tables[spec.name] = frame
        sources[spec.name] = table.source
    if any(n not in tables for n in ("locations", "sectors", "objectives", "requirements")):
        return ValidationResult(tables, sources, tuple(problems))

    locations = tables["locations"]
    loc_src = sources["locations"]
    for _, rec in locations.iterrows():
        code = rec["location_code"]
        if not code:
            continue
        kind = rec["kind"] or "country"
        if kind not in ("country", "regional"):
            problems.append(
                Problem(
                    "error",
                    loc_src,
                    f"kind must be 'country' or 'regional', not {kind!r}",
                    int(rec["_row"]),
                    "kind",
                )
            )
        if kind == "country" and not _known_location_code(code):
            hint = (
                " (a non-country line needs kind 'regional')"
                if USER_ASSIGNED_CODE.match(code)
                else ""
            )
            problems.append(
                Problem(
                    "error",
                    loc_src,
                    f"{code!r} is not an ISO 3166 alpha-3 country code{hint}",
                    int(rec["_row"]),
                    "location_code",
                )
            )
        if kind == "regional" and not USER_ASSIGNED_CODE.match(code):
            problems.append(
                Problem(
                    "error",
                    loc_src,
                    f"non-country line {code!r} must use a user-assigned code (X.., e.g. XRS)",
                    int(rec["_row"]),
                    "location_code",
                )
            )
    loc_codes = set(locations["location_code"])
    sector_codes = set(tables["sectors"]["sector_code"])
    objective_codes = set(tables["objectives"]["objective_code"])
    req, req_src = tables["requirements"], sources["requirements"]
    problems += _unknown_codes(req, "location_code", loc_codes, req_src, "location code")
    problems += _unknown_codes(req, "sector_code", sector_codes, req_src, "sector code")
    problems += _unknown_codes(req, "objective", objective_codes, req_src, "objective")
    if req.empty:
        problems.append(Problem("error", req_src, "no requirement rows"))
    if "populations" in tables:
        pops, pop_src = tables["populations"], sources["populations"]
        problems += _unknown_codes(pops, "location_code", loc_codes, pop_src, "location code")
        problems += _unknown_codes(
            pops, "population_status", POPULATION_STATUSES, pop_src, "population status"
        )
        if not any(p.severity == "error" for p in problems):
            problems += _check_nesting(pops, pop_src)
    for name in ("unit_costs",):
        if name in tables:
            frame, src = tables[name], sources[name]
            problems += _unknown_codes(frame, "location_code", loc_codes, src, "location code")
            problems += _unknown_codes(frame, "sector_code", sector_codes, src, "sector code")
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
    if not any(p.severity == "error" for p in problems):
        problems += _check_stated_totals(tables, sources)
    return ValidationResult(tables, sources, tuple(problems))
