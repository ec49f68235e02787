import numpy as np
import pytest

from reachplan.model.costs import CostModel
from reachplan.model.funding import FundingScenario, parse_funding
from reachplan.solver.baseline import pro_rata_allocation
from tests.solver.conftest import make_plan

CELLS = [("UKR", "HEALTH", 2024, "SO1", 4e6), ("UKR", "HEALTH", 2025, "SO1", 2e6),
         ("UKR", "WASH", 2024, "SO1", 6e6)]


def costs():
    return CostModel.from_plan(make_plan(CELLS, {("UKR", "HEALTH"): 10.0, ("UKR", "WASH"): 10.0}))


def test_total_envelope_cuts_every_line_equally():
    x = pro_rata_allocation(costs(), FundingScenario(parse_funding("50%")))
    assert x == pytest.approx([2e6, 1e6, 3e6])  # cells sorted: HEALTH 2024, 2025, WASH 2024


def test_per_year_envelopes_cut_within_each_year():
    x = pro_rata_allocation(costs(), FundingScenario(parse_funding("2024=50%,2025=100%")))
    assert x == pytest.approx([2e6, 2e6, 3e6])


def test_carry_over_uses_the_tightest_cumulative_ratio():
    sc = FundingScenario(parse_funding("2024=USD 5m,2025=USD 7m", carry_over=True))
    x = pro_rata_allocation(costs(), sc)
    assert np.allclose(x / costs().requirement_usd, 0.5)  # 5/10 in 2024, 12/12 through 2025
