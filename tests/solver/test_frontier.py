import numpy as np
import pytest

from reachplan.model.costs import CostModel
from reachplan.model.funding import FundingScenario, parse_funding
from reachplan.solver.frontier import funding_frontier, funding_levels, least_funding_for


def test_levels():
    assert np.allclose(funding_levels(0.25), [0, 0.25, 0.5, 0.75, 1.0])
    assert np.allclose(funding_levels(0.3), [0, 0.3, 0.6, 0.9, 1.0])
    with pytest.raises(ValueError):
        funding_levels(0)


def test_ladder_hand_solved(hand_plan):
    # appeal $12M; levels 0, 25% ($3M), 50% ($6M), 75%, 100%
    f = funding_frontier(CostModel.from_plan(hand_plan), FundingScenario(parse_funding("1"), objective="headcount"),
                         step=0.25)
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
    target = least_funding_for(costs, FundingScenario(parse_funding("1"), objective="headcount"), 60_000,
                               tolerance=1e-7)
    # 60,000 people: MDA $2M (40,000) + UKR HEALTH $2M (20,000) = $4M of $12M
    assert target.funding_usd == pytest.approx(4e6, rel=1e-5)
    assert target.allocation.people_reached >= 60_000
    with pytest.raises(ValueError, match="cannot be reached"):
        least_funding_for(costs, FundingScenario(parse_funding("1"), objective="headcount"), 1e7)
