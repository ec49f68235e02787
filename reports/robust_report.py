"""Committed plans compared across simulated futures: console table and JSON."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from reachplan.model.formatting import format_people
from reachplan.reports.json_text import dumps
from reachplan.solver.result import PlanComparison

LABELS = {
    "mean_needs": "planned on average needs",
    "saa": "sample average (best mean)",
    "cvar": "risk-averse (best worst-tail mean)",
    "two_stage": "two-stage (commit first year, adapt later)",
}


def comparison_json(comp: PlanComparison, scenario: str, cells: pd.MultiIndex) -> dict[str, Any]:
    """Numbers of a plan comparison, per plan, with each plan's allocation per cell."""
    mean, cvar = comp.mean(), comp.cvar()
    plans = []
    for i, p in enumerate(comp.plans):
        plans.append(
            {
                "method": p.method,
                "label": LABELS.get(p.method, p.method),
                "people_reached_mean": float(mean[i]),
                "people_reached_p10": float(np.percentile(comp.people[i], 10)),
                "people_reached_cvar": float(cvar[i]),
                "allocated_usd": float(p.allocation_usd.sum()),
                "cells": [
                    {
                        "location_code": loc,
                        "sector_code": sec,
                        "year": int(yr),
                        "allocated_usd": float(v),
                        "committed": bool(c),
                    }
                    for (loc, sec, yr), v, c in zip(
                        cells, p.allocation_usd, p.committed, strict=True
                    )
                ],
            }
        )
    return {
        "scenario": scenario,
        "evaluation_draws": int(comp.people.shape[1]),
        "planning_draws": max(len(p.in_sample_people) for p in comp.plans),
        "alpha": comp.alpha,
        "value_of_planning_with_simulation": comp.value_of_planning(),
        "plans": plans,
    }


def render_comparison_text(comp: PlanComparison, scenario: str) -> str:
    """Table of the plans on fresh draws and the value of planning with the simulation."""
    mean, cvar = comp.mean(), comp.cvar()
    base = mean[0]
    rows = []
    for i, p in enumerate(comp.plans):
        rows.append(
            {
                "plan": LABELS.get(p.method, p.method),
                "people reached (mean)": format_people(mean[i]),
                "p10": format_people(np.percentile(comp.people[i], 10)),
                f"worst {comp.alpha:.0%} (mean)": format_people(cvar[i]),
                "vs average-needs plan": f"{(mean[i] - base) / base:+.2%}",
            }
        )
    table = pd.DataFrame(rows).set_index("plan").to_string()
    n_eval = comp.people.shape[1]
    n_plan = max(len(p.in_sample_people) for p in comp.plans)
    return (
        f"Scenario {scenario}: plans made on {n_plan} simulated futures, evaluated on "
        f"{n_eval} fresh ones\n{table}\n"
        f"Value of planning with the simulation: {comp.value_of_planning():+.2%} people reached "
        "(sample-average plan against the plan made for average needs)\n"
    )


def render_comparison_json(comp: PlanComparison, scenario: str, cells: pd.MultiIndex) -> str:
    """JSON text of :func:`comparison_json`."""
    return dumps(comparison_json(comp, scenario, cells), indent=1)
