"""What every report shares about the plan's shape: money columns, countries, what applies.

- **Money in files.** A column whose name ends in ``_usd`` (or holds ``_usd_``, as
  ``allocated_usd_mean``) holds US dollars. Amounts
  (requirements, allocations, funding) are rounded to the cent in CSV files
  (:func:`round_money`) and written as whole dollars with thousands separators in
  workbooks (:func:`is_money_amount`); the float noise of sums (``24499999.999999996``)
  never reaches a planner. Prices per person (``unit_cost_usd``,
  ``cost_per_person_usd``, ``threshold_unit_cost_usd``) are not amounts: a unit cost of
  $0.004 per person must not become $0.00, so they keep :data:`RATE_DECIMALS` decimals.
- **Countries.** Sub-national lines (locations of kind ``admin1``/``admin2``) roll up to
  the country at the top of their ``parent_code`` chain (:func:`country_of`); wherever a
  report shows a country view it sums them there, and shows the sub-national detail in
  a table of its own (only when the plan has such lines).
- **Sections that apply.** A plan without strategic objectives (``Plan.has_objectives``
  False) gets no objective breakdown; without entity lines no entities figures; without
  sub-national lines no sub-national table.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = [
    "MONEY_DECIMALS",
    "RATE_DECIMALS",
    "SUBNATIONAL_KINDS",
    "country_of",
    "has_objectives",
    "has_subnational",
    "is_money_amount",
    "is_money_rate",
    "location_kinds",
    "round_money",
    "roll_up",
]

MONEY_DECIMALS = 2
"""Decimals of a USD amount in CSV files (cents)."""

RATE_DECIMALS = 6
"""Decimals of a USD price per person in CSV files."""

SUBNATIONAL_KINDS = ("admin1", "admin2")
"""Location kinds that roll up to a country."""

_RATE_MARKERS = ("unit_cost", "per_person")


def _is_usd(name: str) -> bool:
    return name.endswith("_usd") or "_usd_" in name


def is_money_rate(column: str) -> bool:
    """Whether ``column`` is a price per person in USD (kept with :data:`RATE_DECIMALS`)."""
    name = str(column)
    return _is_usd(name) and any(m in name for m in _RATE_MARKERS)


def is_money_amount(column: str) -> bool:
    """Whether ``column`` is an amount of USD, not a rate.

    Its name ends in ``_usd`` or holds ``_usd_`` (``allocated_usd_mean``).
    """
    name = str(column)
    return _is_usd(name) and not is_money_rate(name)


def round_money(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with USD amounts rounded to the cent and rates to 6 decimals.

    Only numeric USD columns (``*_usd``, ``*_usd_*``) change; NaN stays NaN. ``round``
    gives the float nearest to the decimal, whose shortest text (what the CSV writers
    print) has at most that many decimals.
    """
    out = frame.copy()
    for col in out.columns:
        if not _is_usd(str(col)) or not pd.api.types.is_numeric_dtype(out[col]):
            continue
        if pd.api.types.is_bool_dtype(out[col]):
            continue
        decimals = RATE_DECIMALS if is_money_rate(col) else MONEY_DECIMALS
        rounded = np.round(out[col].to_numpy(dtype=float), decimals)
        out[col] = rounded + 0.0  # no negative zero
    return out


def has_objectives(plan: object) -> bool:
    """Whether the plan states strategic objectives (``Plan.has_objectives``, else True)."""
    return bool(getattr(plan, "has_objectives", True))


def location_kinds(plan: object) -> pd.Series:
    """``kind`` of each location (``country`` when the table has no kind), by code."""
    locs = plan.tables["locations"]  # type: ignore[attr-defined]
    codes = locs["location_code"].astype(str)
    kinds = (locs["kind"].fillna("").astype(str) if "kind" in locs.columns
             else pd.Series("country", index=locs.index))
    return pd.Series(kinds.to_numpy(), index=pd.Index(codes, name="location_code"),
                     name="kind")


def country_of(plan: object) -> pd.Series:
    """Code of the country at the top of each location (itself for countries, regional).

    ``Plan.country_of`` when the plan has it; else computed from the ``parent_code``
    column of the locations table (each location is followed up its parents until one
    without a parent; a cycle stops where it closes). Without ``parent_code`` every
    location is its own country.
    """
    own = getattr(plan, "country_of", None)
    if own is not None:
        series = own() if callable(own) else own
        return pd.Series({str(k): str(v) for k, v in series.items()}, name="country_code",
                         dtype=object)
    locs = plan.tables["locations"]  # type: ignore[attr-defined]
    codes = [str(c) for c in locs["location_code"]]
    if "parent_code" not in locs.columns:
        return pd.Series(dict(zip(codes, codes, strict=True)), name="country_code",
                         dtype=object)
    parents = {c: ("" if pd.isna(p) else str(p).strip())
               for c, p in zip(codes, locs["parent_code"], strict=True)}
    top = {}
    for code in codes:
        seen = {code}
        current = code
        while parents.get(current, "") and parents[current] not in seen:
            current = parents[current]
            seen.add(current)
        top[code] = current
    return pd.Series(top, name="country_code", dtype=object)


def has_subnational(plan: object, codes: Iterable[str] | None = None) -> bool:
    """Whether any of ``codes`` (default: the plan's requirement lines) rolls up elsewhere."""
    if codes is None:
        codes = plan.tables["requirements"]["location_code"]  # type: ignore[attr-defined]
    top = country_of(plan)
    return any(top.get(str(c), str(c)) != str(c) for c in set(codes))


def roll_up(frame: pd.DataFrame, countries: pd.Series, by: Iterable[str],
            columns: Iterable[str]) -> pd.DataFrame:
    """Sum ``columns`` of ``frame`` by ``by``, ``location_code`` replaced by its country.

    Parameters
    ----------
    frame
        A long table with a ``location_code`` column.
    countries
        :func:`country_of`; a code it does not know is its own country.
    by
        Grouping columns (``location_code`` among them means the country).
    columns
        Numeric columns to sum.

    Returns
    -------
    pandas.DataFrame
        One row per group, the groups as columns, in sorted order.
    """
    out = frame.copy()
    codes = out["location_code"].astype(str)
    out["location_code"] = codes.map(countries).fillna(codes)
    return out.groupby(list(by), sort=True)[list(columns)].sum().reset_index()
