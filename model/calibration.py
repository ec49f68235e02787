"""Fitting the simulation's rates to an observed history, and scoring the fit.

The history is a long table in the shared format (``series, location, date,
value, source``), read by :func:`scenarios.simulation_io.load_history`. Only
series that measure a stock the model has are used (``OBSERVABLES``); the
others (temporary-protection stocks, cumulative registrations, border
crossings) measure different things and are listed as skipped.

Breaks in the history are explicit (:class:`SeriesBreak`): an observation dated
on or after a break starts a new *segment* of its series. The segment in force
at the start of the fit is compared with the model in levels; every later
segment only through changes relative to its first observation (its anchor), so
a methodology change or a register clean-up is never read as people moving.

Method: a deterministic run of the model (every uncertain value at its median,
no random events) is fitted by penalised, recency-weighted least squares on log
values; the standard errors from the Jacobian give each fitted rate a
log-normal uncertainty. The stochastic model with those rates then forecasts
the holdout, which is scored by the averaged relative difference (Flee), MASE
against a no-change forecast and the coverage of the 80% and 95% intervals.

The module-level tables are parameters of this method, not plan data:
``OBSERVABLES`` and ``FITTED_RATES`` say which observed series and which rates
the method uses, ``PRIORS`` and the observation sigmas are its regularisation,
``LOCATION_CODES`` is the location vocabulary of the shared history format.
``DEFAULT_BREAKS`` records known breaks in those named series (IOM GPS
baseline change, UNHCR register clean-up); callers may pass their own
``breaks``.

References
----------
.. [1] Suleimenova, D., Bell, D. and Groen, D. (2017). A generalized simulation
   development approach for predicting refugee destinations. Scientific
   Reports 7, 13377. (Averaged relative difference.)
.. [2] Hyndman, R. J. and Koehler, A. B. (2006). Another look at measures of
   forecast accuracy. International Journal of Forecasting 22(4), 679-688.
   (Mean absolute scaled error.)
.. [3] Gneiting, T. and Raftery, A. E. (2007). Strictly proper scoring rules,
   prediction, and estimation. JASA 102(477), 359-378. (Interval coverage.)

"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np
import pandas as pd
from scipy import optimize

from reachplan.model.errors import ReachplanError
from reachplan.model.simulation import (
    REFUGEE_LOCATIONS,
    AssumptionError,
    Distribution,
    Fixed,
    InitialState,
    LogNormal,
    Seed,
    SimulationAssumptions,
    SimulationResult,
    month_index,
    simulate,
)

__all__ = [
    "DEFAULT_BREAKS",
    "FITTED_RATES",
    "LOCATION_CODES",
    "OBSERVABLES",
    "PRIORS",
    "CalibrationResult",
    "FittedRate",
    "HistoryError",
    "Scores",
    "SeriesBreak",
    "averaged_relative_difference",
    "calibrate",
    "interval_coverage",
    "mean_absolute_scaled_error",
    "prepare_observations",
]


class HistoryError(ReachplanError, ValueError):
    """A malformed observed history, naming the file, row and column where known."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ):
        self.message = message
        self.file = file
        self.row = row
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}" + (f", column {self.column}" if self.column else ""))
        elif self.column:
            where.append(f"column {self.column}")
        return ": ".join([*where, self.message])


#: Observed series that measure a model stock, and which stock.
OBSERVABLES: dict[str, str] = {
    "idp_gps_iom": "idps",
    "returnees_gps_iom": "returnees",
    "refugees_recorded_unhcr": "refugees",
    "UNHCR_recorded_in_country": "refugees",
    "UNHCR_recorded_Europe": "refugees",
}

#: Location names in histories -> model codes. ``EUR`` is the total over all
#: refugee locations (the 11 hosts and the rest of Europe).
LOCATION_CODES: dict[str, str] = {
    "Ukraine": "UKR",
    "Europe": "EUR",
    "Poland": "POL",
    "Moldova": "MDA",
    "Republic of Moldova": "MDA",
    "Czechia": "CZE",
    "Czech Republic": "CZE",
    "Slovakia": "SVK",
    "Lithuania": "LTU",
    "Hungary": "HUN",
    "Romania": "ROU",
    "Bulgaria": "BGR",
    "Belarus": "BLR",
    "Estonia": "EST",
    "Latvia": "LVA",
    **{code: code for code in ["UKR", "EUR", *REFUGEE_LOCATIONS]},
}


@dataclass(frozen=True)
class SeriesBreak:
    """A break in observed series: observations dated on or after ``date`` start a new segment.

    Attributes
    ----------
    series : tuple of str
        Observed series names affected.
    date : str
        First day of the new segment, ``YYYY-MM-DD``.
    kind : {"methodology", "register_cleanup"}
        Why levels before and after are not comparable.
    note : str
        The evidence, in words.

    """

    series: tuple[str, ...]
    date: str
    kind: Literal["methodology", "register_cleanup"]
    note: str


DEFAULT_BREAKS: tuple[SeriesBreak, ...] = (
    SeriesBreak(
        series=("idp_gps_iom", "returnees_gps_iom"),
        date="2023-02-01",
        kind="methodology",
        note=(
            "IOM General Population Survey: the population baseline changed between round 12 "
            "(January 2023) and round 14 (September 2023, 33M baseline); round 13 onward are "
            "treated as the new baseline"
        ),
    ),
    SeriesBreak(
        series=("refugees_recorded_unhcr", "UNHCR_recorded_in_country", "UNHCR_recorded_Europe"),
        date="2023-01-01",
        kind="register_cleanup",
        note=(
            "refugees recorded by UNHCR: registers were cleaned of people who had left and "
            "national figures revised during 2023 (recorded in Europe fell from 7.9M to 5.9M)"
        ),
    ),
)

#: The rates fitted to the history (fields of :class:`model.simulation.Rates`).
FITTED_RATES: tuple[str, ...] = (
    "internal_displacement",
    "cross_border_displacement",
    "idp_return",
    "refugee_return",
    "returnee_lapse",
)
#: Weak log-normal priors (median, log-scale sigma) on the fitted rates, 1/month.
#: They keep rates the history cannot separate near plausible values: a factor
#: of about two either side (sigma 0.75) around rates of the order IOM and UNHCR
#: figures for 2023 imply (tens of thousands of people a month).
PRIORS: dict[str, tuple[float, float]] = {
    "internal_displacement": (0.002, 0.75),
    "cross_border_displacement": (0.001, 0.75),
    "idp_return": (0.01, 0.75),
    "refugee_return": (0.005, 0.75),
    "returnee_lapse": (0.01, 0.75),
}
_SIGMA_PUBLISHED = 0.05
_SIGMA_DERIVED = 0.10
_SIGMA_UNCERTAIN = 0.15
_RATE_BOUNDS = (1e-5, 0.5)


@dataclass(frozen=True)
class FittedRate:
    """A fitted monthly rate: log-normal with ``median`` (1/month) and log-scale ``sigma``."""

    name: str
    median: float
    sigma: float


@dataclass(frozen=True)
class Scores:
    """Holdout scores of a calibration.

    Attributes
    ----------
    averaged_relative_difference : float
        Mean over holdout months of ``sum|median - observed| / sum(observed)``.
    mase : float
        Mean absolute scaled error of the median forecast (log values), scaled
        by the in-sample mean absolute one-step change of a no-change forecast.
    relative_mae_no_change : float
        MAE of the median forecast divided by the MAE of the no-change forecast
        (last observation before the holdout) on the same holdout points.
    coverage_80, coverage_95 : float
        Share of holdout observations inside the central 80% / 95% intervals.
    n_scored : int
        Holdout observations scored.

    """

    averaged_relative_difference: float
    mase: float
    relative_mae_no_change: float
    coverage_80: float
    coverage_95: float
    n_scored: int


@dataclass(frozen=True)
class CalibrationResult:
    """Fitted rates and holdout scores.

    Attributes
    ----------
    fit_from, holdout_from, end : pandas.Period
        First month fitted, first month held out, last month observed.
    rates : tuple of FittedRate
        Rates fitted on the months before ``holdout_from`` (used for the scores).
    final_rates : tuple of FittedRate
        Rates refitted on every month from ``fit_from`` (the ones to ship).
    scores : Scores
    holdout : pandas.DataFrame
        One row per holdout observation: observed value, forecast quantiles,
        whether it was scored and why not.
    skipped : pandas.DataFrame
        History rows not used, with the reason.
    breaks : tuple of SeriesBreak
    draws : int
    seed : int or None

    """

    fit_from: pd.Period
    holdout_from: pd.Period
    end: pd.Period
    rates: tuple[FittedRate, ...]
    final_rates: tuple[FittedRate, ...]
    scores: Scores
    holdout: pd.DataFrame
    skipped: pd.DataFrame
    breaks: tuple[SeriesBreak, ...]
    draws: int
    seed: int | None


# --------------------------------------------------------------------------- metrics


def averaged_relative_difference(
    forecast: np.ndarray, observed: np.ndarray, groups: np.ndarray
) -> float:
    """Averaged relative difference of Flee [1]_.

    For each time ``t`` (a group), ``E(t) = sum_i |f_i - o_i| / sum_i o_i`` over
    the locations observed at ``t``; the score is the mean of ``E(t)``.

    Parameters
    ----------
    forecast, observed : numpy.ndarray
        Shape ``(n,)``, persons.
    groups : numpy.ndarray
        Shape ``(n,)``, the time label of each observation.

    Returns
    -------
    float
        Dimensionless; 0 is a perfect fit. NaN when ``n == 0``.

    References
    ----------
    .. [1] Suleimenova, Bell and Groen (2017), Scientific Reports 7, 13377.

    """
    if len(observed) == 0:
        return math.nan
    errors = []
    for label in pd.unique(groups):
        mask = groups == label
        errors.append(np.abs(forecast[mask] - observed[mask]).sum() / observed[mask].sum())
    return float(np.mean(errors))


def mean_absolute_scaled_error(errors: np.ndarray, scales: np.ndarray) -> float:
    """Mean absolute scaled error [1]_: ``mean(|e_i| / scale_i)``.

    Parameters
    ----------
    errors : numpy.ndarray
        Forecast errors, shape ``(n,)``.
    scales : numpy.ndarray
        In-sample mean absolute error of the one-step no-change forecast of the
        series each error belongs to, shape ``(n,)``, same units as ``errors``.

    Returns
    -------
    float
        Below 1: better than the in-sample no-change forecast. NaN when ``n == 0``.

    References
    ----------
    .. [1] Hyndman and Koehler (2006), International Journal of Forecasting 22, 679-688.

    """
    if len(errors) == 0:
        return math.nan
    return float(np.mean(np.abs(errors) / scales))


def interval_coverage(observed: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of observations within ``[lower, upper]``; NaN when there are none."""
    if len(observed) == 0:
        return math.nan
    return float(np.mean((observed >= lower) & (observed <= upper)))


# --------------------------------------------------------------------------- observations


def _sigma(source: str) -> float:
    text = source.lstrip()
    if text.startswith("[U"):
        return _SIGMA_UNCERTAIN
    if text.startswith("[D"):
        return _SIGMA_DERIVED
    return _SIGMA_PUBLISHED


def prepare_observations(
    history: pd.DataFrame, breaks: tuple[SeriesBreak, ...] = DEFAULT_BREAKS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Select the observations the model can reproduce and assign segments.

    Parameters
    ----------
    history : pandas.DataFrame
        As returned by :func:`scenarios.simulation_io.load_history`.
    breaks : tuple of SeriesBreak
        Breaks that start new segments.

    Returns
    -------
    used : pandas.DataFrame
        Columns ``series, location_code, quantity, date, month, fraction, value,
        sigma, segment, source, file, row``; ``fraction`` is the position of
        the date within its month (1.0 = month end); ``segment`` counts the
        breaks of the series passed at that date.
    skipped : pandas.DataFrame
        Columns ``series, location, date, file, row, reason``.

    """
    rows = []
    skipped = []
    for record in history.itertuples(index=False):
        reason = None
        quantity = OBSERVABLES.get(str(record.series))
        code = LOCATION_CODES.get(str(record.location))
        if quantity is None:
            reason = "series measures something the model does not hold (kept apart)"
        elif code is None:
            reason = f"location {record.location!r} is outside the model"
        elif quantity in ("idps", "returnees") and code != "UKR":
            reason = f"{quantity} are only modelled in Ukraine"
        elif quantity == "refugees" and code == "UKR":
            reason = "refugees are not located in Ukraine"
        elif record.value <= 0:
            reason = "value is not positive"
        if reason is not None:
            skipped.append(
                {
                    "series": record.series,
                    "location": record.location,
                    "date": record.date,
                    "file": record.file,
                    "row": record.row,
                    "reason": reason,
                }
            )
            continue
        date = pd.Timestamp(record.date)
        segment = sum(
            1
            for b in breaks
            if record.series in b.series and date >= pd.Timestamp(b.date)
        )
        fraction = 1.0 if record.whole_month else date.day / date.days_in_month
        rows.append(
            {
                "series": record.series,
                "location_code": code,
                "quantity": quantity,
                "date": date,
                "month": date.to_period("M"),
                "fraction": fraction,
                "value": float(record.value),
                "sigma": _sigma(str(record.source)),
                "segment": segment,
                "source": record.source,
                "file": record.file,
                "row": record.row,
            }
        )
    columns = [
        "series", "location_code", "quantity", "date", "month", "fraction", "value",
        "sigma", "segment", "source", "file", "row",
    ]
    used = pd.DataFrame(rows, columns=columns).sort_values("date", kind="stable")
    skipped_frame = pd.DataFrame(
        skipped, columns=["series", "location", "date", "file", "row", "reason"]
    )
    return used.reset_index(drop=True), skipped_frame


def _default_fit_from(used: pd.DataFrame) -> pd.Period:
    firsts = []
    for quantity, code in (("idps", "UKR"), ("returnees", "UKR"), ("refugees", "EUR")):
        subset = used[(used.quantity == quantity) & (used.location_code == code)]
        if subset.empty:
            raise HistoryError(
                f"the history has no {quantity} observations for {code}; need IDPs, returnees "
                "and refugees in Europe to set the initial state"
            )
        firsts.append(subset.month.min())
    return max(firsts)


def _interpolate(subset: pd.DataFrame, when: pd.Timestamp) -> float:
    """Log-linear interpolation in time; the nearest value outside the observed range."""
    x = subset.date.map(pd.Timestamp.toordinal).to_numpy(dtype=float)
    y = np.log(subset.value.to_numpy(dtype=float))
    return float(np.exp(np.interp(when.toordinal(), x, y)))


def _initial_state_at(
    used: pd.DataFrame, month: pd.Period, template: InitialState
) -> tuple[InitialState, dict[tuple[str, str], int]]:
    """Build the initial stocks at the end of ``month`` from the segment in force then.

    Returns the state and, for each core ``(series, location)``, the segment
    compared in levels. Refugees are split across locations as in ``template``;
    the population in Ukraine is ``template``'s.
    """
    when = month.to_timestamp(how="end").normalize()
    level_segment: dict[tuple[str, str], int] = {}
    values: dict[str, float] = {}
    for quantity, code in (("idps", "UKR"), ("returnees", "UKR"), ("refugees", "EUR")):
        subset = used[(used.quantity == quantity) & (used.location_code == code)]
        # A quantity may be observed by several series; use the one observed first.
        series = subset.sort_values("date").series.iloc[0]
        subset = subset[subset.series == series]
        started = subset[subset.date <= when]
        segment = int(started.segment.max()) if not started.empty else int(subset.segment.min())
        level_segment[(series, code)] = segment
        values[quantity] = _interpolate(subset[subset.segment == segment], when)
    population = template.idps + template.returnees + template.non_displaced
    shares = template.refugee_vector / template.refugee_vector.sum()
    non_displaced = population - values["idps"] - values["returnees"]
    if non_displaced < 0:
        raise HistoryError(
            f"IDPs and returnees at {month} exceed the population in Ukraine ({population:,.0f})"
        )
    state = InitialState(
        month=month,
        idps=values["idps"],
        returnees=values["returnees"],
        non_displaced=non_displaced,
        refugees=tuple(float(v) for v in values["refugees"] * shares),
    )
    return state, level_segment


def _quantity_path(result: SimulationResult, quantity: str, code: str) -> np.ndarray:
    """Month-end values of an observed quantity, shape ``(draws, T)``."""
    if quantity == "idps":
        return result.idps
    if quantity == "returnees":
        return result.returnees
    if code == "EUR":
        return result.refugees.sum(axis=2)
    return result.refugees[:, :, REFUGEE_LOCATIONS.get_loc(code)]


def _predict(result: SimulationResult, obs: pd.DataFrame) -> np.ndarray:
    """Model values at each observation date, shape ``(draws, n)``.

    Linear between month-ends: an observation on day ``d`` of month ``m`` is
    ``(1 - f) * S[m - 1] + f * S[m]`` with ``f = d / days_in_month``.
    """
    start = result.months[0]
    out = np.empty((result.draws, len(obs)))
    for i, record in enumerate(obs.itertuples(index=False)):
        path = _quantity_path(result, record.quantity, record.location_code)
        index = (record.month - start).n
        before = path[:, max(index - 1, 0)]
        out[:, i] = (1.0 - record.fraction) * before + record.fraction * path[:, index]
    return out


# --------------------------------------------------------------------------- fitting


_T = TypeVar("_T")


def _medians(obj: _T) -> _T:
    """Replace every distribution field of a dataclass by its median."""
    changes = {}
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if hasattr(value, "sample"):
            changes[f.name] = Fixed(value.median())
    return dataclasses.replace(obj, **changes)  # type: ignore[type-var]


def _deterministic(assumptions: SimulationAssumptions) -> SimulationAssumptions:
    """Every uncertain value at its median, no noise and no random events."""
    a = assumptions
    return dataclasses.replace(
        a,
        rates=dataclasses.replace(_medians(a.rates), volatility=Fixed(0.0)),
        surges=dataclasses.replace(a.surges, enabled=False),
        occupied_areas=dataclasses.replace(
            _medians(a.occupied_areas), baltic_push_probability=Fixed(0.0)
        ),
        pendular=_medians(a.pendular),
        temporary_protection=_medians(a.temporary_protection),
        coupling=_medians(a.coupling),
        facilitated_returns=_medians(a.facilitated_returns),
    )


def _with_rates(
    assumptions: SimulationAssumptions, rates: Mapping[str, Distribution]
) -> SimulationAssumptions:
    return dataclasses.replace(assumptions, rates=dataclasses.replace(assumptions.rates, **rates))


def _residual_plan(
    obs: pd.DataFrame, level_segment: dict[tuple[str, str], int]
) -> tuple[np.ndarray, np.ndarray]:
    """For each observation, the index of its anchor (-1: compared in levels; -2: is an anchor)."""
    anchors = np.full(len(obs), -1)
    keys = list(zip(obs.series, obs.location_code, obs.segment, strict=True))
    first: dict[tuple[str, str, int], int] = {}
    for i, key in enumerate(keys):
        series, code, segment = key
        if level_segment.get((series, code)) == segment:
            continue
        if key not in first:
            first[key] = i
            anchors[i] = -2
        else:
            anchors[i] = first[key]
    return anchors, np.array([k[2] for k in keys])


def _fit(
    base: SimulationAssumptions,
    initial: InitialState,
    obs: pd.DataFrame,
    level_segment: dict[tuple[str, str], int],
    end: pd.Period,
    half_life: float | None,
    priors: Mapping[str, tuple[float, float]],
) -> tuple[FittedRate, ...]:
    """Penalised weighted least squares on log values; returns log-normal rates."""
    months = (end - initial.month).n
    deterministic = _deterministic(base)
    anchors, _ = _residual_plan(obs, level_segment)
    log_obs = np.log(obs.value.to_numpy())
    sigma = obs.sigma.to_numpy()
    age = np.array([(end - m).n for m in obs.month])
    weight = np.ones(len(obs)) if half_life is None else 0.5 ** (age / half_life)
    prior_median = np.log([priors[n][0] for n in FITTED_RATES])
    prior_sigma = np.array([priors[n][1] for n in FITTED_RATES])
    level = anchors == -1
    relative = anchors >= 0
    anchor_index = np.where(relative, anchors, 0)
    sigma_rel = np.sqrt(sigma**2 + sigma[anchor_index] ** 2)

    def observation_residuals(theta: np.ndarray) -> np.ndarray:
        rates = {n: Fixed(float(np.exp(t))) for n, t in zip(FITTED_RATES, theta, strict=True)}
        run = simulate(
            _with_rates(deterministic, rates), initial, draws=1, seed=0, months=max(months, 1),
            record_flows=False,
        )
        log_pred = np.log(np.maximum(_predict(run, obs)[0], 1.0))
        res = np.zeros(len(obs))
        res[level] = (log_pred - log_obs)[level] / sigma[level]
        change_pred = log_pred - log_pred[anchor_index]
        change_obs = log_obs - log_obs[anchor_index]
        res[relative] = (change_pred - change_obs)[relative] / sigma_rel[relative]
        return (res * np.sqrt(weight))[level | relative]

    def residuals(theta: np.ndarray) -> np.ndarray:
        return np.concatenate(
            [observation_residuals(theta), (theta - prior_median) / prior_sigma]
        )

    lower, upper = np.log(_RATE_BOUNDS[0]), np.log(_RATE_BOUNDS[1])
    solution = optimize.least_squares(
        residuals, np.clip(prior_median, lower, upper), bounds=(lower, upper), x_scale=1.0,
        ftol=1e-12, xtol=1e-12, gtol=1e-12,
    )
    jac = solution.jac
    try:
        cov = np.linalg.inv(jac.T @ jac)
    except np.linalg.LinAlgError:
        cov = np.diag(prior_sigma**2)
    n_obs = int((level | relative).sum())
    misfit = float(np.sum(observation_residuals(solution.x) ** 2))
    inflation = max(1.0, math.sqrt(misfit / max(1, n_obs - len(FITTED_RATES))))
    sds = np.sqrt(np.clip(np.diag(cov), 0.0, None)) * inflation
    return tuple(
        FittedRate(
            name=n, median=float(np.exp(t)), sigma=float(np.clip(s, 0.1, min(priors[n][1], 1.0)))
        )
        for n, t, s in zip(FITTED_RATES, solution.x, sds, strict=True)
    )


def _as_distributions(rates: tuple[FittedRate, ...]) -> dict[str, Distribution]:
    return {r.name: LogNormal(median_value=r.median, sigma=r.sigma) for r in rates}


# --------------------------------------------------------------------------- entry point


def calibrate(
    history: pd.DataFrame,
    assumptions: SimulationAssumptions,
    template: InitialState,
    *,
    fit_from: str | pd.Period | None = None,
    holdout_from: str | pd.Period | None = None,
    draws: int = 1000,
    seed: Seed = None,
    breaks: tuple[SeriesBreak, ...] = DEFAULT_BREAKS,
    half_life_months: float | None = 6.0,
    priors: Mapping[str, tuple[float, float]] = PRIORS,
) -> CalibrationResult:
    """Fit the rates to a history, forecast a holdout and score the forecast.

    Parameters
    ----------
    history : pandas.DataFrame
        Observations as read by :func:`scenarios.simulation_io.load_history`.
    assumptions : SimulationAssumptions
        Every value not fitted (levers, priors of the unfitted rates) comes from here.
    template : InitialState
        Gives the population in Ukraine and the split of refugees across locations.
    fit_from : str or pandas.Period, optional
        First month fitted (``YYYY-MM``). Default: the first month by which
        IDPs, returnees and refugees in Europe have all been observed.
    holdout_from : str or pandas.Period, optional
        First month held out. Default: the month of the observation at three
        quarters of the observations from ``fit_from``.
    draws : int
        Draws of the holdout forecast.
    seed : int, numpy.random.Generator or None
        Seed of the holdout forecast.
    breaks : tuple of SeriesBreak
        Breaks in the observed series.
    half_life_months : float or None
        Recency weighting: an observation this many months before the end of
        the fit counts half; ``None`` weighs all equally.
    priors : mapping
        Log-normal prior ``(median, sigma)`` per fitted rate; a fitted rate's
        sigma never exceeds its prior sigma, nor 1.0.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    HistoryError
        When the history cannot support a fit (missing core series, no
        observation before or after the holdout).

    """
    used, skipped = prepare_observations(history, breaks)
    if used.empty:
        raise HistoryError("no observation in the history measures a model stock")
    start = _default_fit_from(used) if fit_from is None else _month(fit_from, "fit_from")
    used = used[used.month >= start].reset_index(drop=True)
    if holdout_from is None:
        months_sorted = used.month.sort_values().to_numpy()
        position = min(len(months_sorted) - 1, math.ceil(0.75 * len(months_sorted)))
        holdout = months_sorted[position]
        if holdout <= start:
            holdout = start + 1
    else:
        holdout = _month(holdout_from, "holdout_from")
    if holdout <= start:
        raise HistoryError(f"the holdout ({holdout}) must start after the fit ({start})")
    end = max(used.month.max(), holdout)
    fit_obs = used[used.month < holdout].reset_index(drop=True)
    if fit_obs.empty:
        raise HistoryError(f"no observations between {start} and the holdout ({holdout})")
    held = used[used.month >= holdout].reset_index(drop=True)
    if held.empty:
        raise HistoryError(f"no observations on or after the holdout month {holdout}")

    initial, level_segment = _initial_state_at(used, start, template)
    rates = _fit(
        assumptions, initial, fit_obs, level_segment, holdout - 1, half_life_months, priors
    )
    final_rates = _fit(assumptions, initial, used, level_segment, end, half_life_months, priors)

    forecast_assumptions = _with_rates(assumptions, _as_distributions(rates))
    run = simulate(
        forecast_assumptions, initial, draws=draws, seed=seed, months=max((end - start).n, 1),
        record_flows=False,
    )
    table, scores = _score(run, fit_obs, held, used, level_segment)
    return CalibrationResult(
        fit_from=start,
        holdout_from=holdout,
        end=end,
        rates=rates,
        final_rates=final_rates,
        scores=scores,
        holdout=table,
        skipped=skipped,
        breaks=breaks,
        draws=draws,
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
    )


def _month(value: str | pd.Period, key: str) -> pd.Period:
    try:
        return month_index(value, key=key)
    except AssumptionError as error:
        raise HistoryError(f"{key}: {error.message}") from None


def _score(
    run: SimulationResult,
    fit_obs: pd.DataFrame,
    held: pd.DataFrame,
    used: pd.DataFrame,
    level_segment: dict[tuple[str, str], int],
) -> tuple[pd.DataFrame, Scores]:
    """Forecast quantiles at each holdout observation and the scores."""
    anchors, _ = _residual_plan(used, level_segment)
    predicted = _predict(run, used)  # (draws, n_used)
    held_keys = set(zip(held.file, held.row, strict=True))
    rows = []
    for i, record in enumerate(used.itertuples(index=False)):
        if (record.file, record.row) not in held_keys:
            continue
        key = (record.series, record.location_code, record.segment)
        same = fit_obs[
            (fit_obs.series == record.series)
            & (fit_obs.location_code == record.location_code)
            & (fit_obs.segment == record.segment)
        ]
        naive = float(same.value.iloc[-1]) if not same.empty else math.nan
        if anchors[i] == -2:
            rows.append(_row(record, None, naive, "anchors a new segment after a break"))
            continue
        draws_i = predicted[:, i]
        if anchors[i] >= 0:
            anchor = anchors[i]
            draws_i = draws_i / predicted[:, anchor] * used.value.iloc[anchor]
            if math.isnan(naive):
                naive = float(used.value.iloc[anchor])
        q = np.percentile(draws_i, [2.5, 10, 50, 90, 97.5])
        scale = _naive_scale(same) if len(same) >= 2 else math.nan
        rows.append(_row(record, q, naive, "", scale=scale, key=key))
    table = pd.DataFrame(rows)
    scored = table[table.scored]
    if scored.empty:
        return table, Scores(math.nan, math.nan, math.nan, math.nan, math.nan, 0)
    observed = scored.observed.to_numpy()
    median = scored.p50.to_numpy()
    pooled = _naive_scale(fit_obs, grouped=True)
    scales = scored.naive_scale.fillna(pooled).to_numpy()
    log_errors = np.log(median) - np.log(observed)
    with_naive = scored.dropna(subset=["no_change"])
    mae_model = np.abs(with_naive.p50 - with_naive.observed).mean()
    mae_naive = np.abs(with_naive.no_change - with_naive.observed).mean()
    scores = Scores(
        averaged_relative_difference=averaged_relative_difference(
            median, observed, scored.month.astype(str).to_numpy()
        ),
        mase=mean_absolute_scaled_error(log_errors, scales),
        relative_mae_no_change=float(mae_model / mae_naive) if mae_naive > 0 else math.nan,
        coverage_80=interval_coverage(observed, scored.p10.to_numpy(), scored.p90.to_numpy()),
        coverage_95=interval_coverage(observed, scored.p025.to_numpy(), scored.p975.to_numpy()),
        n_scored=len(scored),
    )
    return table, scores


def _naive_scale(obs: pd.DataFrame, grouped: bool = False) -> float:
    """Mean absolute one-step change of log values (the no-change forecast's in-sample error)."""
    if not grouped:
        steps = np.abs(np.diff(np.log(obs.sort_values("date").value.to_numpy())))
        return float(steps.mean()) if len(steps) else math.nan
    steps_all: list[np.ndarray] = []
    for _, group in obs.groupby(["series", "location_code", "segment"]):
        steps_all.append(np.abs(np.diff(np.log(group.sort_values("date").value.to_numpy()))))
    joined = np.concatenate(steps_all) if steps_all else np.array([])
    joined = joined[joined > 0]
    return float(joined.mean()) if len(joined) else 1.0


def _row(
    record: object,
    q: np.ndarray | None,
    naive: float,
    reason: str,
    *,
    scale: float = math.nan,
    key: tuple[str, str, int] | None = None,
) -> dict[str, object]:
    base = {
        "series": record.series,  # type: ignore[attr-defined]
        "location_code": record.location_code,  # type: ignore[attr-defined]
        "date": record.date.strftime("%Y-%m-%d"),  # type: ignore[attr-defined]
        "month": record.month,  # type: ignore[attr-defined]
        "segment": record.segment,  # type: ignore[attr-defined]
        "observed": record.value,  # type: ignore[attr-defined]
        "no_change": naive,
        "naive_scale": scale,
        "scored": q is not None,
        "reason": reason,
    }
    names = ("p025", "p10", "p50", "p90", "p975")
    values = [math.nan] * 5 if q is None else [float(v) for v in q]
    base.update(dict(zip(names, values, strict=True)))
    return base
