"""Plans for the report views: the tiny plan, one with an admin1 line, one without objectives."""

from __future__ import annotations

import pandas as pd

from reachplan.model.plan import Plan
from tests.conftest import tiny_tables


def subnational_tables() -> dict[str, pd.DataFrame]:
    """The tiny plan with POL/WASH 2024 ($100) planned in the admin1 area PL02 of Poland.

    By hand: Poland = PL02 WASH $100 + POL HEALTH $100 = $200; Moldova $350; total $550.
    """
    t = tiny_tables()
    t["locations"] = pd.DataFrame({
        "location_code": ["POL", "MDA", "PL02"],
        "location_name": ["Poland", "Moldova", "Dolnoslaskie"],
        "region": ["hosts"] * 3,
        "kind": ["country", "country", "admin1"],
        "parent_code": ["", "", "POL"],
    })
    t["requirements"].loc[0, "location_code"] = "PL02"
    t["unit_costs"].loc[0, "location_code"] = "PL02"
    t["populations"] = pd.concat([t["populations"], pd.DataFrame({
        "location_code": ["PL02", "PL02"], "year": [2024, 2024],
        "population_status": ["in_need", "targeted"], "population": [600.0, 400.0],
        "origin": ["source"] * 2, "note": [""] * 2,
    })], ignore_index=True)
    return t


class NoObjectivePlan(Plan):
    """A plan that states no strategic objectives (``Plan.has_objectives`` False)."""

    has_objectives = False


class _Tables:
    """Only the tables (what :func:`reports.views.country_of` reads without Plan.country_of)."""

    def __init__(self, tables: dict[str, pd.DataFrame]) -> None:
        self.tables = tables


def subnational_plan() -> Plan:
    """:func:`subnational_tables` as a Plan with ``country_of`` (contract 1).

    Until the plan tables keep ``parent_code``, ``country_of`` is the fallback's answer on
    the raw tables (checked by hand in test_views).
    """
    from reachplan.reports.views import country_of

    raw = subnational_tables()
    top = country_of(_Tables(raw))

    class SubnationalPlan(Plan):
        country_of = property(lambda self: top)

    return SubnationalPlan.from_tables(raw)
