"""Derive every cell of a plan (location x sector x year x objective) from a document's tables.

Response plans publish margins, not cells: requirements by objective, region and
year; a sector table per region for the first year (with tick marks for the
objectives each sector serves); a requirement per country for the first year;
people targeted per country. This module fills the cells with one documented,
reproducible method that matches every margin given:

1. **Objective split of each sector** (first year, per region): iterative
   proportional fitting (IPF) of a sector x objective table whose seed is 1
   where the sector serves the objective (its ticks) and 0 elsewhere, to the
   sector amounts (rows) and the objective amounts (columns). Single-objective
   sectors are fixed by their tick; the money of multi-objective sectors is
   split so that the objective columns add up. When the document's columns
   and rows disagree on the total (rounding), the column targets are scaled to
   the row total and the gap is reported as a contradiction.
2. **Location x sector** (first year, per region): IPF of a location x sector
   table with a uniform seed to the country amounts and the sector amounts. A
   region with one location takes the sector amounts directly.
3. **Cells of the first year**: location x sector amount times the sector's
   objective shares.
4. **Later years**: each (region, objective) block of the first year scaled to
   that year's (region, objective) amount: IPF with the first year as seed and
   the only margin the document gives.

Everything here is pure: tables in, tables out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reachplan.model.tables import TABLES_BY_NAME
from reachplan.model.validation import compute_stated, stated_total_agrees
from reachplan.scenarios.build_plan.fitting import ipf


@dataclass(frozen=True, eq=False)
class DocumentTables:
    """The transcribed tables of a plan document (see ``scenarios/default_plan/source``).

    Attributes
    ----------
    objectives
        objective_code, objective_name.
    sectors
        sector_code, iasc_cluster.
    objective_region_year
        objective, region, year, requirements_usd.
    sector_requirements
        region, sector_code, sector_name, requirements_usd, objectives (``;``-separated).
    country_requirements
        location_code, location_name, region, kind, requirements_usd (may be empty
        for the only location of a region).
    targets
        location_code, people_targeted, entities_targeted (empty = not stated).
    key_figures
        figure, location_code, region, population_status, year, value, section, note.
    headline_figures
        figure, objective, region, year, value, precision, section, note.
    refugee_stocks
        location_code, refugees: displaced-population stocks used to spread the
        regional people-in-need figure over host countries.
    settings
        key, value, note rows copied to the plan.
    sector_cost_index
        sector_code, cost_index, origin, source, note: relative cost per person between
        sectors (planning assumptions, see ``source/README.md``), copied to the plan.
    """

    objectives: pd.DataFrame
    sectors: pd.DataFrame
    objective_region_year: pd.DataFrame
    sector_requirements: pd.DataFrame
    country_requirements: pd.DataFrame
    targets: pd.DataFrame
    key_figures: pd.DataFrame
    headline_figures: pd.DataFrame
    refugee_stocks: pd.DataFrame
    settings: pd.DataFrame
    sector_cost_index: pd.DataFrame | None = None


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value == ""


def split_objectives(
    sector_amounts: pd.Series, ticks: Mapping[str, list[str]], objective_amounts: pd.Series
) -> pd.DataFrame:
    """Split each sector's amount among the objectives it serves (step 1).

    Parameters
    ----------
    sector_amounts
        USD per sector, shape (n_sectors,).
    ticks
        Objectives each sector serves.
    objective_amounts
        USD per objective, shape (n_objectives,); scaled to the sector total.

    Returns
    -------
    pandas.DataFrame
        USD, sectors x objectives; rows sum to ``sector_amounts``.
    """
    sectors = list(sector_amounts.index)
    objectives = list(objective_amounts.index)
    seed = np.zeros((len(sectors), len(objectives)))
    for i, s in enumerate(sectors):
        for o in ticks[s]:
            seed[i, objectives.index(o)] = 1.0
    rows = sector_amounts.to_numpy(dtype=float)
    cols = objective_amounts.to_numpy(dtype=float)
    cols = cols * rows.sum() / cols.sum()
    fitted = ipf(seed, [rows, cols], [0, 1])
    return pd.DataFrame(fitted, index=sectors, columns=objectives)


def spread_locations(location_amounts: pd.Series, sector_amounts: pd.Series) -> pd.DataFrame:
    """Spread sector amounts over locations to match both margins (step 2).

    Returns
    -------
    pandas.DataFrame
        USD, locations x sectors.
    """
    seed = np.ones((len(location_amounts), len(sector_amounts)))
    fitted = ipf(
        seed,
        [location_amounts.to_numpy(dtype=float), sector_amounts.to_numpy(dtype=float)],
        [0, 1],
    )
    return pd.DataFrame(fitted, index=location_amounts.index, columns=sector_amounts.index)


def _round_preserving(values: pd.Series, groups: pd.Series, targets: pd.Series) -> pd.Series:
    """Round to cents; put each group's rounding residual on its largest cell."""
    rounded = values.round(2)
    for key, idx in values.groupby(groups).groups.items():
        residual = round(float(targets[key]) - float(rounded[idx].sum()), 2)
        if residual:
            biggest = values[idx].idxmax()
            rounded[biggest] = round(rounded[biggest] + residual, 2)
    return rounded


def derive_requirements(doc: DocumentTables) -> pd.DataFrame:
    """All requirement cells: location, sector, year, objective, requirements_usd, origin, note."""
    ory = doc.objective_region_year
    first_year = int(ory["year"].min())
    years = sorted(int(y) for y in ory["year"].unique())
    objectives = list(doc.objectives["objective_code"])
    countries = doc.country_requirements
    records: list[dict[str, object]] = []
    first_year_blocks: dict[str, pd.DataFrame] = {}
    for region, sec in doc.sector_requirements.groupby("region", sort=False):
        sec = sec.set_index("sector_code")
        ticks = {s: str(t).split(";") for s, t in sec["objectives"].items()}
        obj = (
            ory[(ory["region"] == region) & (ory["year"] == first_year)]
            .set_index("objective")["requirements_usd"]
            .reindex(objectives, fill_value=0.0)
            .astype(float)
        )
        split = split_objectives(sec["requirements_usd"].astype(float), ticks, obj)
        locs = countries[countries["region"] == region].set_index("location_code")
        if len(locs) == 1 and _blank(locs["requirements_usd"].iloc[0]):
            loc_amounts = pd.Series([split.to_numpy().sum()], index=locs.index)
        else:
            loc_amounts = locs["requirements_usd"].astype(float)
        by_location = spread_locations(loc_amounts, sec["requirements_usd"].astype(float))
        shares = split.div(split.sum(axis=1), axis=0)
        block = []
        for loc in by_location.index:
            for s in by_location.columns:
                for o in objectives:
                    value = by_location.loc[loc, s] * shares.loc[s, o]
                    if value <= 0:
                        continue
                    single = len(ticks[s]) == 1 and len(by_location.index) == 1
                    block.append(
                        {
                            "location_code": loc,
                            "sector_code": s,
                            "objective": o,
                            "requirements_usd": value,
                            "origin": "source" if single else "derived",
                            "note": _note(
                                len(ticks[s]) == 1, len(by_location.index) == 1, len(ticks[s])
                            ),
                        }
                    )
        first_year_blocks[str(region)] = pd.DataFrame(block)
    for year in years:
        for region, block in first_year_blocks.items():
            frame = block.copy()
            frame["year"] = year
            if year != first_year:
                target = ory[(ory["region"] == region) & (ory["year"] == year)].set_index(
                    "objective"
                )["requirements_usd"]
                base = frame.groupby("objective")["requirements_usd"].transform("sum")
                frame["requirements_usd"] = (
                    frame["requirements_usd"] * frame["objective"].map(target).astype(float) / base
                )
                frame["origin"] = "derived"
                frame["note"] = (
                    f"{first_year} structure scaled to the document's {year} "
                    "requirement for this objective and region"
                )
                frame["requirements_usd"] = _round_preserving(
                    frame["requirements_usd"], frame["objective"], target.astype(float)
                )
            else:
                frame["requirements_usd"] = frame["requirements_usd"].round(2)
            records.extend(frame.to_dict("records"))
    out = pd.DataFrame.from_records(records)
    cols = [c.name for c in TABLES_BY_NAME["requirements"].columns]  # the table's own order
    return out[cols].sort_values(cols[:4]).reset_index(drop=True)


def _note(single_objective: bool, single_location: bool, n_ticks: int) -> str:
    parts = []
    if single_location and single_objective:
        return "as stated in the sector table"
    if not single_location:
        parts.append("country x sector by IPF on country and sector totals")
    if not single_objective:
        parts.append(f"{n_ticks}-objective sector split by IPF on the objective totals")
    return "; ".join(parts)


def derive_populations(doc: DocumentTables, requirements: pd.DataFrame) -> pd.DataFrame:
    """People in need, targeted, displaced stocks and entities per location and year.

    Rules (each row carries its own note):

    - First-year targets and entities come from the document; an entity count the
      document leaves out is the regional total minus the others (derived).
    - People in need: a location's figure when the document gives one; a regional
      figure is spread over the region's countries as people targeted plus the
      rest of the regional figure in proportion to refugee stocks (so that need
      never falls below the target and the regional total is kept).
    - Later years: people in need as in the first year (the plan expects needs
      to stay large; the displacement simulation moves them); people targeted
      in proportion to the location's requirement, capped at people in need.
    """
    years = sorted(int(y) for y in requirements["year"].unique())
    first = years[0]
    rows: list[dict[str, object]] = []
    countries = doc.country_requirements.set_index("location_code")
    people_locations = [c for c in countries.index if countries.loc[c, "kind"] == "country"]
    targets = doc.targets.set_index("location_code")
    key = doc.key_figures
    for loc in people_locations:
        t = targets.loc[loc]
        rows.append(
            _pop(loc, first, "targeted", float(t["people_targeted"]), "source", str(t["note"]))
        )
        if not _blank(t["entities_targeted"]):
            rows.append(
                _pop(loc, first, "entities_targeted", float(t["entities_targeted"]), "source", "")
            )
    # entities the document leaves out: regional total minus the stated countries
    for _, fig in key[key["population_status"] == "entities_targeted"].iterrows():
        if _blank(fig["region"]):
            continue
        region_locs = [c for c in people_locations if countries.loc[c, "region"] == fig["region"]]
        missing = [c for c in region_locs if _blank(targets.loc[c, "entities_targeted"])]
        stated = sum(
            float(targets.loc[c, "entities_targeted"]) for c in region_locs if c not in missing
        )
        for c in missing:
            rows.append(
                _pop(
                    c,
                    first,
                    "entities_targeted",
                    (float(fig["value"]) - stated) / len(missing),
                    "derived",
                    f"regional total {float(fig['value']):,.0f} minus the countries stated",
                )
            )
    stocks = doc.refugee_stocks.set_index("location_code")["refugees"].astype(float)
    for _, fig in key.iterrows():
        status = fig["population_status"]
        if status in ("targeted", "entities_targeted"):
            continue
        if not _blank(fig["location_code"]):
            rows.append(
                _pop(
                    fig["location_code"],
                    int(fig["year"]),
                    status,
                    float(fig["value"]),
                    "source",
                    f"{fig['note']} (as of {fig['as_of']})",
                )
            )
        elif status == "in_need" and not _blank(fig["region"]):
            region_locs = [
                c for c in people_locations if countries.loc[c, "region"] == fig["region"]
            ]
            tgt = pd.Series({c: float(targets.loc[c, "people_targeted"]) for c in region_locs})
            rest = float(fig["value"]) - float(tgt.sum())
            share = stocks.reindex(region_locs).fillna(0.0)
            share = share / share.sum()
            for c in region_locs:
                rows.append(
                    _pop(
                        c,
                        int(fig["year"]),
                        "in_need",
                        round(tgt[c] + rest * share[c]),
                        "derived",
                        f"regional {fig['value']:,.0f} spread: people targeted plus the rest in "
                        "proportion to refugees recorded in December 2023",
                    )
                )
    for c in people_locations:
        if c in stocks.index:
            rows.append(
                _pop(
                    c,
                    first,
                    "refugees",
                    float(stocks[c]),
                    "derived",
                    "refugees from Ukraine recorded in the country, end of 2023 (UNHCR)",
                )
            )
    pops = pd.DataFrame.from_records(rows)
    need = pops[pops["population_status"] == "in_need"].set_index("location_code")["population"]
    req_loc_year = requirements.groupby(["location_code", "year"])["requirements_usd"].sum()
    later: list[dict[str, object]] = []
    for year in years[1:]:
        for c in people_locations:
            later.append(
                _pop(
                    c,
                    year,
                    "in_need",
                    float(need[c]),
                    "derived",
                    f"{first} figure carried forward (needs expected to remain large)",
                )
            )
            base = targets.loc[c, "people_targeted"]
            ratio = req_loc_year[(c, year)] / req_loc_year[(c, first)]
            later.append(
                _pop(
                    c,
                    year,
                    "targeted",
                    float(min(round(float(base) * ratio), need[c])),
                    "derived",
                    f"{first} target scaled by the location's requirement {year}/{first}",
                )
            )
    out = pd.concat([pops, pd.DataFrame.from_records(later)], ignore_index=True)
    return out.sort_values(["location_code", "year", "population_status"]).reset_index(drop=True)


def _pop(
    loc: str, year: int, status: str, value: float, origin: str, note: str
) -> dict[str, object]:
    return {
        "location_code": loc,
        "year": year,
        "population_status": status,
        "population": value,
        "origin": origin,
        "note": note,
    }


def stated_totals(doc: DocumentTables, tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every figure the document states that the derived tables must reproduce.

    A figure the tables cannot reproduce is a contradiction inside the document
    (the cells follow the most detailed figures): it is kept as stated, marked
    ``on_mismatch = warn`` and reported by validation with the amounts involved.
    """
    rows: list[dict[str, object]] = []

    def add(
        figure: str,
        measure: str,
        value: float,
        precision: float,
        section: str,
        note: str,
        **filters: object,
    ) -> None:
        rec: dict[str, object] = {
            "figure": figure,
            "measure": measure,
            "objective": "",
            "region": "",
            "location_code": "",
            "sector_code": "",
            "year": None,
            "value": value,
            "precision": precision,
            "section": section,
            "note": note,
        }
        rec.update(filters)
        rows.append(rec)

    for _, r in doc.objective_region_year.iterrows():
        add(
            f"{r['objective']}_{r['region']}_{r['year']}".lower(),
            "requirements_usd",
            float(r["requirements_usd"]),
            1.0,
            str(r["section"]),
            "",
            objective=r["objective"],
            region=r["region"],
            year=int(r["year"]),
        )
    for _, r in doc.headline_figures.iterrows():
        add(
            str(r["figure"]),
            "requirements_usd",
            float(r["value"]),
            float(r["precision"]),
            str(r["section"]),
            str(r["note"]),
            objective="" if _blank(r["objective"]) else r["objective"],
            region="" if _blank(r["region"]) else r["region"],
            year=None if _blank(r["year"]) else int(r["year"]),
        )
    first_year = int(doc.objective_region_year["year"].min())
    for _, r in doc.country_requirements.iterrows():
        if _blank(r["requirements_usd"]):
            continue
        add(
            f"country_{r['location_code']}_{first_year}".lower(),
            "requirements_usd",
            float(r["requirements_usd"]),
            1.0,
            str(r["section"]),
            str(r["note"]),
            location_code=r["location_code"],
            year=first_year,
        )
    for _, r in doc.sector_requirements.iterrows():
        add(
            f"sector_{r['region']}_{r['sector_code']}_{first_year}".lower(),
            "requirements_usd",
            float(r["requirements_usd"]),
            1.0,
            str(r["section"]),
            str(r["sector_name"]),
            region=r["region"],
            sector_code=r["sector_code"],
            year=first_year,
        )
    for _, r in doc.key_figures.iterrows():
        # location figures are table rows themselves; Europe-wide refugees are not a table total
        if not _blank(r["location_code"]) or r["population_status"] == "refugees":
            continue
        value = float(r["value"])
        precision = 100_000.0 if value >= 1_000_000 and value % 100_000 == 0 else 1.0
        add(
            str(r["figure"]),
            f"population:{r['population_status']}",
            value,
            precision,
            str(r["section"]),
            str(r["note"]),
            region="" if _blank(r["region"]) else r["region"],
            year=int(r["year"]),
        )
    frame = pd.DataFrame.from_records(rows)
    on_mismatch = []
    for _, rec in frame.iterrows():
        computed = compute_stated(tables, rec.to_dict())
        agrees = computed is not None and stated_total_agrees(
            computed, float(rec["value"]), float(rec["precision"])
        )
        on_mismatch.append("error" if agrees else "warn")
    frame["on_mismatch"] = on_mismatch
    frame["year"] = frame["year"].astype("Int64")
    cols = [
        "figure",
        "measure",
        "objective",
        "region",
        "location_code",
        "sector_code",
        "year",
        "value",
        "precision",
        "on_mismatch",
        "section",
        "note",
    ]
    return frame[cols]


def derive_plan(doc: DocumentTables) -> dict[str, pd.DataFrame]:
    """Every table of the plan, derived from the document's tables."""
    requirements = derive_requirements(doc)
    locations = doc.country_requirements[["location_code", "location_name", "region", "kind"]]
    names = doc.sector_requirements.drop_duplicates("sector_code").set_index("sector_code")[
        "sector_name"
    ]
    sectors = doc.sectors.copy()
    sectors["sector_name"] = sectors["sector_code"].map(names)
    columns = [c for c in TABLES_BY_NAME["sectors"].column_names if c in sectors.columns]
    sectors = sectors[columns]
    for col in columns:
        if col == "tier":
            tier = sectors["tier"].replace("", None)
            sectors["tier"] = pd.to_numeric(tier).astype("Int64")
        else:
            sectors[col] = sectors[col].fillna("")
    populations = derive_populations(doc, requirements)
    tables: dict[str, pd.DataFrame] = {
        "settings": doc.settings,
        "objectives": doc.objectives,
        "locations": locations.reset_index(drop=True),
        "sectors": sectors,
        "requirements": requirements,
        "populations": populations,
    }
    tables["stated_totals"] = stated_totals(doc, tables)
    if doc.sector_cost_index is not None:
        tables["sector_cost_index"] = doc.sector_cost_index
    years = sorted(int(y) for y in requirements["year"].unique())
    tables["severity"] = neutral_severity(tables["locations"], years)
    return tables


NEUTRAL_SEVERITY = 3
"""JIAF phase given to every country when the document states no severity (phase 3,
'severe', weighs 1 with the default ``severity_weights``)."""


def neutral_severity(locations: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """A severity table that tilts nothing: every country, every year, phase 3, group 'all'.

    The plan document gives no JIAF severity per country. Until the HNRP (Ukraine) and RRP
    (host countries) JIAF results are transcribed, every country location gets the same
    phase, so severity weights are equal and leave the allocation as without them.
    Regional (non-country) lines get no row: they are enablers.
    """
    countries = locations.loc[locations["kind"].fillna("country") == "country", "location_code"]
    rows = [
        {
            "location_code": loc,
            "population_group": "all",
            "year": int(year),
            "severity": NEUTRAL_SEVERITY,
            "population": None,
            "origin": "assumption",
            "note": "neutral planning assumption: the document gives no JIAF severity; replace "
            "with the HNRP 2024 (Ukraine) and RRP 2024 (host countries) JIAF results",
        }
        for loc in sorted(countries)
        for year in years
    ]
    return pd.DataFrame(rows, columns=TABLES_BY_NAME["severity"].column_names)
