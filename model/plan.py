"""The plan: requirements, people and planning assumptions, keyed by named indices.

A :class:`Plan` is built from validated tables (see :mod:`model.validation`)
and never from files directly. Indices are data: locations, sectors, years and
objectives are the ``pandas.Index`` objects :attr:`Plan.locations_index` etc.,
taken from the plan's own tables, so a planner's plan with other sectors or
countries works the same way as the shipped default plan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import pandas as pd

from reachplan.model.errors import ReachplanError
from reachplan.model.tables import (
    NO_OBJECTIVE,
    NO_OBJECTIVE_NAME,
    SECTOR_STATUSES,
    TABLES,
    TABLES_BY_NAME,
)

CELL = ["location_code", "sector_code", "year"]
"""Dimensions of an allocation cell (objective shares follow the plan's split)."""


ALWAYS_PRESENT = {"populations": ("sector_code",), "locations": ("parent_code",)}
"""Optional columns every canonical table has ("" where the file leaves them out): a
location-level populations row has a blank ``sector_code``, a country a blank
``parent_code``."""


class PlanError(ReachplanError, ValueError):
    """A plan cannot be built or used as asked; the message says why in planner words."""


def _canonical(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Canonical form of a table: spec columns only, sorted by key, fresh index."""
    spec = TABLES_BY_NAME[name]
    out = frame.loc[:, [c for c in spec.column_names if c in frame.columns]].copy()
    for column in ALWAYS_PRESENT.get(name, ()):
        if column not in out.columns:
            out[column] = ""
    out = out.loc[:, [c for c in spec.column_names if c in out.columns]]
    for col in spec.columns:
        if col.name not in out.columns:
            continue
        if col.kind in ("money", "number"):
            out[col.name] = pd.to_numeric(out[col.name]).astype(float)
        elif col.kind in ("int", "year"):
            if out[col.name].isna().any():
                out[col.name] = out[col.name].astype("Int64")
            else:
                out[col.name] = out[col.name].astype("int64")
        else:
            out[col.name] = out[col.name].fillna("").astype(str)
    keys = [k for k in spec.key if k in out.columns]
    if keys and name != "settings" and not _is_sorted(out, keys):
        out = out.sort_values(keys, kind="stable")
    return out.reset_index(drop=True)


def implicit_objective_table() -> pd.DataFrame:
    """The ``objectives`` table of a plan without strategic objectives: one row, ``ALL``."""
    return pd.DataFrame(
        {
            "objective_code": [NO_OBJECTIVE],
            "objective_name": [NO_OBJECTIVE_NAME],
            "tier": pd.array([pd.NA], dtype="Int64"),
        }
    )


def _blank_cell(value: object) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value))) or (
        isinstance(value, str) and value.strip() == ""
    )


def with_implicit_objective(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``tables`` with the implicit objective filled in when the plan states none.

    When no requirement row names an objective (the column is absent or every cell blank)
    and the ``objectives`` table is missing or empty, every requirement row gets
    ``model.tables.NO_OBJECTIVE`` and ``objectives`` becomes :func:`implicit_objective_table`.
    Otherwise the tables are returned unchanged (validation reports a plan where some rows
    have an objective and others none).
    """
    out = dict(tables)
    req = out.get("requirements")
    if req is None:
        return out
    objectives = out.get("objectives")
    if objectives is not None and not objectives.empty:
        return out
    if "objective" in req.columns and not all(_blank_cell(v) for v in req["objective"]):
        return out
    out["requirements"] = req.assign(objective=NO_OBJECTIVE)
    out["objectives"] = implicit_objective_table()
    return out


def derive_location_populations(populations: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple]]:
    """Add location-level rows a plan gives only per sector.

    Where a location has rows of a status for some sectors (``sector_code`` not blank) but
    no location-level row of that status for that year, the location-level figure is the
    largest sector figure: the people in need (targeted, reached) of a location are unique
    people, at least as many as in its most concerned sector, and without the plan's own
    intersectoral figure that lower bound is the honest one. The added rows have origin
    ``derived`` and say so in their note.

    Returns
    -------
    populations, derived
        The table with the added rows, and one ``(location_code, year, status, value, row)``
        per added row (``row``: the ``_row`` of the largest sector row, when there is one).
    """
    if "sector_code" not in populations.columns or populations.empty:
        return populations, []
    sector = populations["sector_code"].fillna("").astype(str).str.strip()
    by_sector = populations[(sector != "") & populations["population_status"].isin(
        SECTOR_STATUSES)]
    if by_sector.empty:
        return populations, []
    have = set(
        zip(
            populations.loc[sector == "", "location_code"],
            populations.loc[sector == "", "year"],
            populations.loc[sector == "", "population_status"],
            strict=True,
        )
    )
    values = pd.to_numeric(by_sector["population"], errors="coerce")
    added: list[dict[str, object]] = []
    derived: list[tuple] = []
    for (loc, year, status), idx in by_sector.groupby(
        ["location_code", "year", "population_status"], sort=True
    ).groups.items():
        if (loc, year, status) in have:
            continue
        group = values.loc[idx].dropna()
        if group.empty:
            continue
        top = group.idxmax()
        value = float(group.loc[top])
        source_sector = str(populations.loc[top, "sector_code"])
        record: dict[str, object] = {c: None for c in populations.columns}
        record.update(
            location_code=loc,
            sector_code="",
            year=year,
            population_status=status,
            population=value,
        )
        if "origin" in populations.columns:
            record["origin"] = "derived"
        if "note" in populations.columns:
            record["note"] = (
                f"largest sector figure ({source_sector}): a lower bound of unique people"
            )
        row = populations.loc[top, "_row"] if "_row" in populations.columns else None
        if "_row" in populations.columns:
            record["_row"] = row
        added.append(record)
        derived.append((loc, year, status, value, row))
    if not added:
        return populations, []
    extra = pd.DataFrame.from_records(added, columns=list(populations.columns))
    out = pd.concat([populations, extra.astype(populations.dtypes.to_dict(), errors="ignore")],
                    ignore_index=True)
    return out, derived


def _is_sorted(frame: pd.DataFrame, keys: list[str]) -> bool:
    """Whether the rows are already in key order (then sorting would change nothing)."""
    rows = list(zip(*(frame[k].tolist() for k in keys), strict=True))
    try:
        return all(a <= b for a, b in zip(rows, rows[1:], strict=False))
    except TypeError:
        return False


@dataclass(frozen=True, eq=False)
class Plan:
    """A response plan: every table in canonical form plus where it came from.

    Attributes
    ----------
    tables
        Canonical tables keyed by name (see :mod:`model.tables`). Read-only mapping.
    source
        Label of where the plan was read from (directory or workbook path).
    """

    tables: Mapping[str, pd.DataFrame]
    source: str = ""
    _fingerprint: str = field(default="", repr=False)

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def from_tables(cls, tables: Mapping[str, pd.DataFrame], source: str = "") -> Plan:
        """Build a plan from typed tables (as returned by validation).

        Raises
        ------
        PlanError
            If a required table is missing.
        """
        tables = with_implicit_objective(tables)
        if "objectives" not in tables and "requirements" in tables:
            raise PlanError(
                "missing table 'objectives' (the requirements name strategic objectives)"
            )
        if "populations" in tables:
            pops = tables["populations"]
            if "sector_code" not in pops.columns:
                pops = pops.assign(sector_code="")
            tables["populations"] = derive_location_populations(pops)[0]
        canonical: dict[str, pd.DataFrame] = {}
        for spec in TABLES:
            if spec.name in tables:
                canonical[spec.name] = _canonical(spec.name, tables[spec.name])
            elif spec.required:
                raise PlanError(f"missing table '{spec.name}'")
        digest = hashlib.sha256()
        for name, frame in canonical.items():
            digest.update(name.encode())
            digest.update(frame.to_csv(index=False, lineterminator="\n").encode())
        return cls(MappingProxyType(canonical), source, digest.hexdigest())

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle as the tables themselves (worker processes rebuild the same plan)."""
        return (_unpickle_plan, (dict(self.tables), self.source, self._fingerprint))

    # ---- identity -------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        """SHA-256 of the plan's canonical content: same plan, same fingerprint."""
        return self._fingerprint

    @property
    def settings(self) -> Mapping[str, str]:
        """Key/value settings (name, currency, source document, assumptions)."""
        s = self.tables["settings"]
        return MappingProxyType(dict(zip(s["key"], s["value"], strict=True)))

    @property
    def name(self) -> str:
        """Plan title from the settings table."""
        return self.settings.get("name", "Unnamed plan")

    # ---- indices ----------------------------------------------------------------------
    @property
    def locations(self) -> pd.DataFrame:
        """Locations keyed by ``location_code``: name, region, kind."""
        return self.tables["locations"].set_index("location_code")

    @property
    def sectors(self) -> pd.DataFrame:
        """Sectors keyed by ``sector_code``: name and IASC cluster."""
        return self.tables["sectors"].set_index("sector_code")

    @property
    def objectives(self) -> pd.DataFrame:
        """Strategic objectives keyed by ``objective_code``."""
        return self.tables["objectives"].set_index("objective_code")

    @property
    def has_objectives(self) -> bool:
        """Whether the plan states strategic objectives (False: one implicit ``ALL``)."""
        codes = list(self.tables["objectives"]["objective_code"])
        return codes != [NO_OBJECTIVE]

    @property
    def country_of(self) -> pd.Series:
        """Code of the country at the top of each location, indexed by ``location_code``.

        A country, and a regional line, is its own; an admin1 area gives its parent's code, an
        admin2 area its parent's parent's. Reports roll sub-national lines up to country
        with it.
        """
        locs = self.tables["locations"]
        parent = (
            dict(zip(locs["location_code"], locs["parent_code"], strict=True))
            if "parent_code" in locs.columns
            else {}
        )
        top: dict[str, str] = {}
        for code in locs["location_code"]:
            current, seen = str(code), set()
            while parent.get(current) and current not in seen:
                seen.add(current)
                current = str(parent[current])
            top[str(code)] = current
        return pd.Series(top, name="country_code", dtype=object).rename_axis("location_code")

    @property
    def locations_index(self) -> pd.Index:
        """Location codes in table order."""
        return pd.Index(self.tables["locations"]["location_code"], name="location_code")

    @property
    def sectors_index(self) -> pd.Index:
        """Sector codes in table order."""
        return pd.Index(self.tables["sectors"]["sector_code"], name="sector_code")

    @property
    def objectives_index(self) -> pd.Index:
        """Objective codes in table order."""
        return pd.Index(self.tables["objectives"]["objective_code"], name="objective")

    @property
    def years(self) -> pd.Index:
        """Years that carry requirements, ascending."""
        return pd.Index(sorted(self.tables["requirements"]["year"].unique()), name="year")

    @property
    def regions(self) -> pd.Index:
        """Region codes in order of first appearance."""
        return pd.Index(pd.unique(self.tables["locations"]["region"]), name="region")

    # ---- money ---------------------------------------------------------------------------
    @property
    def requirements(self) -> pd.DataFrame:
        """Long requirement table with a ``region`` column added."""
        req = self.tables["requirements"]
        region = self.tables["locations"].set_index("location_code")["region"]
        out = req.copy()
        out["region"] = out["location_code"].map(region)
        return out

    def requirement_by(self, *dims: str) -> pd.Series:
        """Total requirement in USD grouped by ``dims`` (any of the requirement columns or region).

        With no dims, a one-element series holding the grand total.
        """
        req = self.requirements
        if not dims:
            return pd.Series({"total": float(req["requirements_usd"].sum())})
        return req.groupby(list(dims), sort=True)["requirements_usd"].sum()

    def cell_requirements(self) -> pd.Series:
        """Requirement in USD per allocation cell (location, sector, year), summed over objectives.

        Only cells the plan has are present: a sector not planned in a location is
        absent (masked), not zero.
        """
        s = self.requirement_by(*CELL)
        return s[s > 0]

    def objective_shares(self) -> pd.DataFrame:
        """Share of each cell's requirement per objective.

        Returns
        -------
        pandas.DataFrame
            Index (location_code, sector_code, year), one column per objective;
            rows sum to 1.
        """
        req = self.tables["requirements"]
        wide = req.pivot_table(
            index=CELL,
            columns="objective",
            values="requirements_usd",
            aggfunc="sum",
            fill_value=0.0,
        )
        wide = wide.reindex(columns=self.objectives_index, fill_value=0.0)
        totals = wide.sum(axis=1)
        wide = wide[totals > 0]
        return wide.div(wide.sum(axis=1), axis=0)

    # ---- people ---------------------------------------------------------------------------
    def population(self, status: str) -> pd.Series:
        """People (or entities) of one status per (location_code, year); absent cells omitted."""
        pops = self.tables.get("populations")
        if pops is None:
            return pd.Series(dtype=float)
        sel = pops[(pops["population_status"] == status) & (pops["sector_code"] == "")]
        return sel.set_index(["location_code", "year"])["population"].sort_index()

    def sector_population(self, status: str) -> pd.Series:
        """People (or entities) of one status per sector (cluster).

        From the populations rows that give a ``sector_code``.

        Returns
        -------
        pandas.Series
            Indexed (location_code, sector_code, year), sorted; empty when the plan gives no
            sector rows of ``status``.
        """
        names = ["location_code", "sector_code", "year"]
        pops = self.tables.get("populations")
        if pops is None:
            sel = pd.DataFrame(columns=[*names, "population"])
        else:
            sel = pops[(pops["population_status"] == status) & (pops["sector_code"] != "")]
        if sel.empty:
            return pd.Series(
                dtype=float,
                index=pd.MultiIndex.from_arrays([[], [], []], names=names),
                name="population",
            )
        return sel.set_index(names)["population"].astype(float).sort_index()


def _unpickle_plan(tables: dict[str, pd.DataFrame], source: str, fingerprint: str) -> Plan:
    return Plan(MappingProxyType(tables), source, fingerprint)


def plans_equal(a: Plan, b: Plan) -> bool:
    """Whether two plans hold exactly the same tables (same fingerprint)."""
    return a.fingerprint == b.fingerprint and set(a.tables) == set(b.tables)
