import numpy as np
import pytest

from reachplan.model.costs import CostModel
from reachplan.model.funding import Amount, FundingScenario, parse_funding
from reachplan.solver.frontier import funding_frontier, funding_levels, least_funding_for


def test_levels():
    assert np.allclose(funding_levels(0.25), [0, 0.25, 0.5, 0.75, 1.0])
    assert np.allclose(funding_levels(0.3), [0, 0.3, 0.6, 0.9, 1.0])
    with pytest.raises(ValueError):
        funding_levels(0)


def test_ladder_hand_solved(hand_plan):
    # appeal $12M; levels 0, 25% ($3M), 50% ($6M), 75%, 100%
    f = funding_frontier(CostModel.from_plan(hand_plan),
                         FundingScenario(parse_funding("1"), objective="headcount"), step=0.25)
    people = f.levels["people_reached"].to_numpy()
    # $3M: MDA $2M (40,000) + UKR HEALTH $1M (10,000); $6M: + UKR HEALTH $3M (30,000 more)
    assert people[:3] == pytest.approx([0, 50_000, 80_000], rel=1e-6)
    assert np.all(np.diff(people) >= -1e-6)
    first = f.first_funded["first_funded_share"]
    assert first[("MDA", "HEALTH", 2024)] == 0.25
    assert first[("UKR", "HEALTH", 2024)] == 0.25
    assert first[("UKR", "WASH", 2024)] == 0.75
    assert list(f.first_funded.index[0]) == ["UKR", "HEALTH", 2024]  # larger line first


def test_least_funding_for_a_target_hand_solved(hand_plan):
    costs = CostModel.from_plan(hand_plan)
    target = least_funding_for(costs, FundingScenario(parse_funding("1"), objective="headcount"),
                               60_000, tolerance=1e-7)
    # 60,000 people: MDA $2M (40,000) + UKR HEALTH $2M (20,000) = $4M of $12M
    assert target.funding_usd == pytest.approx(4e6, rel=1e-5)
    assert target.allocation.people_reached >= 60_000
    with pytest.raises(ValueError, match="cannot be reached"):
        least_funding_for(costs, FundingScenario(parse_funding("1"), objective="headcount"), 1e7)


# ---- the fast ladder against a fresh build per level --------------------------------------


def _fresh_levels(costs, scenario, levels):
    """Each level by a fresh PuLP build: allocate_costs, or the diagnosis of its failure."""
    from reachplan.solver.allocate import allocate_costs
    from reachplan.solver.diagnose import diagnose_infeasibility
    from reachplan.solver.frontier import at_share
    from reachplan.solver.result import InfeasibleScenarioError

    out = []
    for share in levels:
        sc = at_share(scenario, float(share))
        try:
            alloc = allocate_costs(costs, sc, ranged="envelope")
        except InfeasibleScenarioError as exc:
            assert str(exc) == str(diagnose_infeasibility(costs, sc))
            out.append((str(exc), None, None))
            continue
        (env,) = [s for s in alloc.shadow_prices if s.constraint == "envelope_total"]
        out.append(("optimal",
                    np.array([alloc.funding_usd, alloc.allocated_usd, alloc.people_reached,
                              alloc.pro_rata_people_reached, env.value, env.value_down]),
                    alloc.cells["allocated_usd"].to_numpy()))
    return out


def _assert_ladder_matches(costs, scenario, step, top):
    f = funding_frontier(costs, scenario, step=step, top=top)
    levels = funding_levels(step, top)
    expected = _fresh_levels(costs, scenario, levels)
    assert f.levels["share"].tolist() == levels.tolist()
    first = np.full(costs.n_cells, np.nan)
    for (status, numbers, allocated), (_, row) in zip(expected, f.levels.iterrows(),
                                                      strict=True):
        assert row["status"] == status
        if numbers is None:
            assert np.isnan(row["people_reached"])
            continue
        got = row[["funding_usd", "allocated_usd", "people_reached",
                   "pro_rata_people_reached"]].to_numpy(dtype=float)
        np.testing.assert_allclose(got, numbers[:4], rtol=1e-6, atol=1e-6)
        # people per extra $1M: the right derivative; at a kink between lines whose value
        # differs only by the tie-break, the people derivative on the right is decided below
        # the solver's tolerance, so either side of the kink is an answer
        up, down = numbers[4], numbers[5]
        marginal = row["marginal_people_per_1m"]
        if np.isclose(up, down, rtol=1e-6, atol=1e-6):
            assert marginal == pytest.approx(up, rel=1e-6, abs=1e-6)
        else:
            assert min(up, down) - 1e-6 <= marginal <= max(up, down) + 1e-6
        first = np.where(np.isnan(first) & (allocated >= 1.0), row["share"], first)
    firsts = f.first_funded["first_funded_share"].reindex(costs.cells).to_numpy()
    np.testing.assert_array_equal(firsts, first)
    return f


def test_fast_ladder_matches_fresh_builds_tiny_plan(tiny):
    from reachplan.model.plan import Plan

    costs = CostModel.from_plan(Plan.from_tables(tiny))
    sc = FundingScenario(parse_funding("1"))
    f = _assert_ladder_matches(costs, sc, step=0.1, top=1.0)
    assert (f.levels["status"] == "optimal").all()
    assert f.levels["people_reached"].iloc[-1] > f.levels["people_reached"].iloc[1] > 0


def test_fast_ladder_with_infeasible_levels_and_earmarks_matches_fresh_builds(tiny):
    from reachplan.model.funding import Earmark, Floor, Selector
    from reachplan.model.plan import Plan

    costs = CostModel.from_plan(Plan.from_tables(tiny))
    # the WASH floor (80% of $450) needs $360: infeasible below 360/550 = 65% of the appeal;
    # the MDA earmark keeps part of the money for MDA (the flexible-money row moves too)
    sc = FundingScenario(
        parse_funding("1"),
        floors=(Floor("WASH", 0.8, Selector(sector_codes=("WASH",))),),
        earmarks=(Earmark("MDA", Amount("usd", 100.0), Selector(location_codes=("MDA",))),),
    )
    f = _assert_ladder_matches(costs, sc, step=0.125, top=1.0)
    status = f.levels["status"].tolist()
    assert status[:5] != ["optimal"] * 5 and status[-3:] == ["optimal"] * 3
    assert "the WASH floor" in status[0]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "step", "top"),
                         [("full_funding", 0.4, 0.8), ("heavily_earmarked", 0.5, 1.0)])
def test_fast_ladder_matches_fresh_builds_default_plan(name, step, top):
    from reachplan.scenarios.plan_io import load_plan
    from reachplan.scenarios.scenario_io import load_scenario

    plan = load_plan().plan
    # three levels: 0 (infeasible: the floors need money) and
    # two feasible ones (levels where HiGHS is slow to prove infeasibility are left out:
    # the fresh builds would take minutes)
    f = _assert_ladder_matches(CostModel.from_plan(plan), load_scenario(name).funding,
                               step=step, top=top)
    assert f.levels["status"].iloc[0] != "optimal"
    assert (f.levels["status"].iloc[1:] == "optimal").all()
