"""What a planner reads about scenario runs: summaries, JSON and side-by-side comparison."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from reachplan.model.formatting import format_people, format_share_of_futures, format_usd
from reachplan.model.plan import Plan
from reachplan.reports.json_text import dumps
from reachplan.reports.views import country_of
from reachplan.solver.result import ScenarioRun

MODEL_ROW_KINDS = ("cap", "need", "reach", "coverage", "enabler", "programme", "earmark_share")
"""Kinds of LP rows that are the model's own bookkeeping, not rules a planner sets
(absorption caps, people-in-need bounds, reach and coverage rows, enabler overheads and
the programme money they read, earmark shares). Tables carry them; the page and the
console list the planner's rules and count these."""


def _usd_m(usd: float) -> str:
    return format_usd(usd, unit="M")


def run_summary(run: ScenarioRun, top: int = 5) -> dict[str, Any]:
    """The headline figures of one run as plain numbers."""
    alloc = run.allocation_frame()
    by_sector = alloc.groupby(level="sector_code")["mean_allocated_usd"].sum()
    by_location = alloc.groupby(level="location_code")["mean_allocated_usd"].sum()
    by_year = alloc.groupby(level="year")["mean_allocated_usd"].sum()
    binding = sorted(run.binding_share.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "name": run.scenario.name,
        "description": run.scenario.description,
        "draws": run.draws,
        "seed": run.scenario.seed,
        "needs_source": run.needs_source,
        "funding_usd": run.funding_usd,
        "allocated_usd_mean": float(alloc["mean_allocated_usd"].sum()),
        "people_reached_mean": float(run.people_reached.mean()),
        "people_reached_p10": run.percentile(10),
        "people_reached_p50": run.percentile(50),
        "people_reached_p90": run.percentile(90),
        "allocation_by_sector_usd": {k: float(v) for k, v in by_sector.items()},
        "allocation_by_location_usd": {k: float(v) for k, v in by_location.items()},
        "allocation_by_year_usd": {str(k): float(v) for k, v in by_year.items()},
        "unmet_need_by_location": {k: float(v) for k, v in run.unmet_need_by_location.items()},
        "coverage_mean": run.coverage_mean,
        "unmet_need_by_year": {str(k): v for k, v in run.unmet_need_by_year.items()},
        "entities_reached_mean": run.entities_reached_mean,
        "binding_constraints": [
            {
                "constraint": name,
                "description": run.row_descriptions.get(name, name),
                "share_of_draws": share,
            }
            for name, share in binding
        ],
        "provenance": dict(run.provenance),
        "_top": top,
    }


def run_json(run: ScenarioRun) -> dict[str, Any]:
    """Machine-readable result of one run, with the mean allocation per cell."""
    summary = run_summary(run)
    summary.pop("_top")
    cells = run.allocation_frame().reset_index()
    summary["cells"] = [
        {
            "location_code": r.location_code,
            "sector_code": r.sector_code,
            "year": int(r.year),
            "mean_allocated_usd": float(r.mean_allocated_usd),
        }
        for r in cells.itertuples(index=False)
    ]
    return summary


def render_runs_json(runs: Sequence[ScenarioRun]) -> str:
    """JSON for ``reachplan run --json``: ``{"scenarios": [...]}``."""
    return dumps({"scenarios": [run_json(r) for r in runs]}, indent=1, sort_keys=True)


def render_run_text(run: ScenarioRun, top: int = 5) -> str:
    """Console summary of one run."""
    s = run_summary(run, top)
    lines = [
        f"== {s['name']}: {s['description']}",
        f"   draws {s['draws']} (seed {s['seed']}); funding {_usd_m(s['funding_usd'])}, "
        f"allocated on average {_usd_m(s['allocated_usd_mean'])}",
        *([f"   people in need: {s['needs_source']}"] if s["needs_source"] else []),
        f"   people reached, person-years (summed over years): mean "
        f"{format_people(s['people_reached_mean'])}, "
        f"p10 {format_people(s['people_reached_p10'])}, "
        f"p90 {format_people(s['people_reached_p90'])}",
        f"   coverage of people in need: mean {s['coverage_mean']:.1%}; unmet need per year: "
        + ", ".join(f"{y} {format_people(v)}" for y, v in s["unmet_need_by_year"].items()),
    ]
    if s["entities_reached_mean"] > 0:
        lines.append(f"   entities reached (summed over years): mean "
                     f"{format_people(s['entities_reached_mean'])}")
    sectors = sorted(s["allocation_by_sector_usd"].items(), key=lambda kv: -kv[1])[:top]
    lines.append("   largest sectors: " + ", ".join(f"{k} {_usd_m(v)}" for k, v in sectors))
    locs = sorted(s["allocation_by_location_usd"].items(), key=lambda kv: -kv[1])
    lines.append("   by location: " + ", ".join(f"{k} {_usd_m(v)}" for k, v in locs))
    unmet = sorted(s["unmet_need_by_location"].items(), key=lambda kv: -kv[1])[:top]
    lines.append(
        "   unmet need in an average year (people in need not reached, mean over years): "
        + ", ".join(f"{k} {format_people(v)}" for k, v in unmet)
    )
    rules = [
        b for b in s["binding_constraints"]
        if _row_kind(run, b["constraint"]) not in MODEL_ROW_KINDS
    ]
    if rules:
        lines.append("   binding rules (share of futures in which each binds):")
        lines += [f"     {format_share_of_futures(b['share_of_draws']):>5}  {b['description']}"
                  for b in rules[:top]]
        if len(rules) > top:
            lines.append(f"     ... and {len(rules) - top} more (see --json)")
    caps = [b for b in s["binding_constraints"] if _row_kind(run, b["constraint"]) == "cap"]
    needs = [b for b in s["binding_constraints"] if _row_kind(run, b["constraint"]) == "need"]
    if caps or needs:
        lines.append(
            f"   absorption caps binding on {len(caps)} line(s); people-in-need bounds binding "
            f"in {len(needs)} location-year(s), in at least one future"
        )
    return "\n".join(lines) + "\n"


def _row_kind(run: ScenarioRun, constraint: str) -> str:
    """Kind of an LP row, from the row's record (never parsed from its name)."""
    row = run.rows.get(constraint)
    return row.kind if row is not None else "other"


def comparison_frame(runs: Sequence[ScenarioRun], plan: Plan | None = None) -> pd.DataFrame:
    """One column per scenario: headline figures, allocation by country and by sector.

    People reached are person-years (summed over years); unmet need is per year, or in an
    average year (the mean over the plan's years), never summed across years. Money rows
    are USD millions over all years: ``country <code> (USD M)`` (sub-national lines summed to
    their country when ``plan`` is given, :func:`reports.views.country_of`; without it
    one row per location), then ``sector <code> (USD M)``; the two sets each sum to the
    allocation.
    """
    countries = country_of(plan) if plan is not None else pd.Series(dtype=object)
    cols = {}
    for run in runs:
        s = run_summary(run)
        col: dict[str, float] = {
            "funding (USD M)": s["funding_usd"] / 1e6,
            "allocated, mean (USD M)": s["allocated_usd_mean"] / 1e6,
            "people reached, person-years, mean": s["people_reached_mean"],
            "people reached, person-years, p10": s["people_reached_p10"],
            "people reached, person-years, p90": s["people_reached_p90"],
            "coverage of people in need, mean (%)": 100 * s["coverage_mean"],
            "unmet need in an average year, mean": float(
                sum(s["unmet_need_by_location"].values())),
        }
        for year, unmet in s["unmet_need_by_year"].items():
            col[f"unmet need per year {year}, mean"] = unmet
        col["entities reached (summed over years), mean"] = s["entities_reached_mean"]
        by_country: dict[str, float] = {}
        for loc, usd in s["allocation_by_location_usd"].items():
            top = str(countries.get(loc, loc))
            by_country[top] = by_country.get(top, 0.0) + usd
        for loc, usd in sorted(by_country.items()):
            col[f"country {loc} (USD M)"] = usd / 1e6
        for sec, usd in sorted(s["allocation_by_sector_usd"].items()):
            col[f"sector {sec} (USD M)"] = usd / 1e6
        cols[run.scenario.name] = col
    return pd.DataFrame(cols)


def render_comparison(runs: Sequence[ScenarioRun], plan: Plan | None = None) -> str:
    """Side-by-side table (:func:`comparison_frame`), then what moved most against the first."""
    frame = comparison_frame(runs, plan)
    shown = frame.map(lambda v: f"{v:,.1f}" if abs(v) < 1e5 else f"{v:,.0f}")
    lines = [shown.to_string(), ""]
    if len(runs) > 1:
        base = runs[0]
        lines.append(f"What moved against {base.scenario.name}:")
        base_alloc = base.allocation_frame()["mean_allocated_usd"]
        for run in runs[1:]:
            diff = run.allocation_frame()["mean_allocated_usd"] - base_alloc
            by_loc_sector = diff.groupby(level=["location_code", "sector_code"]).sum()
            order = by_loc_sector.abs().sort_values(ascending=False).index[:3]
            people = run.people_reached.mean() - base.people_reached.mean()
            moves = ", ".join(
                f"{loc} {sec} {by_loc_sector[(loc, sec)] / 1e6:+,.1f}M"
                for loc, sec in order
                if abs(by_loc_sector[(loc, sec)]) > 0.5
            )
            lines.append(
                f"  {run.scenario.name}: people reached {people:+,.0f}; "
                + (moves if moves else "allocation unchanged")
            )
    return "\n".join(lines) + "\n"

