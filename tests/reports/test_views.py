"""Report views: money rounding, country roll-up, sector tables, sections that apply."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

from reachplan.model.funding import Amount, Envelope, FundingScenario
from reachplan.model.plan import Plan
from reachplan.reports.allocation import render_csv_tables, render_summary
from reachplan.reports.plan_report import render_export, render_plan_summary
from reachplan.reports.tables import render_table_csv
from reachplan.reports.views import (
    country_of,
    has_objectives,
    has_subnational,
    is_money_amount,
    round_money,
)
from reachplan.solver.allocate import allocate
from tests.conftest import tiny_tables
from tests.reports.subnational_fixture import (
    NoObjectivePlan,
    _Tables,
    subnational_plan,
    subnational_tables,
)


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def test_round_money_cents_and_rates():
    frame = pd.DataFrame({"requirements_usd": [24499999.999999996, 0.1 + 0.2, np.nan],
                          "unit_cost_usd": [0.0041234567, 1.0, 2.0],
                          "people_reached": [1.0000000001, 2.0, 3.0]})
    text = render_table_csv(frame)
    rows = list(pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
                .itertuples(index=False))
    assert rows[0].requirements_usd == "24500000"
    assert rows[1].requirements_usd == "0.3"
    assert rows[2].requirements_usd == ""
    assert rows[0].unit_cost_usd == "0.004123"  # a price per person keeps 6 decimals
    assert rows[0].people_reached == "1.0000000001"  # people are not money
    assert is_money_amount("mean_allocated_usd") and not is_money_amount("unit_cost_usd")
    assert round_money(pd.DataFrame({"x_usd": [-1e-9]}))["x_usd"].iloc[0] == 0.0


def test_country_of_follows_parents_up_to_the_country():
    tables = subnational_tables()
    tables["locations"] = pd.concat([tables["locations"], pd.DataFrame({
        "location_code": ["PL0201"], "location_name": ["Wroclaw"], "region": ["hosts"],
        "kind": ["admin2"], "parent_code": ["PL02"]})], ignore_index=True)
    top = country_of(_Tables(tables))
    assert top.to_dict() == {"POL": "POL", "MDA": "MDA", "PL02": "POL", "PL0201": "POL"}
    assert has_subnational(_Tables(tables))
    plain = Plan.from_tables(tiny_tables())
    assert country_of(plain).to_dict() == {"POL": "POL", "MDA": "MDA"}
    assert not has_subnational(plain)


@pytest.fixture(scope="module")
def tiny_third():
    """The tiny plan at a third of its appeal: allocations with float noise."""
    plan = Plan.from_tables(tiny_tables())
    return plan, allocate(plan, FundingScenario(Envelope(total=Amount("usd", 550 / 3))))


def test_allocation_csv_money_has_at_most_two_decimals(tiny_third):
    _, result = tiny_third
    tables = render_csv_tables(result)
    checked = 0
    for name, text in tables.items():
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        for col in frame.columns:
            if is_money_amount(col):
                checked += 1
                assert max(_decimals(v) for v in frame[col]) <= 2, (name, col)
    assert checked >= 6
    cells = pd.read_csv(io.StringIO(tables["cells"]))
    assert cells["allocated_usd"].sum() == pytest.approx(550 / 3, abs=0.01 * len(cells))


def test_sector_and_country_tables_sum_to_the_allocation(tiny_third):
    _, result = tiny_third
    tables = render_csv_tables(result)
    sectors = pd.read_csv(io.StringIO(tables["sectors"]))
    locations = pd.read_csv(io.StringIO(tables["locations"]))
    # every dollar of the envelope is allocated (hand: the LP spends all of 550 / 3)
    for frame in (sectors, locations):
        assert frame["allocated_usd"].sum() == pytest.approx(550 / 3, abs=0.02)
        assert frame["requirement_usd"].sum() == pytest.approx(550)


def test_subnational_lines_roll_up_to_their_country():
    plan = subnational_plan()
    result = allocate(plan, FundingScenario(Envelope(total=Amount("usd", 550.0))))
    tables = render_csv_tables(result, plan)
    loc = pd.read_csv(io.StringIO(tables["locations"]))
    by_country = loc.groupby("location_code")[["requirement_usd", "allocated_usd"]].sum()
    # by hand: Poland = PL02 WASH 100 + POL HEALTH 100; Moldova 200 + 150; full funding
    assert by_country.to_dict() == {"requirement_usd": {"MDA": 350, "POL": 200},
                                    "allocated_usd": {"MDA": 350, "POL": 200}}
    sub = pd.read_csv(io.StringIO(tables["subnational"]))
    assert sub[["country_code", "location_code", "year", "requirement_usd"]].values.tolist() \
        == [["POL", "PL02", 2024, 100]]
    text = render_summary(result, plan=plan)
    assert "Sub-national lines, all years:" in text
    assert "sub-national lines summed to their country" in text
    # the plain tiny plan has no sub-national table
    plain = Plan.from_tables(tiny_tables())
    plain_result = allocate(plain, FundingScenario(Envelope(total=Amount("usd", 550.0))))
    assert "subnational" not in render_csv_tables(plain_result, plain)
    assert "Sub-national" not in render_summary(plain_result, plan=plain)


def test_plan_show_sector_table_and_objectives_only_when_stated():
    plan = Plan.from_tables(tiny_tables())
    text = render_plan_summary(plan)
    assert has_objectives(plan)
    assert "Requirement by objective and year" in text
    sector = text.split("Requirement by sector and year (USD)\n")[1].split("\n\n")[0]
    lines = sector.splitlines()
    assert lines[1].split() == ["WASH", "WASH", "$300", "$150"]
    assert lines[2].split() == ["HEALTH", "Health", "$100", "$0"]
    assert lines[3].split() == ["total", "$400", "$150"]
    country = text.split("Requirement by country and year (USD)\n")[1].split("\n\n")[0]
    assert country.splitlines()[-1].split() == ["total", "$400", "$150"]
    bare = render_plan_summary(NoObjectivePlan.from_tables(tiny_tables()))
    assert "objective" not in bare.lower()
    assert "Requirement by sector and year" in bare


def test_plan_show_rolls_admin_lines_up():
    text = render_plan_summary(subnational_plan())
    country = text.split("Requirement by country and year (USD)")[1].split("\n\n")[0]
    rows = {line.split()[0]: line.split()[-2:] for line in country.splitlines()[2:]}
    assert rows["POL"] == ["$200", "$0"] and rows["MDA"] == ["$200", "$150"]
    assert "PL02" not in country
    detail = text.split("Requirement by sub-national location and year (USD)\n")[1]
    assert "POL > PL02 Dolnoslaskie" in detail.split("\n\n")[0]


def test_plan_export_money_to_the_cent():
    t = tiny_tables()
    t["requirements"].loc[0, "requirements_usd"] = 24499999.999999996
    text = render_export(Plan.from_tables(t))
    assert "24500000," in text and "24499999.99" not in text
    assert not math.isnan(float(text.splitlines()[1].split(",")[4]))
