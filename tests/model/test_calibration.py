"""Tests of calibration metrics, break handling and rate recovery."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from reachplan.model.calibration import (
    PRIORS,
    HistoryError,
    SeriesBreak,
    averaged_relative_difference,
    calibrate,
    interval_coverage,
    mean_absolute_scaled_error,
    prepare_observations,
)
from reachplan.model.simulation import Fixed, simulate
from reachplan.scenarios.simulation_io import (
    DEFAULT_HISTORY_FILES,
    load_history,
    load_initial_state,
    load_simulation,
)

DEFAULTS = load_simulation()
INITIAL = load_initial_state()
WEAK_PRIORS = {name: (median, 10.0) for name, (median, _) in PRIORS.items()}


def test_averaged_relative_difference_by_hand():
    forecast = np.array([110.0, 90.0, 50.0])
    observed = np.array([100.0, 100.0, 100.0])
    groups = np.array(["2023-01", "2023-01", "2023-02"])
    # month 1: (10 + 10) / 200 = 0.1; month 2: 50 / 100 = 0.5; mean 0.3
    assert averaged_relative_difference(forecast, observed, groups) == pytest.approx(0.3)
    assert math.isnan(averaged_relative_difference(np.array([]), np.array([]), np.array([])))


def test_mase_and_coverage_by_hand():
    assert mean_absolute_scaled_error(np.array([1.0, -3.0]), np.array([2.0, 2.0])) == 1.0
    observed = np.array([1.0, 5.0, 10.0, 20.0])
    assert interval_coverage(observed, np.full(4, 2.0), np.full(4, 10.0)) == 0.5


def _history(rows):
    frame = pd.DataFrame(rows, columns=["series", "location", "date", "value", "source"])
    frame["date"] = pd.to_datetime(frame["date"])
    frame["whole_month"] = False
    frame["file"] = "memory.csv"
    frame["row"] = np.arange(len(frame)) + 2
    return frame


def test_breaks_start_new_segments_and_other_series_are_kept_apart():
    history = load_history(DEFAULT_HISTORY_FILES)
    used, skipped = prepare_observations(history)
    idp = used[used.series == "idp_gps_iom"].set_index("date")
    assert idp.loc["2023-01-23", "segment"] == 0
    assert idp.loc["2023-09-25", "segment"] == 1
    europe = used[(used.series == "refugees_recorded_unhcr") & (used.location_code == "EUR")]
    assert europe.set_index("date").loc["2022-12-31", "segment"] == 0
    assert europe.set_index("date").loc["2023-12-31", "segment"] == 1
    assert "tp_stock_eurostat" in set(skipped.series)
    assert "crossings_out_cumulative_unhcr" in set(skipped.series)
    recorded = skipped[skipped.series == "refugees_recorded_unhcr"]
    germany = recorded[recorded.location == "Germany"]
    assert "outside the model" in germany.reason.item()
    uncertain = used[used.source.str.startswith("[U")]
    assert (uncertain.sigma > used[~used.source.str.startswith("[")].sigma.max()).all()


TRUE_RATES = {
    "internal_displacement": 0.003,
    "cross_border_displacement": 0.0015,
    "idp_return": 0.03,
    "refugee_return": 0.006,
    "returnee_lapse": 0.02,
}


def _synthetic(shift_after: str | None = None, factor: float = 1.0) -> pd.DataFrame:
    """Monthly observations from a deterministic run with known rates."""
    from reachplan.model.calibration import _deterministic, _with_rates

    truth = _with_rates(
        _deterministic(DEFAULTS), {k: Fixed(v) for k, v in TRUE_RATES.items()}
    )
    run = simulate(truth, INITIAL, draws=1, seed=0, months=18, record_flows=False)
    rows = []
    for m, month in enumerate(run.months):
        date = month.to_timestamp(how="end").normalize()
        scale = factor if shift_after and date >= pd.Timestamp(shift_after) else 1.0
        rows += [
            ("idp_gps_iom", "Ukraine", date, run.idps[0, m] * scale, "synthetic"),
            ("returnees_gps_iom", "Ukraine", date, run.returnees[0, m] * scale, "synthetic"),
            ("refugees_recorded_unhcr", "Europe", date, run.refugees[0, m].sum(), "synthetic"),
        ]
    return _history(rows)


def _replay(result, history_rates):
    """Deterministic run with fitted medians, compared with the synthetic history."""
    from reachplan.model.calibration import _deterministic, _with_rates

    fitted = _with_rates(
        _deterministic(DEFAULTS), {r.name: Fixed(r.median) for r in history_rates}
    )
    return simulate(fitted, INITIAL, draws=1, seed=0, months=18, record_flows=False)


@pytest.mark.slow
def test_fitted_rates_reproduce_a_history_the_model_made():
    history = _synthetic()
    result = calibrate(
        history, DEFAULTS, INITIAL, holdout_from="2025-03", draws=200, seed=1,
        half_life_months=None, priors=WEAK_PRIORS,
    )
    replay = _replay(result, result.final_rates)
    truth = history.pivot_table(index="date", columns="series", values="value")
    np.testing.assert_allclose(replay.idps[0], truth["idp_gps_iom"].to_numpy(), rtol=0.01)
    np.testing.assert_allclose(
        replay.returnees[0], truth["returnees_gps_iom"].to_numpy(), rtol=0.01
    )
    assert result.scores.averaged_relative_difference < 0.05
    assert result.scores.n_scored == 3 * 4
    # The three aggregate series do not pin down five rates one by one (they
    # trade off along a valley), but the fitted rates stay of the right order.
    for rate in result.final_rates:
        assert 0.25 < rate.median / TRUE_RATES[rate.name] < 4.0


@pytest.mark.slow
def test_a_declared_break_absorbs_a_methodological_level_shift():
    shifted = _synthetic(shift_after="2024-09-01", factor=0.6)
    brk = (SeriesBreak(("idp_gps_iom", "returnees_gps_iom"), "2024-09-01", "methodology", "test"),)
    kw = dict(
        holdout_from="2025-03", draws=100, seed=1, half_life_months=None, priors=WEAK_PRIORS
    )
    with_break = calibrate(shifted, DEFAULTS, INITIAL, breaks=brk, **kw)
    without_break = calibrate(shifted, DEFAULTS, INITIAL, breaks=(), **kw)
    assert with_break.scores.averaged_relative_difference < 0.05
    assert (
        without_break.scores.averaged_relative_difference
        > 2 * with_break.scores.averaged_relative_difference
    )
    # The anchor of the new segment is not scored; the rest are.
    assert (~with_break.holdout.scored).sum() == 0  # anchors fall in the fit period here
    replay = _replay(with_break, with_break.final_rates)
    truth = _synthetic().pivot_table(index="date", columns="series", values="value")
    np.testing.assert_allclose(replay.idps[0], truth["idp_gps_iom"].to_numpy(), rtol=0.02)


def test_shipped_history_calibration_reports_scores():
    history = load_history(DEFAULT_HISTORY_FILES)
    result = calibrate(
        history, DEFAULTS, INITIAL, fit_from="2022-09", holdout_from="2022-12", draws=400, seed=1
    )
    s = result.scores
    assert s.n_scored == 6
    assert 0.0 <= s.coverage_80 <= s.coverage_95 <= 1.0
    assert 0.0 < s.averaged_relative_difference < 0.3
    assert s.mase > 0
    assert not result.holdout[~result.holdout.scored].reason.eq("").any()
    final = {r.name: r for r in result.final_rates}
    shipped = DEFAULTS.rates
    assert final["idp_return"].median == pytest.approx(shipped.idp_return.median(), rel=0.01)
    assert final["returnee_lapse"].median == pytest.approx(
        shipped.returnee_lapse.median(), rel=0.01
    )


def test_history_without_core_series_is_an_error():
    history = _history([("idp_gps_iom", "Ukraine", "2022-10-01", 6e6, "x")])
    with pytest.raises(HistoryError, match="returnees"):
        calibrate(history, DEFAULTS, INITIAL, draws=10, seed=0)


def test_holdout_must_follow_the_fit():
    with pytest.raises(HistoryError, match="holdout"):
        calibrate(
            load_history(DEFAULT_HISTORY_FILES), DEFAULTS, INITIAL,
            fit_from="2022-09", holdout_from="2022-09", draws=10, seed=0,
        )


def test_calibration_is_reproducible():
    history = load_history(DEFAULT_HISTORY_FILES)
    kw = dict(fit_from="2022-09", holdout_from="2022-12", draws=100, seed=3)
    a = calibrate(history, DEFAULTS, INITIAL, **kw)
    b = calibrate(history, DEFAULTS, INITIAL, **kw)
    assert dataclasses.asdict(a.scores) == dataclasses.asdict(b.scores)
