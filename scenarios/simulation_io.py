"""Reading simulation assumptions, the initial state and observed histories from files.

Everything the displacement simulation reads from disk is read here, validated,
and turned into the frozen objects of :mod:`model.simulation` and
:mod:`model.calibration`. Errors name the file and the key (or row and column).

A scenario file's ``[simulation]`` table is laid over the shipped defaults
(``scenarios/simulation.toml``): a scenario states only what it changes. An
inline distribution table replaces the default distribution whole.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import hashlib
import math
import re
import tomllib
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reachplan.model import simulation as dm
from reachplan.model.calibration import HistoryError
from reachplan.model.simulation import (
    NEEDS_FILE_COLUMNS,
    AssumptionError,
    Distribution,
    Geography,
    InitialState,
    NeedsInput,
    SimulationAssumptions,
)

__all__ = [
    "DEFAULT_HISTORY_FILES",
    "DEFAULT_GEOGRAPHY_FILE",
    "DEFAULT_INITIAL_STATE_FILE",
    "DEFAULT_SIMULATION_FILE",
    "HISTORY_COLUMNS",
    "load_geography",
    "load_history",
    "load_initial_state",
    "load_needs_file",
    "load_simulation",
    "overlay",
    "parse_simulation",
]

_HERE = Path(__file__).resolve().parent
DEFAULT_SIMULATION_FILE = _HERE / "simulation.toml"
DEFAULT_INITIAL_STATE_FILE = _HERE / "data" / "initial_state_2023_12.csv"
#: The shipped geography: Ukraine, its 11 neighbours and the rest of Europe.
DEFAULT_GEOGRAPHY_FILE = _HERE / "data" / "geography_ukraine.toml"
#: The observed history the default rates are calibrated on.
DEFAULT_HISTORY_FILES = (
    _HERE / "data" / "displacement_history_2022_2023.csv",
    _HERE / "data" / "plan_key_figures_2023_12.csv",
)
HISTORY_COLUMNS = ("series", "location", "date", "value", "source")

_DIST_PARAMS: dict[str, tuple[type, tuple[str, ...], tuple[str, ...]]] = {
    # dist name -> (class, required keys, optional keys)
    "fixed": (dm.Fixed, ("value",), ()),
    "uniform": (dm.Uniform, ("low", "high"), ()),
    "triangular": (dm.Triangular, ("low", "mode", "high"), ()),
    "lognormal": (dm.LogNormal, ("median", "sigma"), ()),
    "beta": (dm.Beta, ("alpha", "beta"), ()),
    "pareto": (dm.Pareto, ("scale", "shape"), ("cap",)),
}
_DIST_FIELD = {"median": "median_value"}
_NOT_FROM_FILE = {"source", "source_sha256", "initial_state", "needs_input"}


# --------------------------------------------------------------------------- simulation


def load_simulation(path: str | Path | None = None) -> SimulationAssumptions:
    """Load simulation assumptions from a TOML file's ``[simulation]`` table.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        A scenario file. Its ``[simulation]`` table (if any) overrides the
        shipped defaults key by key. ``None`` loads the defaults alone.

    Returns
    -------
    SimulationAssumptions
        With ``source`` and ``source_sha256`` set to the file read.

    Raises
    ------
    AssumptionError
        On invalid TOML, an unknown or misspelt key, a wrong type, a negative
        rate or any other invalid value; the error names the file and key.

    """
    default_doc = _read_toml(DEFAULT_SIMULATION_FILE)
    base = default_doc.get("simulation")
    if not isinstance(base, dict):
        raise AssumptionError("missing [simulation] table", file=str(DEFAULT_SIMULATION_FILE))
    if path is None:
        return parse_simulation(base, file=str(DEFAULT_SIMULATION_FILE), digest=_sha256(
            DEFAULT_SIMULATION_FILE))
    path = Path(path)
    doc = _read_toml(path)
    override = doc.get("simulation", {})
    if not isinstance(override, dict):
        raise AssumptionError("must be a table", file=str(path), key="simulation")
    merged = overlay(base, override)
    return parse_simulation(merged, file=str(path), digest=_sha256(path))


def parse_simulation(
    table: Mapping[str, Any], *, file: str = "<memory>", digest: str = ""
) -> SimulationAssumptions:
    """Build and validate assumptions from a complete ``[simulation]`` table.

    ``geography`` and ``needs_file`` are paths relative to ``file``'s folder (the
    current folder for ``"<memory>"``); they are stored absolute, and the files they
    name are read here: the geography with its initial state, the needs file checked
    for form (its locations, years and draws are checked against the plan when a run
    uses it).
    """
    built = _build(SimulationAssumptions, table, "simulation", file)
    base = Path(file).parent if file and not file.startswith("<") else Path.cwd()
    changes: dict[str, Any] = {"source": file, "source_sha256": digest}
    if built.geography:
        geo_path = (base / built.geography).resolve()
        changes["geography"] = str(geo_path)
        changes["initial_state"] = load_initial_state(geography=geo_path)
    if built.needs_file:
        needs_path = (base / built.needs_file).resolve()
        changes["needs_file"] = str(needs_path)
        try:
            changes["needs_input"] = load_needs_file(needs_path)
        except AssumptionError as error:
            # keep the needs file's name and row in the message: the scenario reader
            # names the scenario file and this key
            raise AssumptionError(str(error), file=file, key="simulation.needs_file") from None
    return dataclasses.replace(built, **changes)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise AssumptionError("file not found", file=str(path)) from None
    except tomllib.TOMLDecodeError as error:
        raise AssumptionError(f"not valid TOML: {error}", file=str(path)) from None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def overlay(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Lay ``override`` over ``base``; sub-tables merge, distributions replace."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if (
            isinstance(value, dict)
            and isinstance(current, dict)
            and "dist" not in value
            and "dist" not in current
        ):
            merged[key] = overlay(current, value)
        else:
            merged[key] = value
    return merged


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_name(value: object) -> str:
    return {dict: "table", list: "array", str: "string", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


def _build(cls: type, table: object, prefix: str, file: str) -> Any:
    """Build the dataclass ``cls`` from a TOML table, checking keys and types."""
    if not isinstance(table, dict):
        raise AssumptionError(f"must be a table, got {_type_name(table)}", file=file, key=prefix)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in _NOT_FROM_FILE}
    for key in table:
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise AssumptionError(
                f"unknown key '{key}'{hint} (known: {', '.join(fields)})",
                file=file,
                key=f"{prefix}.{key}",
            )
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        key = f"{prefix}.{name}"
        if name not in table:
            if spec.default is not dataclasses.MISSING:
                continue
            raise AssumptionError("missing key", file=file, key=key)
        values[name] = _convert(hints[name], table[name], key, file)
    try:
        return cls(**values)
    except AssumptionError as error:
        raise error.within(file=file, prefix=prefix) from None


def _convert(hint: Any, value: object, key: str, file: str) -> Any:
    if hint == Distribution:
        return _distribution(value, key, file)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _build(hint, value, key, file)
    origin = typing.get_origin(hint)
    if hint is bool:
        if not isinstance(value, bool):
            raise AssumptionError(
                f"must be true or false, got {_type_name(value)}", file=file, key=key
            )
        return value
    if hint is float or hint is int:
        if not _is_number(value):
            raise AssumptionError(f"must be a number, got {_type_name(value)}", file=file, key=key)
        return float(value)  # type: ignore[arg-type]
    if hint is str or origin is typing.Literal:
        if not isinstance(value, str):
            raise AssumptionError(f"must be a string, got {_type_name(value)}", file=file, key=key)
        allowed = typing.get_args(hint) if origin is typing.Literal else ()
        if allowed and value not in allowed:
            raise AssumptionError(
                f"must be one of {', '.join(map(repr, allowed))}, got {value!r}",
                file=file,
                key=key,
            )
        return value
    if origin is tuple:
        args = typing.get_args(hint)
        if args == (str, ...):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise AssumptionError("must be an array of strings", file=file, key=key)
            return tuple(value)
        if args == (tuple[str, float], ...):
            if not isinstance(value, dict) or not all(_is_number(v) for v in value.values()):
                raise AssumptionError(
                    "must be a table of location codes to numbers", file=file, key=key
                )
            return tuple((str(k), float(v)) for k, v in value.items())
    raise TypeError(f"no conversion for {hint!r} at {key}")  # a programming error


def _distribution(value: object, key: str, file: str) -> Distribution:
    """Parse a number (fixed) or an inline table ``{ dist = "...", ... }``."""
    if _is_number(value):
        return dm.Fixed(float(value))  # type: ignore[arg-type]
    if not isinstance(value, dict):
        raise AssumptionError(
            f"must be a number or a distribution table, got {_type_name(value)}",
            file=file,
            key=key,
        )
    kind = value.get("dist")
    if not isinstance(kind, str) or kind not in _DIST_PARAMS:
        raise AssumptionError(
            f"'dist' must be one of {', '.join(_DIST_PARAMS)}, got {kind!r}",
            file=file,
            key=f"{key}.dist",
        )
    cls, required, optional = _DIST_PARAMS[kind]
    params = {k: v for k, v in value.items() if k != "dist"}
    for name in params:
        if name not in required + optional:
            raise AssumptionError(
                f"unknown parameter '{name}' for a {kind} distribution "
                f"(expects {', '.join(required + optional)})",
                file=file,
                key=f"{key}.{name}",
            )
    for name in required:
        if name not in params:
            raise AssumptionError(
                f"missing parameter for a {kind} distribution", file=file, key=f"{key}.{name}"
            )
    for name, number in params.items():
        if not _is_number(number):
            raise AssumptionError(
                f"must be a number, got {_type_name(number)}", file=file, key=f"{key}.{name}"
            )
    kwargs = {_DIST_FIELD.get(k, k): float(v) for k, v in params.items()}
    try:
        dist: Distribution = cls(**kwargs)
    except AssumptionError as error:
        raise error.within(file=file, prefix=key) from None
    return dist


# --------------------------------------------------------------------------- initial state


def _geography_file(path: Path) -> tuple[Geography, Path]:
    """Read a geography TOML file: the geography and the path of its initial state."""
    file = str(path)
    doc = _read_toml(path)
    table = doc.get("geography")
    if not isinstance(table, dict):
        raise AssumptionError("missing [geography] table", file=file)
    known = ("name", "origin", "hosts", "sink", "protection", "route_shares", "initial_state")
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise AssumptionError(
                f"unknown key '{key}'{hint} (known: {', '.join(known)})",
                file=file, key=f"geography.{key}",
            )
    for key in ("name", "origin", "sink", "initial_state"):
        if not isinstance(table.get(key), str) or not table[key].strip():
            raise AssumptionError("missing or not text", file=file, key=f"geography.{key}")
    for key in ("hosts", "protection"):
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise AssumptionError("must be an array of location codes", file=file,
                                  key=f"geography.{key}")
    route = table.get("route_shares", {})
    if not isinstance(route, dict) or not all(_is_number(v) for v in route.values()):
        raise AssumptionError("must be a table of location codes to numbers", file=file,
                              key="geography.route_shares")
    try:
        geography = Geography(
            name=table["name"].strip(),
            origin=table["origin"].strip(),
            hosts=tuple(c.strip() for c in table.get("hosts", [])),
            sink=table["sink"].strip(),
            protection=tuple(c.strip() for c in table.get("protection", [])),
            route_shares=tuple((str(k), float(v)) for k, v in route.items()),
            source=file,
        )
    except AssumptionError as error:
        raise error.within(file=file, prefix="geography") from None
    return geography, path.parent / table["initial_state"]


def load_geography(path: str | Path | None = None) -> Geography:
    """Read a geography file (default: the shipped Ukraine one, :data:`DEFAULT_GEOGRAPHY_FILE`).

    Raises
    ------
    AssumptionError
        Naming the file and the key at fault.

    """
    return _geography_file(Path(DEFAULT_GEOGRAPHY_FILE if path is None else path))[0]


def load_initial_state(
    path: str | Path | None = None, *, geography: str | Path | Geography | None = None
) -> InitialState:
    """Load the initial stocks of a geography from a CSV table.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        The CSV table; default: the one the geography file names (for the shipped
        geography, December 2023).
    geography : path or Geography, optional
        The geography the stocks are in (a file, or one already read); default: the
        shipped Ukraine geography. With a ``Geography`` object, ``path`` is required
        unless it is the shipped one.

    The table has columns ``series, location_code, month, value, source`` with rows
    ``idps``, ``returnees`` and ``population`` (``population_in_ukraine`` is read
    the same) for the origin, ``refugees`` for each host and the sink, and
    optionally ``refugees_in_europe`` (EUR), which must equal the sum of the refugee
    rows. The non-displaced population is ``population - idps - returnees``.

    Raises
    ------
    AssumptionError
        Naming the file and the row or value at fault.

    """
    if isinstance(geography, Geography):
        geo, own_csv = geography, DEFAULT_INITIAL_STATE_FILE
        if path is None and geography.source != str(DEFAULT_GEOGRAPHY_FILE):
            raise AssumptionError("no initial state file given", file=geography.source)
    else:
        geo, own_csv = _geography_file(
            Path(DEFAULT_GEOGRAPHY_FILE if geography is None else geography)
        )
    path = Path(own_csv if path is None else path)
    file = str(path)
    try:
        frame = pd.read_csv(path, dtype={"value": "string", "month": "string"})
    except FileNotFoundError:
        raise AssumptionError("file not found", file=file) from None
    missing = {"series", "location_code", "month", "value"} - set(frame.columns)
    if missing:
        raise AssumptionError(f"missing columns {sorted(missing)}", file=file)
    values: dict[tuple[str, str], float] = {}
    months = set()
    for row, record in enumerate(frame.itertuples(index=False), start=2):
        key = f"row {row}"
        try:
            number = float(str(record.value))
        except ValueError:
            raise AssumptionError(
                f"value {record.value!r} is not a number", file=file, key=f"{key}, column value"
            ) from None
        if not math.isfinite(number) or number < 0:
            raise AssumptionError("value must be non-negative", file=file, key=key)
        series = str(record.series)
        if series == "population_in_ukraine":
            series = "population"
        values[(series, str(record.location_code))] = number
        months.add(str(record.month))
    if len(months) != 1:
        raise AssumptionError(f"all rows must share one month, got {sorted(months)}", file=file)
    month = dm.month_index(months.pop(), key="month")

    def need(series: str, location: str) -> float:
        if (series, location) not in values:
            raise AssumptionError(f"missing row {series},{location}", file=file)
        return values[(series, location)]

    idps = need("idps", geo.origin)
    returnees = need("returnees", geo.origin)
    population = need("population", geo.origin)
    refugees = tuple(need("refugees", code) for code in geo.refugee_locations)
    if ("refugees_in_europe", "EUR") in values:
        stated = values[("refugees_in_europe", "EUR")]
        if not math.isclose(stated, sum(refugees), abs_tol=1.0):
            raise AssumptionError(
                f"refugees_in_europe ({stated:,.0f}) differs from the sum of the refugee rows "
                f"({sum(refugees):,.0f})",
                file=file,
            )
    non_displaced = population - idps - returnees
    if non_displaced < 0:
        raise AssumptionError(
            f"the population of {geo.origin} is smaller than IDPs plus returnees", file=file
        )
    try:
        return InitialState(
            month=month,
            idps=idps,
            returnees=returnees,
            non_displaced=non_displaced,
            refugees=refugees,
            geography=geo,
        )
    except AssumptionError as error:
        raise error.within(file=file) from None


def load_needs_file(path: str | Path) -> NeedsInput:
    """Read a needs file: people in need per draw, location and year.

    Columns ``draw, location_code, year, people_in_need`` (others are ignored);
    ``draw`` and ``year`` whole numbers, draws from 0; ``people_in_need`` a finite
    non-negative number of persons; one row per draw, location and year.

    Raises
    ------
    AssumptionError
        Naming the file, and the row (header = 1) and field at fault.

    """
    path = Path(path)
    file = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise AssumptionError("file not found", file=file) from None
    except OSError as error:
        raise AssumptionError(f"cannot read: {error.strerror}", file=file) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AssumptionError("not UTF-8 text", file=file) from None
    reader = csv.reader(text.splitlines())
    header, at = _column_positions(
        reader, NEEDS_FILE_COLUMNS,
        lambda message, header_row: AssumptionError(
            message, file=file, key="row 1" if header_row else None),
    )
    draws, locations, years, pins, rows = [], [], [], [], []
    seen: dict[tuple[int, str, int], int] = {}
    for row, cells in enumerate(reader, start=2):
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise AssumptionError(
                f"expected {len(header)} fields, found {len(cells)}", file=file, key=f"row {row}"
            )

        def whole(column: str, row: int = row, cells: list[str] = cells) -> int:
            text = cells[at[column]].strip()
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if not math.isfinite(number) or number != int(number) or number < 0:
                raise AssumptionError(
                    f"{text!r} is not a whole number >= 0", file=file,
                    key=f"row {row}, field {column}",
                )
            return int(number)

        draw, year = whole("draw"), whole("year")
        location = cells[at["location_code"]].strip()
        if not location:
            raise AssumptionError("empty location code", file=file,
                                  key=f"row {row}, field location_code")
        text = cells[at["people_in_need"]].strip()
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < 0:
            raise AssumptionError(
                f"{text!r} is not a number of people (finite, >= 0)", file=file,
                key=f"row {row}, field people_in_need",
            )
        key = (draw, location, year)
        if key in seen:
            raise AssumptionError(
                f"draw {draw}, {location} {year} is given twice (also row {seen[key]})",
                file=file, key=f"row {row}",
            )
        seen[key] = row
        draws.append(draw)
        locations.append(location)
        years.append(year)
        pins.append(value)
        rows.append(row)
    if not rows:
        raise AssumptionError("no rows", file=file)
    return NeedsInput(
        path=file,
        sha256=hashlib.sha256(raw).hexdigest(),
        draws=np.asarray(draws, dtype=np.int64),
        locations=np.asarray(locations, dtype=object),
        years=np.asarray(years, dtype=np.int64),
        people_in_need=np.asarray(pins, dtype=float),
        rows=np.asarray(rows, dtype=np.int64),
    )


# --------------------------------------------------------------------------- history

_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def _parse_date(text: str) -> tuple[pd.Timestamp, bool] | None:
    """Parse ``YYYY-MM-DD``, ``YYYY-MM`` (month end), ``YYYY`` (year end) or ``A/B`` (the later).

    Returns the date and whether it was a whole month, or ``None`` if invalid.
    """
    parts = text.split("/")
    if len(parts) > 2 or not all(_DATE.match(p.strip()) for p in parts):
        return None
    parsed = []
    for part in parts:
        part = part.strip()
        try:
            if len(part) == 4:
                parsed.append((pd.Period(part, freq="Y").to_timestamp(how="end").normalize(), True))
            elif len(part) == 7:
                parsed.append((pd.Period(part, freq="M").to_timestamp(how="end").normalize(), True))
            else:
                parsed.append((pd.Timestamp(part), False))
        except ValueError:
            return None
    return max(parsed, key=lambda item: item[0])



def _column_positions(
    reader: Iterator[list[str]],
    columns: Sequence[str],
    error: Callable[[str, bool], Exception],
) -> tuple[list[str], dict[str, int]]:
    """Read a CSV header: the header (stripped) and the position of each required column.

    ``error(message, header_row)`` builds the exception to raise: for an empty file
    (``header_row`` False) or a header missing columns (True, the message names them and
    the expected ones).
    """
    header = next(reader, None)
    if header is None:
        raise error("empty file", False)
    header = [h.strip() for h in header]
    missing = [c for c in columns if c not in header]
    if missing:
        raise error(
            f"missing column(s) {', '.join(missing)}; expected {', '.join(columns)}", True
        )
    return header, {c: header.index(c) for c in columns}

def load_history(paths: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """Read observed histories in the shared format and stack them.

    Parameters
    ----------
    paths : path or iterable of paths
        CSV files with columns ``series, location, date, value, source``.

    Returns
    -------
    pandas.DataFrame
        Columns ``series, location, date (Timestamp), whole_month (bool),
        value (float), source, file, row``.

    Raises
    ------
    HistoryError
        On a missing column, an unreadable date or a non-numeric value, naming
        the file, row (as numbered in the file, header = 1) and column.

    """
    files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    records = []
    for path in files:
        file = str(path)
        try:
            handle = path.open(newline="", encoding="utf-8")
        except FileNotFoundError:
            raise HistoryError("file not found", file=file) from None
        with handle:
            reader = csv.reader(handle)
            header, index = _column_positions(
                reader, HISTORY_COLUMNS,
                lambda message, header_row, file=file: HistoryError(
                    message, file=file, row=1 if header_row else None),
            )
            for row, cells in enumerate(reader, start=2):
                if not cells or all(not c.strip() for c in cells):
                    continue
                if len(cells) < len(header):
                    raise HistoryError(
                        f"expected {len(header)} fields, found {len(cells)}", file=file, row=row
                    )
                date_text = cells[index["date"]].strip()
                parsed = _parse_date(date_text)
                if parsed is None:
                    raise HistoryError(
                        f"cannot read date {date_text!r} (expected YYYY-MM-DD or YYYY-MM)",
                        file=file,
                        row=row,
                        column="date",
                    )
                value_text = cells[index["value"]].strip()
                try:
                    value = float(value_text)
                except ValueError:
                    value = math.nan
                if not math.isfinite(value):
                    raise HistoryError(
                        f"value {value_text!r} is not a finite number",
                        file=file,
                        row=row,
                        column="value",
                    )
                series = cells[index["series"]].strip()
                if not series:
                    raise HistoryError("empty series name", file=file, row=row, column="series")
                records.append(
                    {
                        "series": series,
                        "location": cells[index["location"]].strip(),
                        "date": parsed[0],
                        "whole_month": parsed[1],
                        "value": value,
                        "source": cells[index["source"]].strip(),
                        "file": file,
                        "row": row,
                    }
                )
    if not records:
        raise HistoryError("no observations", file=", ".join(str(p) for p in files))
    return pd.DataFrame.from_records(records)

