"""Tests of the displacement stock-flow Monte Carlo."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reachplan.model.simulation import (
    BALTIC_CODES,
    DRAW_BLOCK,
    REFUGEE_LOCATIONS,
    AssumptionError,
    Beta,
    Fixed,
    InitialState,
    LogNormal,
    Pareto,
    SimulationAssumptions,
    Triangular,
    Uniform,
    as_generator,
    needs_per_draw,
    people_in_need,
    percentile_table,
    simulate,
    total_population,
)
from reachplan.scenarios.simulation_io import load_initial_state, load_simulation

DEFAULTS = load_simulation()
INITIAL = load_initial_state()
EU = [REFUGEE_LOCATIONS.get_loc(c) for c in INITIAL.geography.protection]
BALTIC = [REFUGEE_LOCATIONS.get_loc(c) for c in BALTIC_CODES]


def lever(a: SimulationAssumptions, name: str, **changes: object) -> SimulationAssumptions:
    return dataclasses.replace(a, **{name: dataclasses.replace(getattr(a, name), **changes)})


def run(a: SimulationAssumptions = DEFAULTS, draws: int = 400, seed: int = 7, **kw: object):
    return simulate(a, INITIAL, draws=draws, seed=seed, **kw)  # type: ignore[arg-type]


scenarios = st.builds(
    lambda surges, occupied, pendular, coupling, facilitated, tp_ended: lever(
        lever(
            lever(
                lever(
                    lever(
                        lever(DEFAULTS, "surges", enabled=surges),
                        "occupied_areas",
                        enabled=occupied,
                    ),
                    "pendular",
                    enabled=pendular,
                ),
                "coupling",
                enabled=coupling,
            ),
            "facilitated_returns",
            enabled=facilitated,
            start_month="2024-06",
        ),
        "temporary_protection",
        scenario="ended" if tp_ended else "extended",
        end_month="2024-09",
    ),
    st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans(),
)


@settings(max_examples=25, deadline=None)
@given(
    a=scenarios,
    seed=st.integers(0, 2**32 - 1),
    draws=st.integers(1, 300),
    months=st.integers(1, 30),
)
def test_people_are_conserved_in_every_draw_and_month(a, seed, draws, months):
    result = simulate(a, INITIAL, draws=draws, seed=seed, months=months)
    totals = total_population(result)
    assert totals.shape == (draws, months + 1)
    np.testing.assert_allclose(totals, INITIAL.total, rtol=1e-12, atol=0)
    for stock in (result.idps, result.returnees, result.non_displaced, result.refugees):
        assert stock.min() >= 0


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**63 - 1), draws=st.integers(1, 600))
def test_same_seed_gives_identical_arrays_whatever_the_chunking(seed, draws):
    first = simulate(DEFAULTS, INITIAL, draws=draws, seed=seed, months=12)
    second = simulate(
        DEFAULTS, INITIAL, draws=draws, seed=seed, months=12, chunk_draws=DRAW_BLOCK
    )
    np.testing.assert_array_equal(first.idps, second.idps)
    np.testing.assert_array_equal(first.refugees, second.refugees)
    np.testing.assert_array_equal(first.flows["refugee_returns"], second.flows["refugee_returns"])


def test_more_draws_extend_fewer_draws():
    small = run(draws=300, months=12)
    large = run(draws=700, months=12)
    np.testing.assert_array_equal(small.returnees, large.returnees[:300])


def test_different_seeds_differ():
    assert not np.array_equal(run(seed=1, draws=50).idps, run(seed=2, draws=50).idps)


def test_seed_helper():
    assert as_generator(0).integers(1 << 30) == as_generator(0).integers(1 << 30)
    generator = np.random.default_rng(3)
    assert as_generator(generator) is generator
    with pytest.raises(TypeError):
        as_generator(True)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        as_generator(-1)


def test_a_generator_seed_is_reproducible_from_its_own_seed():
    a = simulate(DEFAULTS, INITIAL, draws=20, seed=np.random.default_rng(5), months=6)
    b = simulate(DEFAULTS, INITIAL, draws=20, seed=np.random.default_rng(5), months=6)
    np.testing.assert_array_equal(a.idps, b.idps)


def test_start_month_labels_and_burn_in():
    result = run(draws=10, start="2024-06", months=12)
    assert str(result.months[0]) == "2024-06" and str(result.months[-1]) == "2025-06"
    assert result.idps.shape == (10, 13)
    full = run(draws=10, months=18)
    np.testing.assert_array_equal(full.idps[:, 6:], result.idps)
    with pytest.raises(AssumptionError, match="before the initial state"):
        run(draws=10, start="2023-01")


# ----------------------------------------------------------------------------- levers


def test_surges_raise_idps():
    often = lever(DEFAULTS, "surges", monthly_probability=Fixed(0.1))
    on = run(often)
    off = run(lever(often, "surges", enabled=False))
    assert off.flows["surge"].sum() == 0
    assert on.flows["surge"].sum() > 0
    assert on.idps[:, -1].mean() > off.idps[:, -1].mean()
    hit = on.flows["surge"].sum(axis=1) > 0
    assert np.all(on.idps[hit, -1] > off.idps[hit, -1])


def test_front_line_events_push_people_to_the_baltic_states():
    on = run(lever(DEFAULTS, "occupied_areas", baltic_push_probability=Fixed(0.5)))
    off = run(lever(DEFAULTS, "occupied_areas", enabled=False))
    baltic_on = on.refugees[:, -1, BALTIC].sum(axis=1)
    baltic_off = off.refugees[:, -1, BALTIC].sum(axis=1)
    assert baltic_on.mean() > baltic_off.mean() + 10_000
    assert on.flows["baltic_push"].sum() > 0 and off.flows["baltic_push"].sum() == 0


def test_access_limits_slow_idp_returns():
    on = run(lever(DEFAULTS, "occupied_areas", baltic_push_probability=Fixed(0.0)))
    off = run(lever(DEFAULTS, "occupied_areas", enabled=False))
    # First month: same stocks, so the ratio of returns is exactly 1 - share.
    ratio = on.flows["idp_returns"][:, 0] / off.flows["idp_returns"][:, 0]
    assert np.all(ratio < 0.76) and np.all(ratio > 0.49)
    assert on.idps[:, -1].mean() > off.idps[:, -1].mean()


def test_pendular_movement_redisplaces_returnees():
    on = run()
    off = run(lever(DEFAULTS, "pendular", enabled=False))
    assert off.flows["redisplaced"].sum() == 0 and off.flows["redeparted"].sum() == 0
    assert on.flows["redeparted"].sum() > 0
    assert np.all(on.returnees[:, 1] < off.returnees[:, 1])


def test_ending_temporary_protection_raises_returns_and_onward_moves_after_the_date():
    ended = lever(DEFAULTS, "temporary_protection", scenario="ended", end_month="2025-03")
    on = run(ended)
    off = run(DEFAULTS)
    cut = list(on.months[1:].strftime("%Y-%m")).index("2025-03")
    before = slice(0, cut)
    np.testing.assert_array_equal(
        on.flows["refugee_returns"][:, before], off.flows["refugee_returns"][:, before]
    )
    after_on = on.flows["refugee_returns"][:, cut, :][:, EU].sum(axis=1)
    after_off = off.flows["refugee_returns"][:, cut, :][:, EU].sum(axis=1)
    assert np.all(after_on > after_off)
    beyond_on = on.flows["onward_beyond_europe"][:, cut, :][:, EU].sum(axis=1)
    beyond_off = off.flows["onward_beyond_europe"][:, cut, :][:, EU].sum(axis=1)
    assert np.all(beyond_on > beyond_off)
    assert on.refugees[:, -1].sum(axis=1).mean() < off.refugees[:, -1].sum(axis=1).mean()
    # Moldova and Belarus are not EU members: their return hazard is unchanged.
    for code in ("MDA", "BLR"):
        j = REFUGEE_LOCATIONS.get_loc(code)
        rate_on = on.flows["refugee_returns"][:, cut, j] / on.refugees[:, cut, j]
        rate_off = off.flows["refugee_returns"][:, cut, j] / off.refugees[:, cut, j]
        np.testing.assert_allclose(rate_on, rate_off, rtol=1e-12)


def test_temporary_protection_probability_zero_changes_nothing():
    never = lever(
        DEFAULTS, "temporary_protection", scenario="ended", end_month="2024-06", probability=0.0
    )
    np.testing.assert_array_equal(run(never).refugees, run(DEFAULTS).refugees)


def _facilitate_idps_only(a: SimulationAssumptions) -> SimulationAssumptions:
    return lever(
        a,
        "facilitated_returns",
        enabled=True,
        start_month="2024-07",
        idp_return_multiplier=Fixed(2.0),
        refugee_return_multiplier=Fixed(1.0),
    )


def test_coupling_higher_idp_return_raises_refugee_return():
    coupled = _facilitate_idps_only(DEFAULTS)
    uncoupled = _facilitate_idps_only(lever(DEFAULTS, "coupling", enabled=False))
    month = list(DEFAULTS_MONTHS()).index("2024-07")

    def hazard_ratio(a):
        with_idp_boost = run(a)
        without = run(lever(a, "facilitated_returns", enabled=False))
        rate = lambda r: r.flows["refugee_returns"][:, month] / r.refugees[:, month]  # noqa: E731
        return rate(with_idp_boost) / rate(without)

    coupled_ratio = hazard_ratio(coupled)
    np.testing.assert_allclose(hazard_ratio(uncoupled), 1.0, rtol=1e-12)
    assert np.all(coupled_ratio > 1.0)
    # ratio = 2 ** elasticity with elasticity in [0.5, 1.5]
    assert coupled_ratio.min() >= 2**0.5 - 1e-9 and coupled_ratio.max() <= 2**1.5 + 1e-9


def DEFAULTS_MONTHS():  # noqa: N802
    return run(draws=1, months=36).months[1:].strftime("%Y-%m")


def test_facilitated_returns_raise_returnees():
    on = run(lever(DEFAULTS, "facilitated_returns", enabled=True, start_month="2024-03"))
    off = run(DEFAULTS)
    np.testing.assert_array_equal(on.returnees[:, :3], off.returnees[:, :3])
    assert np.all(on.returnees[:, 4] > off.returnees[:, 4])
    assert on.returnees[:, -1].mean() > off.returnees[:, -1].mean()


# ----------------------------------------------------------------------------- outputs


def test_initial_state_reproduces_the_plans_people_in_need():
    result = run(draws=5, months=3)
    pin = people_in_need(result)
    np.testing.assert_allclose(pin[:, 0, 0], 14_600_000)
    np.testing.assert_allclose(pin[:, 0, 1:].sum(axis=1), 2_200_000)


def test_needs_per_draw_years_and_frame():
    result = run(draws=8)
    needs = needs_per_draw(result)
    assert list(needs.years) == [2024, 2025, 2026]
    assert needs.values.shape == (8, 12, 3)
    frame = needs.to_frame()
    assert list(frame.columns) == ["draw", "location_code", "region", "year", "people_in_need"]
    assert len(frame) == 8 * 12 * 3
    row = frame[(frame.draw == 3) & (frame.location_code == "POL") & (frame.year == 2025)]
    assert row.people_in_need.item() == pytest.approx(needs.values[3, 1, 1])
    monthly = people_in_need(result)[3, 13:25, 1]
    assert needs.values[3, 1, 1] == pytest.approx(monthly.mean())


def test_needs_mapping_that_cannot_be_met_is_an_error():
    a = lever(DEFAULTS, "needs", people_in_need_ukraine=5_000_000.0)
    with pytest.raises(AssumptionError, match="people_in_need_ukraine"):
        needs_per_draw(run(a, draws=2, months=2))


def test_percentiles_are_ordered_and_complete():
    table = percentile_table(run(draws=300))
    assert set(table.series) == {"idps", "returnees", "refugees"}
    assert len(table) == (2 + 12) * 37
    q = table[["p05", "p10", "p50", "p90", "p95"]].to_numpy()
    assert np.all(np.diff(q, axis=1) >= 0)
    assert table.month.str.fullmatch(r"\d{4}-\d{2}").all()


def test_to_frame_is_labelled():
    result = run(draws=3, months=2)
    frame = result.to_frame()
    pick = frame[(frame.draw == 2) & (frame.month == "2024-02") & (frame.location_code == "POL")]
    assert pick.value.item() == result.refugees[2, 2, 0]
    assert len(frame) == 3 * 3 * 14


def test_initial_state_validation():
    with pytest.raises(AssumptionError):
        InitialState(pd.Period("2023-12", "M"), -1.0, 0.0, 0.0, (0.0,) * 12)
    with pytest.raises(AssumptionError, match="refugee stocks"):
        InitialState(pd.Period("2023-12", "M"), 1.0, 0.0, 0.0, (0.0,) * 11)


@pytest.mark.parametrize(
    "dist",
    [
        Triangular(0.0, 0.2, 1.0),
        Triangular(0.0, 0.9, 1.0),
        Beta(2.0, 8.0),
        Pareto(10.0, 1.5),
        LogNormal(3.0, 0.5),
        Uniform(1.0, 2.0),
    ],
)
def test_distribution_medians_match_samples(dist):
    sample = dist.sample(np.random.default_rng(0), (200_000,))
    assert np.median(sample) == pytest.approx(dist.median(), rel=0.02)
    low, high = dist.support()
    assert sample.min() >= low and sample.max() <= high


def test_invalid_distributions_are_rejected():
    with pytest.raises(AssumptionError):
        Uniform(2.0, 1.0)
    with pytest.raises(AssumptionError):
        LogNormal(0.0, 1.0)
    with pytest.raises(AssumptionError):
        Pareto(10.0, 1.0, cap=5.0)
