"""Committed plans over simulated futures: consistency with the one model and optimality."""

from dataclasses import replace

import numpy as np
import pytest

from reachplan.model.simulation import Stream
from reachplan.scenarios.plan_io import load_plan
from reachplan.scenarios.scenario_io import load_scenario
from reachplan.scenarios.simulation_io import load_initial_state
from reachplan.solver.allocate import allocate
from reachplan.solver.batch import prepared_model, run_scenario
from reachplan.solver.robust import (
    evaluate,
    plan_for_mean_needs,
    plan_over_draws,
    simulated_multipliers,
)


@pytest.fixture(scope="module")
def setting():
    plan = load_plan().plan
    scenario = load_scenario("catastrophic_surge", draws=4)
    # optimality is checked in people reached: the headcount objective, whose value is
    # people (under the priority objective the same properties hold for the LP's value)
    scenario = replace(scenario, funding=replace(scenario.funding, objective="headcount"))
    mult = simulated_multipliers(plan, scenario, load_initial_state(), 4, stream=Stream.PLANNING)
    return plan, scenario, mult


def test_one_unchanged_future_is_the_deterministic_allocation(setting):
    plan, scenario, mult = setting
    one = plan_over_draws(plan, scenario, np.ones((1, mult.shape[1])), "saa")
    det = allocate(plan, scenario.funding)
    assert one.in_sample_people[0] == pytest.approx(det.people_reached, rel=1e-6)
    np.testing.assert_allclose(
        one.allocation_usd, det.cells["allocated_usd"].to_numpy(), rtol=1e-6, atol=1.0
    )


def test_evaluation_reproduces_the_in_sample_objective(setting):
    plan, scenario, mult = setting
    saa = plan_over_draws(plan, scenario, mult, "saa")
    np.testing.assert_allclose(evaluate(plan, scenario, saa, mult), saa.in_sample_people, rtol=1e-6)


def test_sample_average_plan_is_best_on_its_own_draws(setting):
    plan, scenario, mult = setting
    saa = plan_over_draws(plan, scenario, mult, "saa")
    mean_plan = plan_for_mean_needs(plan, scenario, mult)
    two = plan_over_draws(plan, scenario, mult, "two_stage")
    saa_people = evaluate(plan, scenario, saa, mult).mean()
    assert saa_people >= evaluate(plan, scenario, mean_plan, mult).mean() - 1e-6 * saa_people
    # adapting later years can only help
    assert two.in_sample_people.mean() >= saa.in_sample_people.mean() - 1e-6 * saa_people
    assert two.committed.sum() < saa.committed.sum() == len(saa.committed)
    assert saa.allocation_usd.sum() == pytest.approx(
        allocate(plan, scenario.funding).funding_usd, rel=1e-6
    )


def test_risk_averse_plan_protects_the_worst_future(setting):
    plan, scenario, mult = setting
    saa = plan_over_draws(plan, scenario, mult, "saa")
    cvar = plan_over_draws(plan, scenario, mult, "cvar", alpha=0.25)  # worst 1 of 4
    worst_saa = evaluate(plan, scenario, saa, mult).min()
    worst_cvar = evaluate(plan, scenario, cvar, mult).min()
    assert worst_cvar >= worst_saa - 1e-6 * worst_saa


def test_stream_0_gives_the_draws_of_run_scenario(setting):
    plan, scenario, _ = setting
    initial = load_initial_state()
    run = run_scenario(plan, scenario, initial)
    mult = simulated_multipliers(plan, scenario, initial, 4, stream=Stream.RUN)
    base = prepared_model(plan, scenario).base_need
    np.testing.assert_allclose(mult * base[None, :], run.need, rtol=1e-12)


def test_planning_and_evaluation_streams_are_distinct_and_reproducible(setting):
    plan, scenario, planning = setting
    initial = load_initial_state()
    again = simulated_multipliers(plan, scenario, initial, 4, stream=Stream.PLANNING)
    evaluation = simulated_multipliers(plan, scenario, initial, 4, stream=Stream.EVALUATION)
    run = simulated_multipliers(plan, scenario, initial, 4, stream=Stream.RUN)
    np.testing.assert_array_equal(planning, again)
    assert not np.array_equal(planning, evaluation)
    assert not np.array_equal(planning, run) and not np.array_equal(evaluation, run)
