"""Tiny plans whose optimum is computed on paper, and strategies for generated plans.

Hand-solved fixture (one year, linear costs: one tranche at factor 1):

    cell          requirement   unit cost   people per $
    MDA HEALTH      $2M          $50          0.02
    UKR HEALTH      $4M          $100         0.01
    UKR WASH        $6M          $200         0.005

With $5M the money goes to the best value first: MDA HEALTH $2M (40,000 people), then
UKR HEALTH $3M (30,000): 70,000 people. One more $1M reaches 10,000 more (UKR HEALTH
is the marginal line). Pro-rata cuts every line to 5/12: 16,667 + 16,667 + 12,500 =
45,833 people.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from hypothesis import strategies as st

from reachplan.model.funding import Amount, Envelope, Floor, FundingScenario, Selector
from reachplan.model.plan import Plan

Cell = tuple[str, str, int, str, float]  # location, sector, year, objective, requirement USD


def make_plan(
    cells: Sequence[Cell],
    unit_costs: dict[tuple[str, str], float],
    in_need: dict[tuple[str, int], float] | None = None,
    curve: Sequence[tuple[float, float]] = ((1.0, 1.0),),
    overlap: float | None = None,
) -> Plan:
    """A plan from cells, unit costs per (location, sector), people in need and a curve."""
    locations = sorted({c[0] for c in cells})
    sectors = sorted({c[1] for c in cells})
    objectives = sorted({c[3] for c in cells})
    settings = [("name", "tiny plan", "")]
    if overlap is not None:
        settings.append(("overlap_factor", str(overlap), ""))
    tables = {
        "settings": pd.DataFrame(settings, columns=["key", "value", "note"]),
        "objectives": pd.DataFrame({"objective_code": objectives,
                                    "objective_name": objectives}),
        "locations": pd.DataFrame({"location_code": locations, "location_name": locations,
                                   "region": "r", "kind": "country"}),
        "sectors": pd.DataFrame({"sector_code": sectors, "sector_name": sectors,
                                 "iasc_cluster": ""}),
        "requirements": pd.DataFrame(
            [(loc, sec, yr, obj, req, "source", "") for loc, sec, yr, obj, req in cells],
            columns=["location_code", "sector_code", "year", "objective", "requirements_usd",
                     "origin", "note"]),
        "populations": pd.DataFrame(
            [(loc, yr, "in_need", v, "source", "") for (loc, yr), v in (in_need or {}).items()],
            columns=["location_code", "year", "population_status", "population", "origin",
                     "note"]),
        "unit_costs": pd.DataFrame(
            [(loc, sec, u, 1.0, "derived", "") for (loc, sec), u in unit_costs.items()],
            columns=["location_code", "sector_code", "unit_cost_usd", "weight", "origin",
                     "note"]),
        "cost_curve": pd.DataFrame(
            [(k + 1, s, f, "") for k, (s, f) in enumerate(curve)],
            columns=["tranche", "share_of_requirement", "cost_factor", "note"]),
    }
    return Plan.from_tables(tables, source="tiny")


SHARES = st.one_of(st.just(0.0), st.floats(1e-3, 1.2))
"""Envelope shares of the appeal for generated scenarios."""

HAND_CELLS: list[Cell] = [
    ("MDA", "HEALTH", 2024, "SO1", 2e6),
    ("UKR", "HEALTH", 2024, "SO1", 4e6),
    ("UKR", "WASH", 2024, "SO2", 6e6),
]
HAND_COSTS = {("MDA", "HEALTH"): 50.0, ("UKR", "HEALTH"): 100.0, ("UKR", "WASH"): 200.0}
HAND_NEED = {("MDA", 2024): 1e6, ("UKR", 2024): 1e6}


@pytest.fixture
def hand_plan() -> Plan:
    return make_plan(HAND_CELLS, HAND_COSTS, HAND_NEED)


def usd(amount: float) -> FundingScenario:
    """A total envelope in USD under the headcount objective.

    The hand-solved figures in these tests are people per dollar: the headcount objective
    (the priority objective has its own hand-checked tests in test_independent_lp.py and
    test_model_v2.py).
    """
    return FundingScenario(Envelope(total=Amount("usd", amount)), objective="headcount")


# ---- generated plans ----------------------------------------------------------------------

LOCS = ("MDA", "POL", "UKR")
SECS = ("HEALTH", "PROTECTION", "WASH")


@st.composite
def small_plans(draw: st.DrawFn) -> Plan:
    """1-3 locations x 1-3 sectors x 1-2 years, distinct requirements and unit costs."""
    n_loc = draw(st.integers(1, 3))
    n_sec = draw(st.integers(1, 3))
    n_year = draw(st.integers(1, 2))
    n = n_loc * n_sec * n_year
    # strictly increasing, then permuted: distinct requirements ($0.1M to ~$10M)
    steps = draw(st.lists(st.floats(0.05, 1.0), min_size=n, max_size=n))
    order = draw(st.permutations(range(n)))
    req = (0.1 + np.cumsum(steps))[list(order)] * 1e6
    cells: list[Cell] = []
    i = 0
    for loc in LOCS[:n_loc]:
        for s, sec in enumerate(SECS[:n_sec]):
            for yr in (2024, 2025)[:n_year]:
                cells.append((loc, sec, yr, ("SO1", "SO2")[s % 2], float(req[i])))
                i += 1
    cost_steps = draw(st.lists(st.floats(1.0, 80.0), min_size=n_loc * n_sec,
                               max_size=n_loc * n_sec))
    cost_order = draw(st.permutations(range(n_loc * n_sec)))
    costs = (20.0 + np.cumsum(cost_steps) * 1.0137)[list(cost_order)]
    unit = {(loc, sec): float(costs[j * n_sec + s]) for j, loc in enumerate(LOCS[:n_loc])
            for s, sec in enumerate(SECS[:n_sec])}
    need_factor = draw(st.floats(0.1, 3.0))
    need = {}
    for loc in LOCS[:n_loc]:
        for yr in (2024, 2025)[:n_year]:
            loc_money = sum(c[4] for c in cells if c[0] == loc and c[3] and c[2] == yr)
            need[(loc, yr)] = need_factor * loc_money / 100.0
    curve = draw(st.sampled_from([((1.0, 1.0),), ((0.5, 1.0), (0.5, 1.5)),
                                  ((0.4, 1.0), (0.3, 1.25), (0.3, 2.0))]))
    overlap = draw(st.sampled_from([1.0, 1.5]))
    return make_plan(cells, unit, need, curve, overlap)


@st.composite
def scenarios(draw: st.DrawFn, plan: Plan) -> FundingScenario:
    """A feasible scenario: envelope share, total or per year, optional floors and carry-over."""
    years = [int(y) for y in plan.years]
    # zero, or at least 0.1% of the appeal: smaller envelopes are a few dollars on these
    # plans, below the precision HiGHS solves to in the LP's units
    share = draw(SHARES)
    per_year = draw(st.booleans())
    if per_year:
        shares = draw(st.lists(SHARES, min_size=len(years), max_size=len(years)))
        env = Envelope(per_year=tuple((y, Amount("share", s)) for y, s in zip(years, shares,
                                                                                strict=True)),
                       carry_over=draw(st.booleans()))
        share = min(shares)
    else:
        env = Envelope(total=Amount("share", share))
    floors: tuple[Floor, ...] = ()
    if draw(st.booleans()):
        # a floor at most the funded share keeps the scenario feasible
        f = min(share, 1.0) * draw(st.floats(0.0, 1.0))
        per = draw(st.sampled_from(["cell", "location", "all"]))
        floors = (Floor("life-saving", f, Selector(objectives=("SO1",)), per=per),)
    return FundingScenario(env, floors=floors)


@st.composite
def plans_and_scenarios(draw: st.DrawFn) -> tuple[Plan, FundingScenario]:
    plan = draw(small_plans())
    return plan, draw(scenarios(plan))
