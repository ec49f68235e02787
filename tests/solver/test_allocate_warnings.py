"""Allocations that reach nobody or leave money unallocated say why; absurd numbers are refused."""

from __future__ import annotations

import dataclasses
import math

import pytest

from reachplan.model.funding import (
    Amount,
    Cap,
    Earmark,
    FundingError,
    ObjectiveBound,
    Selector,
    Weight,
)
from reachplan.reports.allocation import render_json, render_summary
from reachplan.reports.json_text import dumps, finite
from reachplan.solver.allocate import allocate
from reachplan.solver.result import InfeasibleScenarioError, ModelRangeError
from tests.solver.conftest import HAND_CELLS, HAND_COSTS, HAND_NEED, make_plan, usd


@pytest.fixture(scope="module")
def plan():
    return make_plan(HAND_CELLS, HAND_COSTS, HAND_NEED)


def test_no_warning_when_money_is_all_used(plan):
    result = allocate(plan, usd(5e6))
    assert result.allocated_usd == pytest.approx(5e6)
    assert result.warnings == ()
    assert render_json(result)["warnings"] == []


def test_earmark_larger_than_its_lines_is_a_warning_with_the_reason(plan):
    mark = Earmark("Moldova money", Amount("usd", 4e6), Selector(location_codes=("MDA",)))
    result = allocate(plan, dataclasses.replace(usd(5e6), earmarks=(mark,)))
    # MDA HEALTH absorbs its $2M requirement; $2M of the earmark cannot go elsewhere
    assert result.allocated_usd == pytest.approx(3e6)
    assert len(result.warnings) == 1
    warning = result.warnings[0]
    assert "$2.0M of $5.0M is not allocated" in warning
    assert "earmark 'Moldova money'" in warning and "$4.0M" in warning
    assert "absorb only $2.0M" in warning
    assert "no further line reaches people" not in warning
    assert f"warning: {warning}" in render_summary(result)
    assert render_json(result)["warnings"] == [warning]


def test_money_beyond_what_lines_absorb_is_a_warning(plan):
    result = allocate(plan, usd(50e6))  # the appeal is $12M
    assert result.allocated_usd == pytest.approx(12e6)
    assert any("$38.0M of $50.0M is not allocated" in w and "absorption cap" in w
               for w in result.warnings)


def test_zero_envelope_reaches_nobody_and_says_why(plan):
    result = allocate(plan, usd(0.0))
    assert result.warnings == ("the allocation reaches nobody: the envelope is $0",)


def test_all_weights_zero_reaches_nobody_and_says_why(plan):
    scenario = dataclasses.replace(usd(5e6), weights=(Weight(0.0, Selector()),))
    result = allocate(plan, scenario)
    assert result.people_reached == 0
    assert result.warnings[0] == ("the allocation reaches nobody: every line that reaches "
                                  "people has weight 0 (plan or scenario weights)")


def test_minimum_shares_over_100_percent_are_refused_before_solving(plan):
    bounds = (ObjectiveBound("SO1", 0.9), ObjectiveBound("SO2", 0.9))
    with pytest.raises(FundingError, match=r"add up to 180%"):
        dataclasses.replace(usd(5e6), objective_bounds=bounds)


def test_bound_only_met_by_nothing_is_infeasible_not_zero(plan):
    # SO1 is the two HEALTH lines; capping them at 0 leaves only $0 meeting "SO1 >= 50%"
    scenario = dataclasses.replace(
        usd(5e6),
        objective_bounds=(ObjectiveBound("SO1", 0.5),),
        caps=(Cap(0.0, Selector(sector_codes=("HEALTH",))),),
    )
    with pytest.raises(InfeasibleScenarioError, match=r"minimum 50% share of SO1.*nothing"):
        allocate(plan, scenario)


@pytest.mark.parametrize("unit_cost", [1e-9, 1e-300])
def test_unit_costs_near_zero_are_refused_naming_the_line(unit_cost):
    tiny = make_plan(HAND_CELLS, {k: unit_cost for k in HAND_COSTS}, HAND_NEED)
    with pytest.raises(ModelRangeError, match=r"people in need in MDA, 2024"):
        allocate(tiny, usd(5e6))


def test_cost_factor_near_zero_is_refused_not_an_index_error():
    odd = make_plan(HAND_CELLS, HAND_COSTS, HAND_NEED, curve=((0.5, 1e-20), (0.5, 1.0)))
    with pytest.raises(ModelRangeError, match=r"out of range"):
        allocate(odd, usd(5e6))


def test_json_text_has_no_non_finite_numbers():
    value = {"a": math.nan, "b": [math.inf, 1.0], "c": {"d": -math.inf}}
    assert finite(value) == {"a": None, "b": [None, 1.0], "c": {"d": None}}
    assert "NaN" not in dumps(value) and "Infinity" not in dumps(value)
