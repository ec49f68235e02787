import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reachplan.scenarios.build_plan.fitting import FittingError, ipf


def test_two_way_hand_example():
    # seed with a structural zero; the unique fit is computable by hand:
    # row0 = [a, 3-a, 0], row1 = [2-a, 1+a, 2]; columns (2, 4, 2) -> IPF gives a = 1
    seed = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    fitted = ipf(seed, [np.array([3.0, 5.0]), np.array([2.0, 4.0, 2.0])], [0, 1])
    np.testing.assert_allclose(fitted, [[1.0, 2.0, 0.0], [1.0, 2.0, 2.0]], atol=1e-8)
    assert fitted[0, 2] == 0.0


def test_uniform_seed_gives_independence_table():
    rows, cols = np.array([10.0, 30.0]), np.array([5.0, 15.0, 20.0])
    fitted = ipf(np.ones((2, 3)), [rows, cols], [0, 1])
    np.testing.assert_allclose(fitted, np.outer(rows, cols) / 40.0)


def test_three_way_margins():
    rng = np.random.default_rng(3)
    truth = rng.uniform(1, 5, size=(3, 4, 2))
    margins = [truth.sum(axis=2), truth.sum(axis=(0, 1))]
    fitted = ipf(np.ones_like(truth), margins, [(0, 1), 2])
    np.testing.assert_allclose(fitted.sum(axis=2), margins[0], rtol=1e-8)
    np.testing.assert_allclose(fitted.sum(axis=(0, 1)), margins[1], rtol=1e-8)


def test_inconsistent_totals_are_refused():
    with pytest.raises(FittingError, match="grand total"):
        ipf(np.ones((2, 2)), [np.array([1.0, 1.0]), np.array([1.0, 2.0])], [0, 1])


def test_target_without_seed_cell_is_refused():
    seed = np.array([[1.0, 0.0], [1.0, 0.0]])
    with pytest.raises(FittingError, match="no non-zero seed cell"):
        ipf(seed, [np.array([1.0, 1.0]), np.array([1.0, 1.0])], [0, 1])


@settings(max_examples=100, deadline=None)
@given(
    arrays(np.float64, (4, 3), elements=st.floats(0.01, 100.0)),
    arrays(np.float64, (4, 3), elements=st.floats(0.01, 1e6)),
)
def test_margins_of_any_positive_table_are_matched(seed, truth):
    rows, cols = truth.sum(axis=1), truth.sum(axis=0)
    fitted = ipf(seed, [rows, cols], [0, 1], tol=1e-9)
    # contract: every margin within tol x grand total
    atol = 1e-9 * max(rows.sum(), 1.0) * 1.0001
    np.testing.assert_allclose(fitted.sum(axis=1), rows, rtol=0, atol=atol)
    np.testing.assert_allclose(fitted.sum(axis=0), cols, rtol=0, atol=atol)
    assert np.all(fitted > 0)
