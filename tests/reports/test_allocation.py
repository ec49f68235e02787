import json

import pandas as pd
import pytest

from reachplan.model.funding import Amount, Earmark, Envelope, FundingScenario, Selector
from reachplan.reports.allocation import (
    render_csv_tables,
    render_json,
    render_summary,
    write_allocation_csvs,
)
from reachplan.solver.allocate import allocate
from tests.solver.conftest import HAND_CELLS, HAND_COSTS, HAND_NEED, make_plan


@pytest.fixture
def result():
    plan = make_plan(HAND_CELLS, HAND_COSTS, HAND_NEED)
    # the hand-solved figures are people per dollar: the headcount objective
    return allocate(plan, FundingScenario(Envelope(total=Amount("usd", 5e6)),
                                          objective="headcount"))


def test_json_has_the_headline_and_one_object_per_cell(result):
    data = render_json(result)
    json.dumps(data)  # serialisable
    assert data["funding_usd"] == pytest.approx(5e6)
    assert data["allocated_usd"] == pytest.approx(5e6)
    assert data["people_reached"] == pytest.approx(70_000)
    assert data["pro_rata_people_reached"] == pytest.approx(45_833.33, rel=1e-6)
    cells = {(c["location_code"], c["sector_code"], c["year"]): c for c in data["cells"]}
    assert cells[("MDA", "HEALTH", 2024)]["people_reached"] == pytest.approx(40_000)
    assert cells[("UKR", "WASH", 2024)]["allocated_usd"] == 0
    assert data["provenance"]["plan_fingerprint"] == result.provenance["plan_fingerprint"]
    assert "version_pulp" in data["provenance"]
    assert data["unfunded"][0]["sector_code"] == "WASH"


def test_summary_states_gain_over_pro_rata(result):
    text = render_summary(result)
    assert "70,000" in text and "45,833" in text and "+24,167 people" in text


def test_summary_says_what_one_more_million_reaches(result):
    # by hand: at $5M the next dollar goes to UKR HEALTH at $100 a person
    text = render_summary(result)
    assert "One more $1M of funding reaches: +10,000 people\n" in text
    binding = text.split("Binding constraints (people per extra $1M):\n")[1].splitlines()
    assert binding[0] == "  the total envelope: +10,000"
    # MDA HEALTH's absorption cap binds: counted, not listed among the planner's rules
    assert binding[1].startswith("  1 absorption caps bind too; every one is in the --json")
    assert "absorption cap of" not in text


def test_summary_at_full_funding_says_more_money_reaches_nobody():
    plan = make_plan(HAND_CELLS, HAND_COSTS, HAND_NEED)
    full = allocate(plan, FundingScenario(Envelope(total=Amount("usd", 12e6)),
                                          objective="headcount"))
    text = render_summary(full)
    # every line full: more money reaches nobody
    assert "One more $1M of funding reaches: +0 people\n" in text
    assert "  no rule a planner sets is binding\n  2 absorption caps bind too" in text


def _earmarked(total: float) -> FundingScenario:
    # $3M of the envelope earmarked to UKR WASH ($200 a person), the rest flexible
    return FundingScenario(
        Envelope(total=Amount("usd", total)), objective="headcount",
        earmarks=(Earmark("wash donor", Amount("usd", 3e6),
                          Selector(location_codes=("UKR",), sector_codes=("WASH",))),))


def test_one_more_million_with_earmarks_is_a_re_solve_with_one_more_flexible_dollar():
    plan = make_plan(HAND_CELLS, HAND_COSTS, HAND_NEED)
    base = allocate(plan, _earmarked(5e6))
    # by hand: $2M flexible fills MDA HEALTH (40,000), the earmark funds 15,000 in WASH;
    # the next flexible dollar goes to UKR HEALTH at $100 a person
    assert base.people_reached == pytest.approx(55_000)
    value = base.one_more_million.people
    more = allocate(plan, _earmarked(6e6))  # the same earmark, $1M more in all
    assert value == pytest.approx(more.people_reached - base.people_reached, rel=1e-9)
    assert value == pytest.approx(10_000, rel=1e-9)
    assert render_json(base)["one_more_million"] == {
        "people": pytest.approx(10_000, rel=1e-9), "year": None, "people_by_year": {},
        "entities": 0.0, "entities_by_year": {}}
    assert ("One more $1M of flexible (non-earmarked) money reaches: +10,000 people"
            in render_summary(base))


def test_csv_tables_written_atomically_and_read_back(result, tmp_path):
    paths = write_allocation_csvs(render_csv_tables(result), tmp_path / "out")
    assert {p.name for p in paths} >= {"cells.csv", "shadow_prices.csv", "provenance.csv"}
    cells = pd.read_csv(tmp_path / "out" / "cells.csv")
    assert cells["allocated_usd"].sum() == pytest.approx(5e6)
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_frontier_note_names_first_funded_csv_only_when_written(tmp_path):
    from reachplan.model.costs import CostModel
    from reachplan.reports.allocation import render_frontier
    from reachplan.solver.frontier import funding_frontier

    plan = make_plan(HAND_CELLS, HAND_COSTS, HAND_NEED)
    rules = FundingScenario(Envelope(total=Amount("usd", 5e6)), objective="headcount")
    ladder = funding_frontier(CostModel.from_plan(plan), rules,
                              step=0.5)
    assert len(ladder.first_funded) > 1
    shown = render_frontier(ladder, top=1)
    assert shown.splitlines()[-1].endswith("more (add --out DIR to write first_funded.csv)")
    written = render_frontier(ladder, top=1, csv_dir=tmp_path)
    assert written.splitlines()[-1].endswith(f"more (see {tmp_path / 'first_funded.csv'})")
