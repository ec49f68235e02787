"""What one more $1M reaches (``Allocation.one_more_million``), against cold re-solves.

The figure is a warm re-solve of the allocation with the envelope rows (and, with earmarks,
the flexible-money row) raised by $1M. Each test builds the scenario with $1M more in its
funding rules instead, solves it from scratch, and compares the people reached.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import pytest

from reachplan.model.funding import Amount, Earmark, Envelope, FundingScenario, Selector
from reachplan.model.plan import Plan
from reachplan.scenarios.plan_io import load_plan
from reachplan.scenarios.scenario_io import load_scenario
from reachplan.solver.allocate import allocate
from tests.solver.conftest import HAND_CELLS, HAND_COSTS, HAND_NEED, make_plan, usd


@cache
def _shipped() -> Plan:
    plan = load_plan().plan
    assert plan is not None
    return plan


def _more_total(scenario: FundingScenario, funding_usd: float) -> FundingScenario:
    return replace(scenario, envelope=replace(
        scenario.envelope, total=Amount("usd", funding_usd + 1e6)))


def test_by_hand_the_next_million_goes_to_the_next_line():
    plan = make_plan(HAND_CELLS, HAND_COSTS, HAND_NEED)
    # $5.5M: MDA HEALTH full; UKR HEALTH has $3.5M of $4M, so $0.5M more at $100 a person
    # (5,000) and $0.5M into UKR WASH at $200 a person (2,500): 7,500, no derivative's figure
    at = allocate(plan, usd(5.5e6))
    assert at.one_more_million.people == pytest.approx(7_500, rel=1e-9)
    assert at.one_more_million.year is None and at.one_more_million.by_year == {}
    # everything funded: more money reaches nobody
    assert allocate(plan, usd(12e6)).one_more_million.people == pytest.approx(0, abs=1e-9)
    # the ladder's and the suite's modes do not compute it
    assert allocate(plan, usd(5.5e6), ranged="none").one_more_million is None


def test_with_earmarks_flexible_money_rises_with_the_envelope():
    plan = make_plan(HAND_CELLS, HAND_COSTS, HAND_NEED)
    earmark = Earmark("wash donor", Amount("usd", 3e6),
                      Selector(location_codes=("UKR",), sector_codes=("WASH",)))
    rules = replace(usd(5e6), earmarks=(earmark,))
    at = allocate(plan, rules)
    # $2M flexible fills MDA HEALTH; one more flexible $1M goes to UKR HEALTH at $100 a
    # person. The rows' own shadow prices, each moved alone, add up to 5,000 here
    prices = {s.kind: s.value for s in at.shadow_prices if s.kind in ("envelope", "flexible")}
    assert sum(prices.values()) == pytest.approx(5_000, rel=1e-9)
    assert at.one_more_million.people == pytest.approx(10_000, rel=1e-9)
    cold = allocate(plan, _more_total(rules, at.funding_usd), ranged="none")
    assert at.one_more_million.people == pytest.approx(
        cold.people_reached - at.people_reached, rel=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["shortfall_30", "shortfall_60", "heavily_earmarked"])
def test_shipped_scenarios_agree_with_a_cold_solve_with_one_million_more(name):
    plan = _shipped()
    rules = load_scenario(name).funding
    at = allocate(plan, rules, ranged="amounts")
    cold = allocate(plan, _more_total(rules, at.funding_usd), ranged="none")
    assert at.one_more_million.people == pytest.approx(
        cold.people_reached - at.people_reached, rel=1e-6, abs=1e-3)


@pytest.mark.slow
def test_per_year_envelopes_give_each_year_of_arrival():
    # back_loaded: per-year envelopes with carry-over; $1M arriving for year y raises that
    # year's envelope (and so every cumulative envelope from y on)
    plan = _shipped()
    rules = load_scenario("back_loaded").funding
    assert rules.envelope.per_year and rules.envelope.carry_over
    at = allocate(plan, rules, ranged="amounts")
    extra = at.one_more_million
    years = sorted(y for y, _ in rules.envelope.per_year)
    assert sorted(extra.by_year) == years
    assert extra.people == max(extra.by_year.values())
    assert extra.by_year[extra.year] == extra.people
    for year in years:
        per_year = tuple((y, Amount("usd", at.envelope_by_year[y] + (1e6 if y == year else 0)))
                         for y in years)
        total = (None if rules.envelope.total is None
                 else Amount("usd", at.funding_usd + 1e6))
        more = replace(rules, envelope=Envelope(total=total, per_year=per_year,
                                                carry_over=True))
        cold = allocate(plan, more, ranged="none")
        assert extra.by_year[year] == pytest.approx(
            cold.people_reached - at.people_reached, rel=1e-6, abs=1e-3), year
        assert extra.entities_by_year[year] == pytest.approx(
            cold.entities_reached - at.entities_reached, rel=1e-6, abs=1e-6), year
    # money arriving for 2024 goes to entity lines (border management): entities, no people
    assert extra.by_year[2024] == pytest.approx(0, abs=1e-3)
    assert extra.entities_by_year[2024] > 1
