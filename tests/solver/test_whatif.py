"""The what-if solver: re-solves of other amounts give what a fresh build gives."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from reachplan.model.costs import CostModel
from reachplan.model.funding import (
    Amount,
    Earmark,
    Envelope,
    Floor,
    FundingScenario,
    Selector,
    parse_funding,
)
from reachplan.solver.allocate import RULE_KINDS, allocate_costs
from reachplan.solver.model import Units, amount_rhs, build_model
from reachplan.solver.result import InfeasibleScenarioError
from reachplan.solver.whatif import WhatIf, structure_of
from reachplan.workflow.suite import load_usable_plan


@pytest.fixture(scope="module")
def default_costs() -> CostModel:
    return CostModel.from_plan(load_usable_plan(None).plan)


def _same(a, b):
    """The figures a planner reads agree to 1e-6 (relative) between two allocations."""
    assert a.people_reached == pytest.approx(b.people_reached, rel=1e-6, abs=1e-6)
    assert a.objective == pytest.approx(b.objective, rel=1e-6, abs=1e-6)
    assert a.allocated_usd == pytest.approx(b.allocated_usd, rel=1e-6, abs=1e-3)
    assert a.funding_usd == pytest.approx(b.funding_usd, rel=1e-12)
    assert a.pro_rata_people_reached == pytest.approx(b.pro_rata_people_reached, rel=1e-9)
    assert a.envelope_by_year == b.envelope_by_year
    # the amounts' prices, and every binding rule's but the caps': the page's list
    money = ("envelope", "earmark", "flexible")

    def shown(s):
        return s.kind in money or (s.binding and s.kind in RULE_KINDS)

    env_a = [(s.constraint, s.value, s.binding) for s in a.shadow_prices if shown(s)]
    env_b = [(s.constraint, s.value, s.binding) for s in b.shadow_prices if shown(s)]
    assert [(n, bnd) for n, _, bnd in env_a] == [(n, bnd) for n, _, bnd in env_b]
    assert [v for _, v, _ in env_a] == pytest.approx([v for _, v, _ in env_b], rel=1e-6,
                                                     abs=1e-6)
    assert len(a.warnings) == len(b.warnings)
    cov_a = a.coverage_by_location_year["people_reached"].to_numpy()
    cov_b = b.coverage_by_location_year["people_reached"].to_numpy()
    assert np.allclose(cov_a, cov_b, rtol=1e-9, atol=1e-6)
    # line by line: the same optimum as a fresh build, not another of equal value
    assert np.allclose(a.cells["allocated_usd"], b.cells["allocated_usd"], rtol=1e-9, atol=1e-3)


SHELTER = Earmark("Shelter", Amount("usd", 50e6), Selector(sector_codes=("SHELTER_NFI",)))
LIFE_SAVING = Floor("life-saving", 0.5, Selector(life_saving=True), "location")


@pytest.mark.parametrize("rules", [
    {},
    {"earmarks": (SHELTER,)},
    {"earmarks": (SHELTER,), "floors": (LIFE_SAVING,)},
], ids=["no rules", "earmark", "earmark and floor"])
def test_warm_answers_equal_fresh_builds(default_costs, rules):
    solver = WhatIf(default_costs, {})
    texts = ["60%", "55%", "45%", "70%", "50%"]
    for text in texts:
        funding = FundingScenario(parse_funding(text), **rules)
        _same(solver.solve(funding), allocate_costs(default_costs, funding, ranged="all"))
    # one build, then only right-hand sides changed
    assert solver.stats.built == 1
    assert solver.stats.held == len(texts) - 1


def test_floor_shares_are_amounts_on_the_held_model(default_costs):
    solver = WhatIf(default_costs, {})
    for share in (0.5, 0.3, 0.8, 0.0, 0.6):
        floor = replace_share(LIFE_SAVING, share)
        funding = FundingScenario(parse_funding("50%"), floors=(floor,))
        got = solver.solve(funding)
        _same(got, allocate_costs(default_costs, funding, ranged="all"))
        # the floor rows' records read as built (the share in the planner words)
        (row,) = [s.row for s in got.shadow_prices
                  if s.kind == "floor" and s.row.location == "UKR" and s.row.year == 2025]
        assert f"({share:.0%} of requirement)" in row.description
    assert solver.stats.built == 1 and solver.stats.held == 4


def replace_share(floor: Floor, share: float) -> Floor:
    from dataclasses import replace

    return replace(floor, share=share)


def test_per_year_envelopes_and_earmark_amounts_are_warm(default_costs):
    solver = WhatIf(default_costs, {})
    settings = [
        ("2024=50%,2025=60%,2026=40%", 50e6),
        ("2024=60%,2025=60%,2026=40%", 80e6),
        ("2024=60%,2025=30%,2026=40%", 20e6),
    ]
    for text, amount in settings:
        mark = Earmark("Shelter", Amount("usd", amount), SHELTER.selector)
        funding = FundingScenario(parse_funding(text), earmarks=(mark,))
        _same(solver.solve(funding), allocate_costs(default_costs, funding, ranged="all"))
    assert solver.stats.built == 1 and solver.stats.held == 2
    # carry-over is another model (cumulative envelope rows)
    carried = FundingScenario(Envelope(None, ((2024, Amount("share", 0.5)),
                                             (2025, Amount("share", 0.6))), carry_over=True))
    _same(solver.solve(carried), allocate_costs(default_costs, carried, ranged="all"))
    assert solver.stats.built == 2


def test_structure_sets_amounts_aside():
    a = FundingScenario(parse_funding("60%"), earmarks=(SHELTER,), name="a")
    b = FundingScenario(parse_funding("USD 900m"),
                        earmarks=(Earmark("Shelter", Amount("share", 0.1), SHELTER.selector),))
    assert structure_of(a) == structure_of(b)
    other_name = Earmark("Housing", SHELTER.amount, SHELTER.selector)
    assert structure_of(a) != structure_of(FundingScenario(parse_funding("60%"),
                                                           earmarks=(other_name,)))
    assert structure_of(a) != structure_of(FundingScenario(parse_funding("2024=60%")))
    assert structure_of(a) != structure_of(FundingScenario(parse_funding("60%"),
                                                           earmarks=(SHELTER,),
                                                           floors=(LIFE_SAVING,)))


def test_the_builder_takes_its_amounts_from_amount_rhs(hand_plan):
    costs = CostModel.from_plan(hand_plan)
    funding = FundingScenario(
        Envelope(Amount("share", 0.7), ((2024, Amount("usd", 5e6)),), carry_over=True),
        earmarks=(Earmark("health", Amount("usd", 1e6), Selector(sector_codes=("HEALTH",))),),
    )
    lp = build_model(costs, funding)
    rhs = amount_rhs(costs, funding, Units.for_costs(costs))
    assert set(rhs) == {"envelope_total", "envelope_through_2024", "earmark_1_health",
                        "flexible_money"}
    for name, value in rhs.items():
        assert lp.rows[name].rhs == value
    # by hand: appeal $12M, 70% = $8.4M; the year $5M; earmark $1M; flexible $5M - $1M
    usd = lp.units.usd
    assert rhs["envelope_total"] * usd == pytest.approx(8.4e6)
    assert rhs["envelope_through_2024"] * usd == pytest.approx(5e6)
    assert rhs["flexible_money"] * usd == pytest.approx(4e6)


def test_hand_solved_answers_and_cache(hand_plan):
    # hand-solved (tests/solver/conftest.py): $5M reaches 70,000; one more $1M 10,000
    solver = WhatIf(CostModel.from_plan(hand_plan), {"plan_name": "tiny"})
    five = FundingScenario(parse_funding("USD 5m"), objective="headcount")
    first = solver.solve(five)
    assert first.people_reached == pytest.approx(70_000, rel=1e-9)
    (env,) = [s for s in first.shadow_prices if s.kind == "envelope"]
    assert env.value == pytest.approx(10_000, rel=1e-9)
    three = FundingScenario(parse_funding("USD 3m"), objective="headcount")
    # $3M: MDA $2M (40,000) + UKR HEALTH $1M (10,000)
    assert solver.solve(three).people_reached == pytest.approx(50_000, rel=1e-9)
    again = solver.solve(FundingScenario(parse_funding("USD 5m"), objective="headcount",
                                         name="renamed"))
    assert again.people_reached == first.people_reached
    assert again.scenario.name == "renamed"
    assert solver.stats.cached == 1 and solver.stats.held == 1 and solver.stats.built == 1
    assert first.provenance["plan_name"] == "tiny"


def test_rules_that_cannot_hold_get_allocates_diagnosis(hand_plan):
    costs = CostModel.from_plan(hand_plan)
    solver = WhatIf(costs, {})
    floor = Floor("everything funded", 1.0, Selector(), "cell")
    solver.solve(FundingScenario(parse_funding("100%"), floors=(floor,)))
    short = FundingScenario(parse_funding("50%"), floors=(floor,))
    with pytest.raises(InfeasibleScenarioError) as fresh:
        allocate_costs(costs, short)
    with pytest.raises(InfeasibleScenarioError) as warm:
        solver.solve(short)
    assert str(warm.value) == str(fresh.value)
    assert solver.stats.fallback == 1
    # and the held model still answers a feasible amount afterwards
    ok = FundingScenario(parse_funding("100%"), floors=(floor,))
    assert solver.solve(replace_name(ok, "again")).people_reached > 0


def replace_name(funding: FundingScenario, name: str) -> FundingScenario:
    from dataclasses import replace

    return replace(funding, name=name)


def test_threads_get_the_answers_one_thread_gets(hand_plan):
    costs = CostModel.from_plan(hand_plan)
    amounts = [f"USD {m}m" for m in (1, 2, 3, 4, 5, 6, 7, 8)]
    alone = [WhatIf(costs, {}).solve(FundingScenario(parse_funding(a))).people_reached
             for a in amounts]
    shared = WhatIf(costs, {})
    got: dict[int, float] = {}

    def work(i: int) -> None:
        got[i] = shared.solve(FundingScenario(parse_funding(amounts[i]))).people_reached

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(amounts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [got[i] for i in range(len(amounts))] == pytest.approx(alone, rel=1e-9)
