"""The allocation LP's rows: every row carries its kind and coordinates as data.

Location codes of any length or spelling (P-codes such as ``UA14``, ``X1``, or ``UA-14``
whose PuLP name is tokenised to ``UA_14``) must map to the right cells: nothing reads a
row's name back.
"""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from reachplan.model.costs import CostModel
from reachplan.model.funding import (
    Amount,
    Earmark,
    Envelope,
    Floor,
    FundingScenario,
    Lock,
    ObjectiveBound,
    Selector,
)
from reachplan.model.plan import Plan
from reachplan.scenarios.scenario_io import load_scenario
from reachplan.solver.allocate import allocate
from reachplan.solver.batch import draw_model, prepared_model
from reachplan.solver.model import ROW_KINDS, Row, build_model
from tests.solver.conftest import make_plan, usd

CODES = ["UA14", "X1", "UA-14", "KHERSON_OBLAST"]


def _plan(code: str, other: str = "X9"):
    cells = [(code, "HEALTH", 2024, "SO1", 2e6), (code, "WASH", 2024, "SO2", 2e6),
             (code, "HEALTH", 2025, "SO1", 2e6), (other, "HEALTH", 2024, "SO1", 10e6),
             (other, "HEALTH", 2025, "SO1", 10e6)]
    unit = {(code, "HEALTH"): 50.0, (code, "WASH"): 100.0, (other, "HEALTH"): 200.0}
    need = {(code, 2024): 20_000.0, (code, 2025): 1e6, (other, 2024): 1e6, (other, 2025): 1e6}
    return make_plan(cells, unit, need)


@pytest.mark.parametrize("code", CODES)
def test_need_rows_bound_the_people_of_their_own_location_and_year(code):
    costs = CostModel.from_plan(_plan(code))
    lp = build_model(costs, usd(5e6))
    needs = lp.rows_of("need")
    assert sorted((r.location, r.year) for r in needs) == sorted(
        [(code, 2024), (code, 2025), ("X9", 2024), ("X9", 2025)])
    for row in needs:
        bounded = {v.name for v, _ in lp.problem.get_constraint_by_name(row.name).items()}
        cells = {lp.people_vars[i].name for i in range(costs.n_cells)
                 if costs.locations[i] == row.location and costs.years[i] == row.year}
        assert bounded == cells
        assert lp.need_row(row.location, row.year) is row
        assert row.rhs * lp.units.people == pytest.approx(
            costs.people_in_need_of(row.location, row.year))
    assert lp.need_row(code, 2026) is None


@pytest.mark.parametrize("code", CODES)
def test_unfunded_line_of_a_location_whose_needs_are_all_reached(code):
    # code HEALTH 2024 reaches all 20,000 people in need with $1M; code WASH 2024 is
    # better value than X9 but has nobody left to reach
    alloc = allocate(_plan(code), usd(5e6))
    reason = alloc.unfunded.loc[(code, "WASH", 2024), "reason"]
    assert reason == f"all people in need in {code}, 2024 are reached already"
    need = [s for s in alloc.shadow_prices if s.kind == "need" and s.binding]
    assert [(s.row.location, s.row.year) for s in need] == [(code, 2024)]


@pytest.mark.parametrize("code", ["UA-14", "X1"])
def test_engine_need_rows_follow_the_records(code):
    plan = _plan(code)
    scenario = replace(load_scenario("shortfall_50", draws=2, seed=1), funding=usd(5e6))
    prep = prepared_model(plan, scenario)
    assert prep.need_rows == [(code, 2024), (code, 2025), ("X9", 2024), ("X9", 2025)]
    costs = prep.costs
    np.testing.assert_allclose(
        prep.base_need, [costs.people_in_need_of(loc, y) for loc, y in prep.need_rows])
    # doubling the first need row's multiplier doubles that row only, in a fresh build
    mult = np.array([2.0, 1.0, 1.0, 1.0])
    lp = draw_model(costs, scenario.funding, prep.need_rows, mult)
    assert lp.need_row(code, 2024).rhs == pytest.approx(2 * prep.lp.need_row(code, 2024).rhs)
    assert lp.need_row("X9", 2024).rhs == pytest.approx(prep.lp.need_row("X9", 2024).rhs)


def _with_enabler(plan, code: str):
    """The plan with a coordination line (an enabler sector) in ``code``, 2024 and 2025."""
    tables = {k: v.copy() for k, v in plan.tables.items()}
    req = tables["requirements"]
    extra = req[(req["location_code"] == code) & (req["sector_code"] == "HEALTH")].copy()
    extra["sector_code"] = "COORD"
    extra["requirements_usd"] = 1e5
    tables["requirements"] = pd.concat([req, extra], ignore_index=True)
    sectors = tables["sectors"]
    sectors = pd.concat([sectors, pd.DataFrame({"sector_code": ["COORD"],
                                                "sector_name": ["Coordination"],
                                                "iasc_cluster": [""]})], ignore_index=True)
    sectors["output"] = np.where(sectors["sector_code"] == "COORD", "enabler", "people")
    tables["sectors"] = sectors
    return Plan.from_tables(tables, source="tiny")


def test_every_row_has_a_known_kind_and_its_coordinates():
    code = "UA-14"
    plan = _with_enabler(_plan(code), code)
    sc = FundingScenario(
        Envelope(per_year=((2024, Amount("usd", 3e6)), (2025, Amount("usd", 3e6))),
                 carry_over=True),
        floors=(Floor("health", 0.1, Selector(sector_codes=("HEALTH",)), per="location"),),
        earmarks=(Earmark("wash", Amount("usd", 1e5), Selector(sector_codes=("WASH",))),),
        locks=(Lock("x9", Amount("usd", 1e5), Selector(location_codes=("X9",),
                                                         years=(2025,))),),
        exclusions=(Selector(location_codes=(code,), sector_codes=("WASH",)),),
        objective_bounds=(ObjectiveBound("SO1", min_share=0.1, max_share=0.99),),
        max_year_fall=0.9,
    )
    lp = build_model(CostModel.from_plan(plan), sc)
    kinds = {row.kind for row in lp.rows.values()}
    assert kinds == ROW_KINDS
    assert all(isinstance(row, Row) and name == row.name for name, row in lp.rows.items())
    floors = {(r.location, r.year) for r in lp.rows_of("floor")}
    assert floors == {(code, 2024), (code, 2025), ("X9", 2024), ("X9", 2025)}
    assert {r.rule_name for r in lp.rows_of("floor")} == {"health"}
    assert [(r.location, r.sector, r.year) for r in lp.rows_of("exclusion")] == [
        (code, "WASH", 2024)]
    assert sorted((r.objective, r.bound) for r in lp.rows_of("objective_share")) == [
        ("SO1", "max"), ("SO1", "min")]
    assert [r.year for r in lp.rows_of("envelope")] == [2024, 2025]
    # the coordination line follows its programme money: no continuity row of its own
    assert {(r.location, r.sector, r.year) for r in lp.rows_of("continuity")} == {
        (code, "HEALTH", 2025), ("X9", "HEALTH", 2025)}
    assert [r.rule_name for r in lp.rows_of("lock")] == ["x9"]
    assert [r.rule_name for r in lp.rows_of("earmark")] == ["wash"]
    # the coordination line is an overhead of its location's programme money, each year
    assert [(r.location, r.sector, r.year) for r in lp.rows_of("enabler")] == [
        (code, "COORD", 2024), (code, "COORD", 2025)]
    assert [r.year for r in lp.rows_of("programme")] == [2024, 2025]
    assert {(g.location, g.year, g.tier) for g in lp.groups} >= {(code, 2024, 2), ("X9", 2025, 2)}


def test_continuity_holds_an_enabler_only_when_a_rule_takes_it_out_of_the_overhead():
    code = "UA-14"
    plan = _with_enabler(_plan(code), code)
    costs = CostModel.from_plan(plan)
    base = FundingScenario(Envelope(total=Amount("usd", 3e6)), max_year_fall=0.5)

    def continuity(sc):
        return {(r.location, r.sector, r.year) for r in build_model(costs, sc).rows_of(
            "continuity")}

    assert continuity(base) == {(code, "HEALTH", 2025), ("X9", "HEALTH", 2025)}
    locked = replace(base, locks=(Lock("coord", Amount("usd", 1e4), Selector(
        location_codes=(code,), sector_codes=("COORD",))),))
    assert continuity(locked) == continuity(base) | {(code, "COORD", 2025)}
    # locked in one year only: the other year still follows the overhead rule
    one_year = replace(base, locks=(Lock("coord", Amount("usd", 1e4), Selector(
        location_codes=(code,), sector_codes=("COORD",), years=(2024,))),))
    assert continuity(one_year) == continuity(base)
    # the overhead rule holds the line instead, each year
    lp = build_model(costs, base)
    assert [(r.location, r.sector, r.year) for r in lp.rows_of("enabler")] == [
        (code, "COORD", 2024), (code, "COORD", 2025)]


def test_a_row_of_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown row kind"):
        Row("x", "bogus", "x", "<=", 0.0)  # type: ignore[arg-type]


def test_tie_slices_hold_at_most_a_fifth_of_the_requirement():
    from reachplan.solver.model import tie_slices

    assert tie_slices((0.4, 0.3, 0.2, 0.1)).tolist() == [2, 2, 1, 1]
    assert tie_slices((1.0,)).tolist() == [5]
    assert tie_slices((0.5, 0.3, 0.2)).tolist() == [3, 2, 1]
    lp = build_model(CostModel.from_plan(_plan("UA14")), FundingScenario.from_mapping(
        {"funding": "50%"}, "t"))
    # one tranche of 100%: five slices of 20% per line that reaches people
    assert {len(xs) for xs in lp.tranche_vars} == {5}


@pytest.mark.parametrize("objective", ["priority", "headcount"])
def test_equally_good_lines_are_funded_within_one_slice_of_each_other(objective):
    # two lines of one location and year with the same unit cost, requirement and
    # objective: any split of the money is optimal without the tie-break; with it, their
    # funded shares are at most one slice (20%) apart. Money for one line in all: each
    # line between 40% and 60% of its requirement (by hand: q1 + q2 = 1, |q1 - q2| <= 0.2)
    cells = [("A", "S1", 2024, "SO1", 1e6), ("A", "S2", 2024, "SO1", 1e6)]
    plan = make_plan(cells, {("A", "S1"): 10.0, ("A", "S2"): 10.0}, {("A", 2024): 1e6})
    result = allocate(plan, FundingScenario.from_mapping(
        {"funding": "50%", "objective": objective}, "t"))
    share = result.cells["allocated_usd"].to_numpy() / 1e6
    assert share.sum() == pytest.approx(1.0, rel=1e-9)
    assert np.all(share >= 0.4 - 1e-9) and np.all(share <= 0.6 + 1e-9), share
