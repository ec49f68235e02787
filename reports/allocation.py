"""Allocation reports: console summary, JSON and CSV tables, and an atomic CSV writer.

Every ``render_*`` function is pure (result in, text or dict out); :func:`write_allocation_csvs`
is the thin write. Provenance (plan fingerprint, scenario, package versions) travels
into every output.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from reachplan.model.formatting import format_people, format_usd
from reachplan.model.plan import Plan
from reachplan.reports.plan_files import render_csv
from reachplan.reports.scenario_report import MODEL_ROW_KINDS
from reachplan.reports.views import country_of, has_subnational, roll_up, round_money
from reachplan.solver.result import Allocation, Frontier, ShadowPrice, TargetFunding


def _money_table(label: str, frame: pd.DataFrame, names: dict[str, str] | None = None) -> list[str]:
    """Console rows: requirement, allocated, share funded, people and pro-rata, then a total."""
    names = names or {}
    labels = [f"{code} {names[code]}".strip() if names.get(code) else str(code)
              for code in frame.index]
    width = max([len(label) + 2, 10, *(len(x) + 2 for x in labels)])
    width = min(width, 40)
    lines = [f"{label:<{width}}{'requirement':>14}{'allocated':>14}{'funded':>8}{'people':>12}"
             f"{'pro-rata':>12}"]
    total = frame[["requirement_usd", "allocated_usd", "people_reached",
                   "pro_rata_people_reached"]].sum()
    rows = [*zip(labels, (r for _, r in frame.iterrows()), strict=True), ("total", total)]
    for text, row in rows:
        funded = (row["allocated_usd"] / row["requirement_usd"]
                  if row["requirement_usd"] > 0 else float("nan"))
        lines.append(
            f"{text[:width - 1]:<{width}}{format_usd(row['requirement_usd']):>14}"
            f"{format_usd(row['allocated_usd']):>14}{funded:>8.0%}"
            f"{format_people(row['people_reached']):>12}"
            f"{format_people(row['pro_rata_people_reached']):>12}"
        )
    return lines


_SUM_COLUMNS = ["requirement_usd", "allocated_usd", "sector_beneficiaries", "people_reached",
                "pro_rata_usd", "pro_rata_people_reached"]


def by_country(result: Allocation, plan: Plan | None = None, *dims: str) -> pd.DataFrame:
    """Requirement, allocation and people by country (and ``dims``).

    :meth:`Allocation.by` ``("location_code", *dims)`` with sub-national lines summed to
    their country (:func:`reports.views.country_of`; without ``plan`` every location is its
    own country). Indexed by ``location_code`` (the country) and ``dims``.
    """
    if plan is None:
        return result.by("location_code", *dims)
    frame = roll_up(result.to_frame(), country_of(plan), ["location_code", *dims],
                    _SUM_COLUMNS).set_index(["location_code", *dims])
    frame["share_funded"] = frame["allocated_usd"] / frame["requirement_usd"]
    people = frame["people_reached"].where(frame["people_reached"] > 0)
    frame["cost_per_person_usd"] = frame["allocated_usd"] / people
    return frame


def subnational(result: Allocation, plan: Plan | None, *dims: str) -> pd.DataFrame | None:
    """Sub-national lines by location (and ``dims``), their country code as first column.

    ``None`` when the plan has no sub-national lines.
    """
    if plan is None or not has_subnational(plan, result.cells.index.get_level_values(
            "location_code")):
        return None
    countries = country_of(plan)
    frame = result.by("location_code", *dims).reset_index()
    codes = frame["location_code"].astype(str)
    frame.insert(0, "country_code", codes.map(countries).fillna(codes))
    return frame[frame["country_code"] != codes].reset_index(drop=True)


def render_summary(result: Allocation, top: int = 8, *, plan: Plan | None = None,
                   csv_dir: Path | None = None) -> str:
    """Console summary: headline, gain over pro-rata, by country and by sector, binding rules.

    Parameters
    ----------
    result
        The allocation.
    top
        Binding rules shown.
    plan
        The plan allocated: gives location and sector names and rolls sub-national lines
        up to their country (a table of sub-national lines follows). Without it, codes and
        one row per location.
    csv_dir
        Where the CSV tables were written (``None``: nowhere, and the summary says how to
        get them).
    """
    gain = result.gain_over_pro_rata
    pro = result.pro_rata_people_reached
    unique = result.unique_people_reached
    lines = [
        f"Plan: {result.provenance.get('plan_name', '')} "
        f"[{result.provenance.get('plan_fingerprint', '')[:12]}]",
        f"Funding: {result.scenario.describe()} = {format_usd(result.funding_usd)}",
        f"Allocated: {format_usd(result.allocated_usd)}"
        + (f" (unallocated {format_usd(result.unallocated_usd)}: see the warnings below)"
           if result.warnings and result.unallocated_usd >= 1 else ""),
        f"Objective: {result.scenario.objective}"
        + (" (tiers, severity, diminishing returns in each location's coverage)"
           if result.scenario.objective == "priority" else " (people reached, summed)"),
        f"People reached (person-years, summed over years): "
        f"{format_people(result.people_reached)}"
        f"  | sector beneficiaries: {format_people(result.sector_beneficiaries)}",
        f"Unique people reached, whole period: {format_people(unique['low'])} to "
        f"{format_people(unique['high'])}  | coverage of people in need: {result.coverage:.1%}",
        f"Pro-rata (every line cut equally): {format_people(pro)}"
        f"  | gain: {gain:+,.0f} people"
        + (f" ({gain / pro:+.1%})" if pro > 0 else "")
        + f"; on programme lines only: {result.gain_over_pro_rata_programme:+,.0f}",
    ]
    extra = _extra_million_line(result)
    if extra:
        lines.append(extra)
    if result.entities_reached > 0:
        by_year = ", ".join(f"{y}: {v:,.0f}" for y, v in result.entities_reached_by_year.items())
        lines.append(f"Entities reached (institutions supported): {by_year}")
    loc_names: dict[str, str] = {}
    sec_names: dict[str, str] = {}
    if plan is not None:
        loc_names = {str(k): str(v) for k, v in zip(
            plan.tables["locations"]["location_code"], plan.tables["locations"]["location_name"],
            strict=True)}
        sec_names = {str(k): str(v) for k, v in zip(
            plan.tables["sectors"]["sector_code"], plan.tables["sectors"]["sector_name"],
            strict=True)}
    detail = subnational(result, plan)
    lines += ["", "By country" + (" (sub-national lines summed to their country)"
                                  if detail is not None else "") + ", all years:"]
    lines += _money_table("country" if detail is not None else "location",
                          by_country(result, plan), loc_names)
    if detail is not None:
        lines += ["", "Sub-national lines, all years:"]
        lines += _money_table("location", detail.set_index("location_code"), loc_names)
    lines += ["", "By sector, all years:"]
    lines += _money_table("sector", result.by("sector_code"), sec_names)
    if result.warnings:
        lines += ["", "Warnings:"] + [f"  warning: {w}" for w in result.warnings]
    # the rules a planner sets, envelopes first; the model's own rows (absorption caps,
    # enabler overheads, people-in-need bounds ...) are counted, and listed in the JSON
    # and shadow_prices.csv (as in the HTML report)
    rules = [s for s in result.binding if s.kind not in MODEL_ROW_KINDS]
    rules = [s for s in rules if s.kind == "envelope"] + [
        s for s in rules if s.kind != "envelope"]
    model_rows = len(result.binding) - len(rules)
    if rules or model_rows:
        lines += ["", "Binding constraints (people per extra $1M):"]
        lines += [f"  {s.description}: {s.value:+,.0f}" for s in rules[:top]]
        if not rules:
            lines.append("  no rule a planner sets is binding")
        more = len(rules) - len(rules[:top])
        where = (f"{csv_dir / 'shadow_prices.csv'}" if csv_dir is not None
                 else "the --json output and shadow_prices.csv (--out DIR)")
        lines.append("  " + (f"{more} more binding rules; " if more > 0 else "")
                     + (f"{_model_rows_text(result)} bind too; " if model_rows else "")
                     + f"every one is in {where}")
    if len(result.unfunded):
        where = (f"see {csv_dir / 'unfunded.csv'} for what it would take" if csv_dir is not None
                 else "add --out DIR to write unfunded.csv, with what each would take")
        lines += ["", f"Lines reaching people that get no money: {len(result.unfunded)} "
                      f"({where})"]
    return "\n".join(lines)


def _extra_million_line(result: Allocation) -> str:
    """"One more $1M ... reaches": the allocation re-solved with $1M more (not a dual)."""
    extra = result.one_more_million
    if extra is None:
        return ""
    flexible = any(s.kind == "flexible" for s in result.shadow_prices)
    money = "flexible (non-earmarked) money" if flexible else "funding"
    def entities(value: float) -> str:
        return f" ({value:+,.0f} entities)" if abs(value) >= 0.5 else ""

    years = ""
    if len(extra.by_year) > 1:
        years = "; by year of arrival: " + ", ".join(
            f"{y}: {v:+,.0f}{entities(extra.entities_by_year.get(y, 0.0))}"
            for y, v in sorted(extra.by_year.items()))
    more = (f" and {extra.entities:+,.0f} entities" if abs(extra.entities) >= 0.5 else "")
    return (f"One more $1M of {money} reaches: {extra.people:+,.0f} people"
            f"{more}{extra.where()}{years}")


_MODEL_ROW_WORDS = {
    "cap": "absorption caps", "enabler": "enabler overheads",
    "need": "people-in-need bounds", "coverage": "coverage rows", "reach": "reach rows",
    "programme": "programme-money rows", "earmark_share": "earmark shares",
}


def _model_rows_text(result: Allocation) -> str:
    """How many of the model's own rows bind, by kind ("54 absorption caps, ...")."""
    counts: dict[str, int] = {}
    for s in result.binding:
        if s.kind in MODEL_ROW_KINDS:
            counts[s.kind] = counts.get(s.kind, 0) + 1
    return ", ".join(f"{n} {_MODEL_ROW_WORDS.get(k, k)}" for k, n in counts.items())


def render_json(result: Allocation, plan: Plan | None = None) -> dict[str, object]:
    """Machine-readable result: totals, cells, shadow prices, unfunded lines, provenance.

    ``by_country`` sums each country's lines per year, sub-national lines (admin1, admin2)
    included in their country (``plan`` gives the parents; without it every location is its
    own country); ``by_sector`` sums each sector's lines per year.
    """
    cells = result.to_frame()

    def rows(frame: pd.DataFrame, key: str) -> list[dict[str, object]]:
        return [
            {key: str(code), "year": int(year),
             "requirement_usd": float(r["requirement_usd"]),
             "allocated_usd": float(r["allocated_usd"]),
             "share_funded": float(r["share_funded"]) if r["requirement_usd"] > 0 else 0.0,
             "people_reached": float(r["people_reached"])}
            for (code, year), r in frame.iterrows()
        ]

    return {
        "by_country": rows(by_country(result, plan, "year"), "country_code"),
        "by_sector": rows(result.by("sector_code", "year"), "sector_code"),
        "funding_usd": result.funding_usd,
        "allocated_usd": result.allocated_usd,
        "unallocated_usd": result.unallocated_usd,
        "people_reached": result.people_reached,
        "sector_beneficiaries": result.sector_beneficiaries,
        "pro_rata_people_reached": result.pro_rata_people_reached,
        "gain_over_pro_rata": result.gain_over_pro_rata,
        "gain_over_pro_rata_programme": result.gain_over_pro_rata_programme,
        "coverage": result.coverage,
        "coverage_by_location_year": _records(result.coverage_by_location_year),
        "unique_people_reached": result.unique_people_reached,
        "unique_people_reached_by_year": _records(result.unique_people_by_year),
        "entities_reached": result.entities_reached,
        "entities_reached_by_year": {str(k): v for k, v in
                                     result.entities_reached_by_year.items()},
        "objective_kind": result.scenario.objective,
        "objective": result.objective,
        "scenario": result.scenario.describe(),
        "one_more_million": None if result.one_more_million is None else {
            "people": result.one_more_million.people,
            "year": result.one_more_million.year,
            "people_by_year": {str(k): v for k, v in result.one_more_million.by_year.items()},
            "entities": result.one_more_million.entities,
            "entities_by_year": {str(k): v for k, v in
                                 result.one_more_million.entities_by_year.items()},
        },
        "envelope_by_year": None if result.envelope_by_year is None
        else {str(k): v for k, v in result.envelope_by_year.items()},
        "people_reached_by_location_year": [
            {"location_code": str(loc), "year": int(yr), "people_reached": float(v)}
            for (loc, yr), v in result.by("location_code", "year")["people_reached"].items()
        ],
        "cells": [
            {
                "location_code": str(r.location_code),
                "sector_code": str(r.sector_code),
                "year": int(r.year),
                "requirement_usd": float(r.requirement_usd),
                "allocated_usd": float(r.allocated_usd),
                "share_funded": float(r.share_funded),
                "people_reached": float(r.people_reached),
                "sector_beneficiaries": float(r.sector_beneficiaries),
                "entities_reached": float(r.entities_reached),
                "output": str(r.output),
                "tier": int(r.tier),
                "pro_rata_usd": float(r.pro_rata_usd),
                "pro_rata_people_reached": float(r.pro_rata_people_reached),
            }
            for r in cells.itertuples(index=False)
        ],
        "shadow_prices": [_price(s, result) for s in result.shadow_prices],
        "unfunded": [
            {"location_code": str(i[0]), "sector_code": str(i[1]), "year": int(i[2]),
             "unit_cost_usd": float(r["unit_cost_usd"]),
             "threshold_unit_cost_usd": None if not math.isfinite(r["threshold_unit_cost_usd"])
             else float(r["threshold_unit_cost_usd"]),
             "reason": str(r["reason"])}
            for i, r in result.unfunded.iterrows()
        ],
        "warnings": list(result.warnings),
        "provenance": dict(result.provenance),
    }


def _finite(value: float | None) -> float | None:
    """A number for JSON: ``None`` for missing, infinite or NaN."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _price(s: ShadowPrice, result: Allocation) -> dict[str, object]:
    """One shadow price as JSON: people per extra $1M up (and down at a kink), its range.

    ``valid_from_usd``/``valid_to_usd``: the limit's range over which the price holds
    (``null`` = unbounded); for ``need`` rows the range is in people (``valid_from`` /
    ``valid_to``). ``people_per_1m_down`` only where the price is one-sided.
    """
    money = s.kind != "need"
    out: dict[str, object] = {
        "constraint": s.constraint, "kind": s.kind, "description": s.description,
        "value": s.value, "unit": s.unit, "binding": s.binding,
        "people_per_1m": s.value if money else None,
        "objective_per_1m": _finite(s.objective_value) if money else None,
        "one_sided": s.one_sided,
    }
    if s.row is not None:
        out.update({k: getattr(s.row, k) for k in ("location", "sector", "year")})
    # every entry has valid_from_usd / valid_to_usd; a need row's limit is people, so its
    # range is valid_from_people / valid_to_people and its USD keys are null
    out["valid_from_usd"] = _finite(s.valid_from) if money else None
    out["valid_to_usd"] = _finite(s.valid_to) if money else None
    if money:
        if s.one_sided and s.value_down is not None:
            out["people_per_1m_down"] = _finite(s.value_down)
    else:
        out["valid_from_people"] = _finite(s.valid_from)
        out["valid_to_people"] = _finite(s.valid_to)
        if s.one_sided and s.value_down is not None:
            out["people_per_person_down"] = _finite(s.value_down)
    return out


def _records(frame: pd.DataFrame | None) -> list[dict[str, object]]:
    """Rows of a table as JSON records (codes as text, years as int, numbers as float)."""
    if frame is None:
        return []
    out = []
    for row in frame.to_dict(orient="records"):
        rec: dict[str, object] = {}
        for key, value in row.items():
            if key == "year":
                rec[key] = int(value)
            elif isinstance(value, str):
                rec[key] = value
            else:
                number = float(value)
                rec[key] = number if math.isfinite(number) else None
        out.append(rec)
    return out


def render_csv_tables(result: Allocation, plan: Plan | None = None) -> dict[str, str]:
    """CSV text per table name.

    Tables: ``cells``, ``locations`` (per country and year: sub-national lines summed to
    their country when ``plan`` is given), ``subnational`` (only when the plan has
    sub-national lines: per line location and year, with ``country_code``), ``sectors``,
    ``shadow_prices``, ``unfunded``, ``provenance``. USD amounts are rounded to the cent
    (:func:`reports.views.round_money`).
    """
    prices = pd.DataFrame(
        [(s.constraint, s.kind, s.description, s.value, s.unit, s.binding)
         for s in result.shadow_prices],
        columns=["constraint", "kind", "description", "value", "unit", "binding"],
    )
    prov = pd.DataFrame(sorted(result.provenance.items()), columns=["key", "value"])
    tables = {
        "cells": result.to_frame(),
        "locations": by_country(result, plan, "year").reset_index(),
    }
    detail = subnational(result, plan, "year")
    if detail is not None:
        tables["subnational"] = detail
    tables.update({
        "sectors": result.by("sector_code", "year").reset_index(),
        "shadow_prices": prices,
        "unfunded": result.unfunded.reset_index(),
        "provenance": prov,
    })
    return {name: render_csv(round_money(frame)) for name, frame in tables.items()}


def render_frontier(frontier: Frontier, top: int = 15, *, csv_dir: Path | None = None) -> str:
    """Console ladder: people reached per funding level, then lines in the order they get money.

    ``csv_dir``: where ``first_funded.csv`` was written, if it was (the note says where to
    find the other lines, or how to get the file).
    """
    lines = [f"{'funding':>8}{'USD':>12}{'people':>12}{'pro-rata':>12}{'people/$1M':>12}"]
    for r in frontier.levels.itertuples(index=False):
        if r.status != "optimal":
            lines.append(f"{r.share:>8.0%}  infeasible: {r.status}")
            continue
        lines.append(f"{r.share:>8.0%}{format_usd(r.funding_usd):>12}{format_people(r.people_reached):>12}"
                     f"{format_people(r.pro_rata_people_reached):>12}{r.marginal_people_per_1m:>12,.0f}")
    lines += ["", "Lines in the order they first receive money (funding level):"]
    first = frontier.first_funded
    for (loc, sec, yr), r in first.head(top).iterrows():
        level = r["first_funded_share"]
        shown = "never" if not math.isfinite(level) else f"{level:.0%}"
        lines.append(f"  {shown:>6}  {sec} in {loc}, {yr} ({format_usd(r['requirement_usd'])})")
    if len(first) > top:
        where = (f"see {csv_dir / 'first_funded.csv'}" if csv_dir is not None
                 else "add --out DIR to write first_funded.csv")
        lines.append(f"  ... {len(first) - top} more ({where})")
    return "\n".join(lines)


def render_frontier_json(frontier: Frontier) -> dict[str, object]:
    """Machine-readable ladder."""
    first = frontier.first_funded.reset_index()
    return {
        "levels": [
            {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
             for k, v in rec.items()}
            for rec in frontier.levels.to_dict(orient="records")
        ],
        "first_funded": [
            {"location_code": str(r.location_code), "sector_code": str(r.sector_code),
             "year": int(r.year), "requirement_usd": float(r.requirement_usd),
             "first_funded_share": None if not math.isfinite(r.first_funded_share)
             else float(r.first_funded_share)}
            for r in first.itertuples(index=False)
        ],
    }


def render_frontier_csv_tables(frontier: Frontier) -> dict[str, str]:
    """CSV text per table: ``frontier`` and ``first_funded`` (USD amounts to the cent)."""
    return {"frontier": render_csv(round_money(frontier.levels)),
            "first_funded": render_csv(round_money(frontier.first_funded.reset_index()))}


def render_target_json(target: TargetFunding) -> dict[str, object]:
    """Machine-readable answer of ``frontier --target-people``."""
    return {
        "target_people": target.target_people,
        "share": target.share,
        "funding_usd": target.funding_usd,
        "allocation": render_json(target.allocation),
    }


def render_target(target: TargetFunding) -> str:
    """One paragraph: the least funding that reaches the target."""
    a = target.allocation
    return (f"Reaching {target.target_people:,.0f} people takes at least {target.share:.2%} of "
            f"the appeal ({format_usd(target.funding_usd)}); that allocation reaches "
            f"{a.people_reached:,.0f} people (pro-rata at the same funding: "
            f"{a.pro_rata_people_reached:,.0f}).")


def write_allocation_csvs(tables: dict[str, str], directory: Path) -> list[Path]:
    """Write ``<name>.csv`` for each rendered table, all of them or none; return the paths.

    Every table is first written to a temporary file in ``directory``; only when all are
    complete are they moved into place. On any failure the temporary files (and
    ``directory`` itself, when this call created it and it is empty) are removed and the
    ``OSError`` propagates, so a failed write leaves nothing half-written.
    """
    created = not directory.exists()
    temporary: list[tuple[Path, Path]] = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in tables.items():
            path = directory / f"{name}.csv"
            handle, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
            temporary.append((Path(tmp), path))
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
        for tmp, path in temporary:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in temporary:
            tmp.unlink(missing_ok=True)
        if created:
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise
    return [path for _, path in temporary]


def unit_cost_ranges_json(table: pd.DataFrame) -> list[dict[str, object]]:
    """Unit-cost ranges as JSON records (``group``, ``factor_low``, ``factor_high`` ...)."""
    out = []
    for group, row in table.iterrows():
        rec: dict[str, object] = {"group": str(group)}
        for key, value in row.items():
            if isinstance(value, (bool, np.bool_)):
                rec[str(key)] = bool(value)
            else:
                rec[str(key)] = _finite(float(value))
        out.append(rec)
    return out


def render_unit_cost_ranges_csv(table: pd.DataFrame) -> str:
    """Unit-cost ranges as CSV text (USD amounts to the cent)."""
    return render_csv(round_money(table.reset_index()))


def render_unit_cost_ranges(table: pd.DataFrame, top: int = 12) -> str:
    """Console table: the narrowest unit-cost ranges first (the knife edges)."""
    frame = table.assign(width=np.log(table["factor_high"]) - np.log(table["factor_low"]))
    frame = frame[frame["money_base_usd"] > 0].sort_values("width")
    lines = ["", "Unit-cost ranges over which a group's money stays within 10% "
                 "(narrowest first):",
             f"{'group':<34}{'from':>8}{'to':>8}{'money':>12}"]
    for group, row in frame.head(top).iterrows():
        low = f"x{row['factor_low']:.2f}" + ("-" if row["low_at_limit"] else "")
        high = f"x{row['factor_high']:.2f}" + ("+" if row["high_at_limit"] else "")
        lines.append(f"{str(group):<34}{low:>8}{high:>8}{format_usd(row['money_base_usd']):>12}")
    lines.append("(- / +: the money stays within 10% down to x0.1 / up to x10)")
    return "\n".join(lines)
