"""The fast re-solve path agrees with PuLP on the same model."""

import numpy as np
import pulp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from reachplan.solver.fast import FastLP, FastSolveError


def _problem(cap_a: float, cap_b: float) -> pulp.LpProblem:
    # max 3a + 2b  s.t.  a + b <= 4 (budget), a <= cap_a (need_a), b <= cap_b (need_b),
    # a - b >= -1 (floor);  optimum by hand: a = min(cap_a, ...), see tests
    prob = pulp.LpProblem("t", pulp.LpMaximize)
    a = prob.add_variable("a", lowBound=0)
    b = prob.add_variable("b", lowBound=0)
    prob += 3 * a + 2 * b + 1.5
    prob += a + b <= 4, "budget"
    prob += a <= cap_a, "need_a"
    prob += b <= cap_b, "need_b"
    prob += a - b >= -1, "floor"
    return prob


def test_hand_solved_and_warm_restart():
    fast = FastLP(_problem(3.0, 10.0))
    sol = fast.solve()
    # a = 3 (its need), b = 1 (budget): 3*3 + 2*1 + 1.5
    assert sol.objective == pytest.approx(12.5)
    np.testing.assert_allclose(sol.values, [3.0, 1.0])
    fast.set_rhs({"need_a": 1.0})
    sol = fast.solve()
    # a = 1, b = min(4 - 1, a + 1 = 2) = 2 -> 3 + 4 + 1.5
    assert sol.objective == pytest.approx(8.5)
    assert fast.rhs(["need_a", "floor"]).tolist() == [1.0, -1.0]


def test_infeasible_raises():
    fast = FastLP(_problem(3.0, 10.0))
    fast.set_rhs({"floor": 5.0})  # a - b >= 5 with a <= 3
    with pytest.raises(FastSolveError, match="Infeasible"):
        fast.solve()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0.1, 50.0), min_size=3, max_size=6),
    st.lists(st.floats(0.0, 20.0), min_size=3, max_size=6),
    st.floats(1.0, 100.0),
    st.lists(st.tuples(st.floats(0.0, 30.0), st.floats(0.0, 30.0)), min_size=1, max_size=5),
)
def test_rhs_resolves_match_fresh_pulp_and_scipy(gain, need, budget, draws):
    n = min(len(gain), len(need))
    prob = pulp.LpProblem("r", pulp.LpMaximize)
    x = [prob.add_variable(f"x{i}", lowBound=0) for i in range(n)]
    prob += pulp.lpSum(g * v for g, v in zip(gain, x, strict=False))
    prob += pulp.lpSum(x) <= budget, "budget"
    for i in range(n):
        prob += x[i] <= need[i], f"need_{i}"
    prob += x[0] + x[1] <= draws[0][0] + draws[0][1] + 1.0, "pair"
    fast = FastLP(prob)
    for first, second in draws:
        new = {"need_0": first, "need_1": second}
        fast.set_rhs(new)
        got = fast.solve().objective
        fresh = prob.copy()
        fresh.get_constraint_by_name("need_0").constant = -first
        fresh.get_constraint_by_name("need_1").constant = -second
        fresh.solve(pulp.HiGHS(msg=False))
        want = pulp.value(fresh.objective)
        assert got == pytest.approx(want, rel=1e-6, abs=1e-9)
        ub = [need[i] for i in range(n)]
        ub[0], ub[1] = first, second
        a = [[1.0] * n, [1.0, 1.0] + [0.0] * (n - 2)]
        res = linprog(
            [-g for g in gain[:n]],
            A_ub=a,
            b_ub=[budget, draws[0][0] + draws[0][1] + 1],
            bounds=[(0, u) for u in ub],
            method="highs",
        )
        assert got == pytest.approx(-res.fun, rel=1e-6, abs=1e-9)


def test_solve_lp_reads_what_pulps_own_highs_solve_gives():
    """solve_lp hands HiGHS the arrays; the PuLP problem must read as if PuLP had solved it."""
    from reachplan.model.costs import CostModel
    from reachplan.model.funding import FundingScenario
    from reachplan.model.plan import Plan
    from reachplan.solver.allocate import solve_lp
    from reachplan.solver.highs import pulp_solver
    from reachplan.solver.model import build_model
    from tests.conftest import tiny_tables

    costs = CostModel.from_plan(Plan.from_tables(tiny_tables(), source="tiny"))
    scenario = FundingScenario.from_mapping(
        {"funding": "60%", "floors": [{"name": "pol", "share": 0.5, "location": "POL"}],
         "earmarks": [{"name": "mda", "amount": "USD 50", "location": "MDA"}]}, "t")
    mine, theirs = build_model(costs, scenario), build_model(costs, scenario)
    sol = solve_lp(mine)
    theirs.problem.solve(pulp_solver())
    assert mine.problem.status == theirs.problem.status == pulp.LpStatusOptimal
    assert sol.objective == pytest.approx(pulp.value(theirs.problem.objective), rel=1e-12)
    for a, b in zip(mine.problem.variables(), theirs.problem.variables(), strict=True):
        assert (a.name, a.varValue, a.dj) == pytest.approx((b.name, b.varValue, b.dj), abs=1e-12)
    for a, b in zip(mine.problem.constraints(), theirs.problem.constraints(), strict=True):
        assert (a.name, a.pi, a.slack) == pytest.approx((b.name, b.pi, b.slack), abs=1e-12)
        # LPSolution: duals are d(objective)/d(rhs) of the maximisation, slacks >= 0
        assert sol.duals[a.name] == pytest.approx(-b.pi, abs=1e-12)
        assert sol.slacks[a.name] == pytest.approx(abs(b.slack), abs=1e-12)
    money = [sum(v.varValue for v in xs) for xs in theirs.tranche_vars]
    np.testing.assert_allclose(sol.money, np.clip(money, 0, None), atol=1e-12)
