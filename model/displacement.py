"""Monte Carlo stock-flow model of displacement and return, Ukraine and Europe.

The model moves people, month by month, between explicitly named stocks:

* ``non_displaced``: people living in Ukraine who are neither displaced nor
  counted as returnees (the population every new displacement comes from);
* ``idps``: internally displaced persons in Ukraine;
* ``returnees``: people in Ukraine who returned to their area of habitual
  residence after displacement (from inside Ukraine or from abroad);
* ``refugees``: refugees from Ukraine in each of the 11 host countries of the
  plan (``HOST_CODES``) and in the rest of Europe (``XEU``);
* ``beyond_europe``: people who moved on beyond Europe (an outside accumulator).

Every flow leaves one stock and enters another, so the sum of all stocks is the
same in every draw and every month (births, deaths and naturalisation are not
modelled). The plan's planning assumptions are levers, each switchable and
probabilistic; each draw samples its parameters and its events. Everything is
vectorised across draws: arrays are shaped ``(draws, months)`` or
``(draws, months, locations)``. Units: persons; rates are monthly hazards
(1/month).

The equations, every assumption and the levers are written down in
``docs/simulation.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd
from scipy import special

from model.errors import ReachplanError

__all__ = [
    "BALTIC_CODES",
    "DRAW_BLOCK",
    "EU_MEMBER_CODES",
    "HOST_CODES",
    "NEEDS_LOCATIONS",
    "PERCENTILE_COLUMNS",
    "REFUGEE_LOCATIONS",
    "SERIES",
    "AssumptionError",
    "Beta",
    "Coupling",
    "Distribution",
    "FacilitatedReturns",
    "Fixed",
    "InitialState",
    "LogNormal",
    "NeedsMapping",
    "NeedsTable",
    "OccupiedAreas",
    "Pareto",
    "Pendular",
    "Rates",
    "SimulationAssumptions",
    "SimulationResult",
    "Surges",
    "TemporaryProtection",
    "Triangular",
    "Uniform",
    "as_generator",
    "month_index",
    "needs_per_draw",
    "people_in_need",
    "percentile_table",
    "simulate",
    "total_population",
]

Seed: TypeAlias = int | np.random.Generator | None
FloatArray: TypeAlias = np.ndarray

#: The 11 host countries of the plan (ISO3), in the plan's order.
HOST_CODES: tuple[str, ...] = (
    "POL", "MDA", "CZE", "SVK", "LTU", "HUN", "ROU", "BGR", "BLR", "EST", "LVA",
)
#: Locations that hold refugee stocks: the hosts plus the rest of Europe.
REFUGEE_LOCATIONS: pd.Index = pd.Index([*HOST_CODES, "XEU"], name="location_code")
#: Locations for which people in need are reported (the plan's country lines).
NEEDS_LOCATIONS: pd.Index = pd.Index(["UKR", *HOST_CODES], name="location_code")
#: Baltic host countries reached by people leaving occupied areas via Russia.
BALTIC_CODES: tuple[str, ...] = ("EST", "LVA", "LTU")
#: Hosts that are EU member states (the Temporary Protection Directive applies).
#: Moldova and Belarus are not EU members.
EU_MEMBER_CODES: frozenset[str] = frozenset(
    {"POL", "CZE", "SVK", "LTU", "HUN", "ROU", "BGR", "EST", "LVA"}
)
#: Series of the percentile table.
SERIES: tuple[str, ...] = ("idps", "returnees", "refugees")
#: Columns of the percentile table, in order.
PERCENTILE_COLUMNS: tuple[str, ...] = (
    "series", "location_code", "month", "p05", "p10", "p50", "p90", "p95", "mean",
)
#: Draws are sampled in blocks of this size, each from its own child stream of
#: ``SeedSequence(seed)``, so a draw's numbers do not depend on chunking.
DRAW_BLOCK: int = 256

_N_REF = len(REFUGEE_LOCATIONS)
_XEU = _N_REF - 1


class AssumptionError(ReachplanError, ValueError):
    """An invalid simulation assumption, naming the file and key where known.

    Parameters
    ----------
    message : str
        What is wrong, in planner words.
    file : str, optional
        The scenario file the value came from.
    key : str, optional
        Dotted key of the offending value, e.g. ``simulation.rates.idp_return``.

    """

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        self.message = message
        self.file = file
        self.key = key
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.key) if part)
        return f"{where}: {self.message}" if where else self.message

    def within(self, *, file: str | None = None, prefix: str | None = None) -> AssumptionError:
        """Return a copy located in ``file`` with ``prefix`` prepended to the key."""
        key = self.key
        if prefix:
            key = f"{prefix}.{key}" if key else prefix
        return AssumptionError(self.message, file=file or self.file, key=key)


# --------------------------------------------------------------------------- randomness


def as_generator(seed: Seed) -> np.random.Generator:
    """Normalise a seed into a :class:`numpy.random.Generator`.

    Parameters
    ----------
    seed : int, numpy.random.Generator or None
        ``None`` draws fresh entropy from the operating system; an int
        (including 0) seeds a new PCG64 generator; a Generator is used as is.

    Returns
    -------
    numpy.random.Generator

    """
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int, a numpy Generator or None, not {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    return np.random.default_rng(int(seed))


# --------------------------------------------------------------------------- distributions


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise AssumptionError(message)


@dataclass(frozen=True)
class Fixed:
    """A value without uncertainty."""

    value: float

    def __post_init__(self) -> None:
        _check(math.isfinite(self.value), "value must be finite")

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> FloatArray:
        """Return ``value`` repeated to ``size``."""
        return np.full(size, float(self.value))

    def median(self) -> float:
        """Return the median."""
        return float(self.value)

    def support(self) -> tuple[float, float]:
        """Return the smallest and largest possible value."""
        return float(self.value), float(self.value)


@dataclass(frozen=True)
class Uniform:
    """Uniform on ``[low, high]``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        _check(math.isfinite(self.low) and math.isfinite(self.high), "bounds must be finite")
        _check(self.low <= self.high, f"low ({self.low}) exceeds high ({self.high})")

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> FloatArray:
        """Draw ``size`` values."""
        return rng.uniform(self.low, self.high, size)

    def median(self) -> float:
        """Return the median."""
        return 0.5 * (self.low + self.high)

    def support(self) -> tuple[float, float]:
        """Return the smallest and largest possible value."""
        return float(self.low), float(self.high)


@dataclass(frozen=True)
class Triangular:
    """Triangular on ``[low, high]`` with its peak at ``mode``."""

    low: float
    mode: float
    high: float

    def __post_init__(self) -> None:
        _check(
            self.low <= self.mode <= self.high and self.low < self.high,
            f"need low <= mode <= high and low < high, got {self.low}, {self.mode}, {self.high}",
        )

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> FloatArray:
        """Draw ``size`` values."""
        return rng.triangular(self.low, self.mode, self.high, size)

    def median(self) -> float:
        """Return the median."""
        a, c, b = self.low, self.mode, self.high
        if c >= (a + b) / 2:
            return a + math.sqrt((b - a) * (c - a) / 2)
        return b - math.sqrt((b - a) * (b - c) / 2)

    def support(self) -> tuple[float, float]:
        """Return the smallest and largest possible value."""
        return float(self.low), float(self.high)


@dataclass(frozen=True)
class LogNormal:
    """Log-normal with the given ``median`` and log-scale standard deviation ``sigma``."""

    median_value: float
    sigma: float

    def __post_init__(self) -> None:
        _check(self.median_value > 0, f"median must be positive, got {self.median_value}")
        _check(self.sigma >= 0, f"sigma must be non-negative, got {self.sigma}")

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> FloatArray:
        """Draw ``size`` values."""
        return self.median_value * np.exp(self.sigma * rng.standard_normal(size))

    def median(self) -> float:
        """Return the median."""
        return float(self.median_value)

    def support(self) -> tuple[float, float]:
        """Return the smallest and largest possible value."""
        return 0.0, math.inf


@dataclass(frozen=True)
class Beta:
    """Beta(``alpha``, ``beta``) on ``[0, 1]``, for probabilities and shares."""

    alpha: float
    beta: float

    def __post_init__(self) -> None:
        _check(self.alpha > 0 and self.beta > 0, "alpha and beta must be positive")

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> FloatArray:
        """Draw ``size`` values."""
        return rng.beta(self.alpha, self.beta, size)

    def median(self) -> float:
        """Return the median."""
        return float(special.betaincinv(self.alpha, self.beta, 0.5))

    def support(self) -> tuple[float, float]:
        """Return the smallest and largest possible value."""
        return 0.0, 1.0


@dataclass(frozen=True)
class Pareto:
    """Pareto type I with minimum ``scale`` and tail index ``shape``, capped at ``cap``.

    A heavy tail: ``P(X > x) = (scale / x) ** shape`` for ``x >= scale``.
    """

    scale: float
    shape: float
    cap: float = math.inf

    def __post_init__(self) -> None:
        _check(self.scale > 0, f"scale must be positive, got {self.scale}")
        _check(self.shape > 0, f"shape must be positive, got {self.shape}")
        _check(self.cap >= self.scale, f"cap ({self.cap}) is below scale ({self.scale})")

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> FloatArray:
        """Draw ``size`` values."""
        return np.minimum(self.scale * (1.0 + rng.pareto(self.shape, size)), self.cap)

    def median(self) -> float:
        """Return the median."""
        return float(min(self.scale * 2.0 ** (1.0 / self.shape), self.cap))

    def support(self) -> tuple[float, float]:
        """Return the smallest and largest possible value."""
        return float(self.scale), float(self.cap)


Distribution: TypeAlias = Fixed | Uniform | Triangular | LogNormal | Beta | Pareto


def _nonnegative(dist: Distribution, key: str) -> None:
    low, _ = dist.support()
    if low < 0:
        raise AssumptionError(f"must not be negative (smallest possible value {low})", key=key)


def _unit_interval(dist: Distribution, key: str) -> None:
    low, high = dist.support()
    if low < 0 or high > 1:
        raise AssumptionError(f"must lie within [0, 1] (support {low}..{high})", key=key)


def month_index(label: str | pd.Period, *, key: str = "month") -> pd.Period:
    """Parse a ``YYYY-MM`` label into a monthly :class:`pandas.Period`.

    Raises
    ------
    AssumptionError
        If the label is not a valid ``YYYY-MM`` month.

    """
    if isinstance(label, pd.Period):
        return label.asfreq("M")
    text = str(label)
    if len(text) != 7 or text[4] != "-" or not (text[:4] + text[5:]).isdigit():
        raise AssumptionError(f"expected a month as YYYY-MM, got {text!r}", key=key)
    month = int(text[5:])
    if not 1 <= month <= 12:
        raise AssumptionError(f"month must be 01..12, got {text!r}", key=key)
    return pd.Period(text, freq="M")


# --------------------------------------------------------------------------- assumptions


@dataclass(frozen=True)
class Rates:
    """Baseline monthly hazard rates (1/month) of the stock-flow model.

    Attributes
    ----------
    internal_displacement : Distribution
        Non-displaced residents -> IDPs.
    cross_border_displacement : Distribution
        Non-displaced residents -> refugees (split by destination shares).
    idp_return : Distribution
        IDPs -> returnees, for IDPs whose area of origin is accessible.
    refugee_return : Distribution
        Refugees (every location) -> returnees.
    returnee_lapse : Distribution
        Returnees -> non-displaced (returnee status ends: people no longer
        counted as returnees once settled).
    onward_to_rest_of_europe : Distribution
        Refugees in a host country -> refugees in the rest of Europe.
    onward_beyond_europe : Distribution
        Refugees (every location) -> beyond Europe.
    volatility : Distribution
        Standard deviation of the monthly log-normal noise (mean one) on
        displacement and on return hazards (dimensionless).

    """

    internal_displacement: Distribution
    cross_border_displacement: Distribution
    idp_return: Distribution
    refugee_return: Distribution
    returnee_lapse: Distribution
    onward_to_rest_of_europe: Distribution
    onward_beyond_europe: Distribution
    volatility: Distribution

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            _nonnegative(getattr(self, name), name)


@dataclass(frozen=True)
class Surges:
    """Lever 1: rare catastrophic surges of new displacement.

    Each month a surge happens with probability ``monthly_probability`` (sampled
    once per draw); its size in persons is heavy-tailed. A share
    ``internal_share`` becomes IDPs, the rest crosses borders.
    """

    enabled: bool
    monthly_probability: Distribution
    size: Distribution
    internal_share: Distribution

    def __post_init__(self) -> None:
        _unit_interval(self.monthly_probability, "monthly_probability")
        _nonnegative(self.size, "size")
        _unit_interval(self.internal_share, "internal_share")


@dataclass(frozen=True)
class OccupiedAreas:
    """Lever 2: limited access to occupied areas and pushes north to the Baltic states.

    A share ``non_returnable_idp_share`` of IDPs come from areas they cannot
    return to, so only the remainder is exposed to the IDP return hazard.
    Front-line events (probability per month, size in persons) move
    non-displaced residents of occupied areas through the Russian Federation
    to Estonia, Latvia and Lithuania in ``baltic_shares``.
    """

    enabled: bool
    non_returnable_idp_share: Distribution
    baltic_push_probability: Distribution
    baltic_push_size: Distribution
    baltic_shares: tuple[tuple[str, float], ...]

    def __post_init__(self) -> None:
        _unit_interval(self.non_returnable_idp_share, "non_returnable_idp_share")
        _unit_interval(self.baltic_push_probability, "baltic_push_probability")
        _nonnegative(self.baltic_push_size, "baltic_push_size")
        codes = [code for code, _ in self.baltic_shares]
        if sorted(codes) != sorted(BALTIC_CODES):
            raise AssumptionError(
                f"need one share for each of {', '.join(BALTIC_CODES)}, got {codes}",
                key="baltic_shares",
            )
        shares = [share for _, share in self.baltic_shares]
        if any(share < 0 for share in shares) or not math.isclose(sum(shares), 1.0, abs_tol=1e-9):
            raise AssumptionError("shares must be non-negative and sum to 1", key="baltic_shares")

    def share_vector(self) -> FloatArray:
        """Return the Baltic shares as a vector over ``REFUGEE_LOCATIONS``, shape (12,)."""
        vector = np.zeros(_N_REF)
        for code, share in self.baltic_shares:
            vector[REFUGEE_LOCATIONS.get_loc(code)] = share
        return vector


@dataclass(frozen=True)
class Pendular:
    """Lever 3: back-and-forth movement and split households.

    Returnees are re-displaced inside Ukraine (``redisplacement``) or leave
    again for abroad (``redeparture``, split by destination shares).
    """

    enabled: bool
    redisplacement: Distribution
    redeparture: Distribution

    def __post_init__(self) -> None:
        _nonnegative(self.redisplacement, "redisplacement")
        _nonnegative(self.redeparture, "redeparture")


@dataclass(frozen=True)
class TemporaryProtection:
    """Lever 4: temporary protection extended, or ended at a date.

    With ``scenario = "ended"``, temporary protection ends from ``end_month``
    (inclusive) in a draw with probability ``probability``; from then on the
    refugee return hazard and the onward-beyond-Europe hazard in the locations
    ``applies_to`` are multiplied by ``return_multiplier`` and
    ``onward_multiplier``.
    """

    scenario: Literal["extended", "ended"]
    end_month: str
    probability: float
    return_multiplier: Distribution
    onward_multiplier: Distribution
    applies_to: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.scenario not in ("extended", "ended"):
            raise AssumptionError(
                f"must be 'extended' or 'ended', got {self.scenario!r}", key="scenario"
            )
        month_index(self.end_month, key="end_month")
        if not 0.0 <= self.probability <= 1.0:
            raise AssumptionError("must lie within [0, 1]", key="probability")
        _nonnegative(self.return_multiplier, "return_multiplier")
        _nonnegative(self.onward_multiplier, "onward_multiplier")
        unknown = sorted(set(self.applies_to) - set(REFUGEE_LOCATIONS))
        if unknown:
            raise AssumptionError(f"unknown location codes {unknown}", key="applies_to")

    def mask(self) -> FloatArray:
        """Return 1.0 where temporary protection applies, shape (12,) over ``REFUGEE_LOCATIONS``."""
        return np.asarray(REFUGEE_LOCATIONS.isin(self.applies_to), dtype=float)


@dataclass(frozen=True)
class Coupling:
    """Lever 5: refugee returns depend on IDP return success.

    The refugee return hazard is multiplied by ``(s / s_ref) ** elasticity``
    where ``s`` is the draw's IDP return hazard (including facilitation) and
    ``s_ref`` the median of ``Rates.idp_return``.
    """

    enabled: bool
    elasticity: Distribution

    def __post_init__(self) -> None:
        _nonnegative(self.elasticity, "elasticity")


@dataclass(frozen=True)
class FacilitatedReturns:
    """Lever 6: facilitated returns once conditions hold (off by default).

    From ``start_month`` (inclusive) the IDP and refugee return hazards are
    multiplied by the sampled multipliers.
    """

    enabled: bool
    start_month: str
    idp_return_multiplier: Distribution
    refugee_return_multiplier: Distribution

    def __post_init__(self) -> None:
        month_index(self.start_month, key="start_month")
        _nonnegative(self.idp_return_multiplier, "idp_return_multiplier")
        _nonnegative(self.refugee_return_multiplier, "refugee_return_multiplier")


@dataclass(frozen=True)
class NeedsMapping:
    """How simulated stocks become people in need (persons).

    In Ukraine: ``PIN = idp_ratio * IDPs + returnee_ratio * returnees +
    r_nd * non_displaced``, with ``r_nd`` chosen so that the initial state gives
    ``people_in_need_ukraine``. In each host: ``PIN = k * refugees`` with one
    ``k`` for all hosts, chosen so the 11 hosts together give
    ``people_in_need_neighbouring`` at the initial state. Yearly values are the
    mean (``aggregate = "mean"``) or the maximum (``"max"``) of month-end values.
    """

    people_in_need_ukraine: float
    people_in_need_neighbouring: float
    idp_ratio: float
    returnee_ratio: float
    aggregate: Literal["mean", "max"]

    def __post_init__(self) -> None:
        for name in ("people_in_need_ukraine", "people_in_need_neighbouring"):
            if not getattr(self, name) >= 0:
                raise AssumptionError("must not be negative", key=name)
        for name in ("idp_ratio", "returnee_ratio"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise AssumptionError("must lie within [0, 1]", key=name)
        if self.aggregate not in ("mean", "max"):
            raise AssumptionError("must be 'mean' or 'max'", key="aggregate")


@dataclass(frozen=True)
class SimulationAssumptions:
    """Every assumption of one simulation, as loaded from one scenario file."""

    rates: Rates
    surges: Surges
    occupied_areas: OccupiedAreas
    pendular: Pendular
    temporary_protection: TemporaryProtection
    coupling: Coupling
    facilitated_returns: FacilitatedReturns
    needs: NeedsMapping
    source: str = "<in memory>"
    source_sha256: str = ""


@dataclass(frozen=True)
class InitialState:
    """Stocks at the end of the start month (persons).

    Attributes
    ----------
    month : pandas.Period
        The month the stocks describe.
    idps, returnees, non_displaced : float
        Stocks in Ukraine.
    refugees : tuple of float
        Refugees per location of ``REFUGEE_LOCATIONS`` (11 hosts, then XEU).

    """

    month: pd.Period
    idps: float
    returnees: float
    non_displaced: float
    refugees: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.refugees) != _N_REF:
            raise AssumptionError(
                f"need {_N_REF} refugee stocks ({', '.join(REFUGEE_LOCATIONS)}), "
                f"got {len(self.refugees)}",
                key="refugees",
            )
        values = [self.idps, self.returnees, self.non_displaced, *self.refugees]
        if any(not (math.isfinite(v) and v >= 0) for v in values):
            raise AssumptionError("stocks must be finite and non-negative")

    @property
    def refugee_vector(self) -> FloatArray:
        """Refugee stocks as an array, shape (12,), persons."""
        return np.asarray(self.refugees, dtype=float)

    @property
    def total(self) -> float:
        """Everyone the model follows, persons."""
        return self.idps + self.returnees + self.non_displaced + float(sum(self.refugees))

    def destination_shares(self) -> FloatArray:
        """Shares of new cross-border departures per refugee location, shape (12,).

        Proportional to the initial refugee stocks: people leave where their
        networks already are.
        """
        stocks = self.refugee_vector
        total = stocks.sum()
        if total <= 0:
            return np.full(_N_REF, 1.0 / _N_REF)
        return stocks / total


# --------------------------------------------------------------------------- result types


@dataclass(frozen=True)
class SimulationResult:
    """Simulated stocks (persons) labelled by draw, month and location.

    Attributes
    ----------
    months : pandas.PeriodIndex
        Month-end labels, length ``T = months + 1``; ``months[0]`` is the start.
    idps, returnees, non_displaced, beyond_europe : numpy.ndarray
        Shape ``(draws, T)``, persons.
    refugees : numpy.ndarray
        Shape ``(draws, T, 12)`` over ``REFUGEE_LOCATIONS``, persons.
    flows : Mapping[str, numpy.ndarray]
        Monthly flows in persons, shape ``(draws, T - 1)`` or
        ``(draws, T - 1, 12)``; entry ``m`` is the flow during ``months[m + 1]``.
        Empty when flows were not recorded.
    initial : InitialState
        The state the run started from (before any burn-in to ``months[0]``).
    assumptions : SimulationAssumptions
    seed : int or None
        The integer seed when one was given.

    """

    months: pd.PeriodIndex
    idps: FloatArray
    returnees: FloatArray
    non_displaced: FloatArray
    beyond_europe: FloatArray
    refugees: FloatArray
    flows: Mapping[str, FloatArray]
    initial: InitialState
    assumptions: SimulationAssumptions
    seed: int | None = None

    @property
    def draws(self) -> int:
        """Number of draws."""
        return int(self.idps.shape[0])

    def series(self, name: str) -> FloatArray:
        """Return a series as ``(draws, T, locations)``.

        ``idps`` and ``returnees`` have one location (UKR); ``refugees`` has 12.
        """
        if name == "idps":
            return self.idps[:, :, None]
        if name == "returnees":
            return self.returnees[:, :, None]
        if name == "refugees":
            return self.refugees
        raise KeyError(f"unknown series {name!r}; expected one of {SERIES}")

    @staticmethod
    def series_locations(name: str) -> pd.Index:
        """Location labels of a series."""
        if name == "refugees":
            return REFUGEE_LOCATIONS
        return pd.Index(["UKR"], name="location_code")

    def to_frame(self) -> pd.DataFrame:
        """Long table with columns ``draw, month, series, location_code, value`` (persons)."""
        frames = []
        labels = self.months.strftime("%Y-%m")
        for name in SERIES:
            values = self.series(name)
            draws, steps, locations = values.shape
            loc_labels = self.series_locations(name)
            frames.append(
                pd.DataFrame(
                    {
                        "draw": np.repeat(np.arange(draws), steps * locations),
                        "month": np.tile(np.repeat(labels, locations), draws),
                        "series": name,
                        "location_code": np.tile(np.asarray(loc_labels), draws * steps),
                        "value": values.reshape(-1),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class NeedsTable:
    """People in need per draw, location and year (persons).

    Attributes
    ----------
    values : numpy.ndarray
        Shape ``(draws, locations, years)``.
    locations : pandas.Index
        ``NEEDS_LOCATIONS`` (UKR and the 11 hosts).
    years : pandas.Index
        Calendar years covered by the simulated months.

    """

    values: FloatArray
    locations: pd.Index
    years: pd.Index

    def to_frame(self) -> pd.DataFrame:
        """Long table with columns ``draw, location_code, region, year, people_in_need``."""
        draws, n_loc, n_years = self.values.shape
        codes = np.asarray(self.locations)
        return pd.DataFrame(
            {
                "draw": np.repeat(np.arange(draws), n_loc * n_years),
                "location_code": np.tile(np.repeat(codes, n_years), draws),
                "region": np.tile(
                    np.repeat(np.where(codes == "UKR", "ukraine", "neighbouring"), n_years),
                    draws,
                ),
                "year": np.tile(np.asarray(self.years), draws * n_loc),
                "people_in_need": self.values.reshape(-1),
            }
        )


# --------------------------------------------------------------------------- sampling


@dataclass
class _DrawInputs:
    """Per-draw parameters ``(n,)`` and per-month events ``(n, months)``."""

    internal: FloatArray
    cross_border: FloatArray
    idp_return: FloatArray
    refugee_return: FloatArray
    lapse: FloatArray
    onward_xeu: FloatArray
    beyond: FloatArray
    volatility: FloatArray
    surge_probability: FloatArray
    surge_internal_share: FloatArray
    non_returnable: FloatArray
    baltic_probability: FloatArray
    redisplacement: FloatArray
    redeparture: FloatArray
    tp_return_multiplier: FloatArray
    tp_onward_multiplier: FloatArray
    tp_uniform: FloatArray
    elasticity: FloatArray
    facilitated_idp: FloatArray
    facilitated_refugee: FloatArray
    surge_uniform: FloatArray
    surge_size: FloatArray
    baltic_uniform: FloatArray
    baltic_size: FloatArray
    noise_displacement: FloatArray
    noise_return: FloatArray

    @classmethod
    def concatenate(cls, parts: list[_DrawInputs]) -> _DrawInputs:
        names = cls.__dataclass_fields__
        return cls(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in names})

    def head(self, n: int) -> _DrawInputs:
        names = type(self).__dataclass_fields__
        return type(self)(**{k: getattr(self, k)[:n] for k in names})


def _sample_block(
    a: SimulationAssumptions, rng: np.random.Generator, n: int, months: int
) -> _DrawInputs:
    """Sample one block of draws. Every lever is sampled, switched on or not.

    Sampling whether or not a lever is enabled, each quantity from its own
    child stream, keeps common random numbers: the same seed gives the same
    parameters and events for every other lever, so switching or changing one
    lever changes only what that lever does.
    """
    r, s, o, p = a.rates, a.surges, a.occupied_areas, a.pendular
    t, c, f = a.temporary_protection, a.coupling, a.facilitated_returns
    per_draw = (n,)
    per_month = (n, months)
    def dist(d: Distribution, size: tuple[int, ...]) -> Callable[[np.random.Generator], FloatArray]:
        return lambda g: d.sample(g, size)

    def uniform(size: tuple[int, ...]) -> Callable[[np.random.Generator], FloatArray]:
        return lambda g: g.uniform(0.0, 1.0, size)

    def normal(size: tuple[int, ...]) -> Callable[[np.random.Generator], FloatArray]:
        return lambda g: g.standard_normal(size)

    plan: dict[str, Callable[[np.random.Generator], FloatArray]] = {
        "internal": dist(r.internal_displacement, per_draw),
        "cross_border": dist(r.cross_border_displacement, per_draw),
        "idp_return": dist(r.idp_return, per_draw),
        "refugee_return": dist(r.refugee_return, per_draw),
        "lapse": dist(r.returnee_lapse, per_draw),
        "onward_xeu": dist(r.onward_to_rest_of_europe, per_draw),
        "beyond": dist(r.onward_beyond_europe, per_draw),
        "volatility": dist(r.volatility, per_draw),
        "surge_probability": dist(s.monthly_probability, per_draw),
        "surge_internal_share": dist(s.internal_share, per_draw),
        "non_returnable": dist(o.non_returnable_idp_share, per_draw),
        "baltic_probability": dist(o.baltic_push_probability, per_draw),
        "redisplacement": dist(p.redisplacement, per_draw),
        "redeparture": dist(p.redeparture, per_draw),
        "tp_return_multiplier": dist(t.return_multiplier, per_draw),
        "tp_onward_multiplier": dist(t.onward_multiplier, per_draw),
        "tp_uniform": uniform(per_draw),
        "elasticity": dist(c.elasticity, per_draw),
        "facilitated_idp": dist(f.idp_return_multiplier, per_draw),
        "facilitated_refugee": dist(f.refugee_return_multiplier, per_draw),
        "surge_uniform": uniform(per_month),
        "surge_size": dist(s.size, per_month),
        "baltic_uniform": uniform(per_month),
        "baltic_size": dist(o.baltic_push_size, per_month),
        "noise_displacement": normal(per_month),
        "noise_return": normal(per_month),
    }
    # One child stream per quantity: replacing one distribution (say by a fixed
    # value, which draws nothing) leaves every other quantity's numbers unchanged.
    streams = rng.spawn(len(plan))
    values = {
        name: draw(stream) for (name, draw), stream in zip(plan.items(), streams, strict=True)
    }
    return _DrawInputs(**values)


def _sample_draws(
    a: SimulationAssumptions, seed: Seed, draws: int, months: int
) -> _DrawInputs:
    """Sample ``draws`` draws in blocks of ``DRAW_BLOCK``, one child stream per block.

    Draw ``d`` comes from block ``d // DRAW_BLOCK`` whose stream is the
    ``d // DRAW_BLOCK``-th child of the seed, so a run with more draws extends
    a run with fewer draws and chunking never changes a draw.
    """
    rng = as_generator(seed)
    n_blocks = -(-draws // DRAW_BLOCK)
    children = rng.spawn(n_blocks)
    parts = [_sample_block(a, child, DRAW_BLOCK, months) for child in children]
    return _DrawInputs.concatenate(parts).head(draws)


# --------------------------------------------------------------------------- core


@dataclass
class _Stocks:
    non_displaced: FloatArray
    idps: FloatArray
    returnees: FloatArray
    refugees: FloatArray
    beyond: FloatArray


_FLOW_SHAPES: dict[str, bool] = {
    # name -> per refugee location?
    "new_idps": False,
    "new_refugees": True,
    "surge": False,
    "baltic_push": False,
    "idp_returns": False,
    "refugee_returns": True,
    "returnee_lapse": False,
    "redisplaced": False,
    "redeparted": True,
    "onward_to_rest_of_europe": True,
    "onward_beyond_europe": True,
}


def _split(stock: FloatArray, hazards: list[FloatArray]) -> list[FloatArray]:
    """Split the monthly outflow of a stock among competing hazards.

    With total hazard ``H = sum(h_k)`` the stock loses ``stock * (1 - exp(-H))``
    in the month, shared in proportion ``h_k / H``; the outflow never exceeds
    the stock.
    """
    total = hazards[0].copy()
    for h in hazards[1:]:
        total = total + h
    leaving = stock * -np.expm1(-total)
    safe = np.where(total > 0, total, 1.0)
    return [leaving * (h / safe) for h in hazards]


def _integrate(
    a: SimulationAssumptions,
    inputs: _DrawInputs,
    initial: InitialState,
    calendar: pd.PeriodIndex,
    record_flows: bool,
) -> tuple[dict[str, FloatArray], dict[str, FloatArray]]:
    """Run the monthly stock-flow recursion for a set of draws.

    Parameters
    ----------
    a : SimulationAssumptions
        Lever switches and dated events.
    inputs : _DrawInputs
        Sampled parameters ``(n,)`` and events ``(n, M)``.
    initial : InitialState
        Stocks at ``calendar[0]``.
    record_flows : bool
        Whether to return the monthly flows.
    calendar : pandas.PeriodIndex
        Month-end labels including the initial month, length ``M + 1``.

    Returns
    -------
    stocks : dict
        ``non_displaced, idps, returnees, beyond_europe`` of shape ``(n, M + 1)``
        and ``refugees`` of shape ``(n, M + 1, 12)``.
    flows : dict
        Monthly flows (persons) of shape ``(n, M)`` or ``(n, M, 12)``.

    """
    n = inputs.internal.shape[0]
    months = len(calendar) - 1
    dest = initial.destination_shares()
    baltic = a.occupied_areas.share_vector()
    tp_mask = a.temporary_protection.mask()
    host_mask = np.ones(_N_REF)
    host_mask[_XEU] = 0.0

    # Lever switches as 0/1 factors; the sampled numbers are used only where on.
    pendular_on = 1.0 if a.pendular.enabled else 0.0
    access_factor = (
        1.0 - inputs.non_returnable if a.occupied_areas.enabled else np.ones(n)
    )
    baltic_on = a.occupied_areas.enabled
    surge_on = a.surges.enabled
    labels = calendar[1:]
    facilitated = np.zeros(months, dtype=bool)
    if a.facilitated_returns.enabled:
        facilitated = np.asarray(labels >= month_index(a.facilitated_returns.start_month))
    tp_after = np.zeros(months, dtype=bool)
    tp_draw = np.zeros(n, dtype=bool)
    if a.temporary_protection.scenario == "ended":
        tp_after = np.asarray(labels >= month_index(a.temporary_protection.end_month))
        tp_draw = inputs.tp_uniform < a.temporary_protection.probability
    idp_reference = a.rates.idp_return.median()

    vol = inputs.volatility[:, None]
    noise_d = np.exp(vol * inputs.noise_displacement - 0.5 * vol**2)
    noise_r = np.exp(vol * inputs.noise_return - 0.5 * vol**2)
    surge_occurs = surge_on & (inputs.surge_uniform < inputs.surge_probability[:, None])
    surge = np.where(surge_occurs, inputs.surge_size, 0.0)
    push_occurs = baltic_on & (inputs.baltic_uniform < inputs.baltic_probability[:, None])
    push = np.where(push_occurs, inputs.baltic_size, 0.0)

    s = _Stocks(
        non_displaced=np.full(n, initial.non_displaced),
        idps=np.full(n, initial.idps),
        returnees=np.full(n, initial.returnees),
        refugees=np.tile(initial.refugee_vector, (n, 1)),
        beyond=np.zeros(n),
    )
    out = {
        "non_displaced": np.empty((n, months + 1)),
        "idps": np.empty((n, months + 1)),
        "returnees": np.empty((n, months + 1)),
        "beyond_europe": np.empty((n, months + 1)),
        "refugees": np.empty((n, months + 1, _N_REF)),
    }
    flows: dict[str, FloatArray] = {}
    if record_flows:
        for name, per_location in _FLOW_SHAPES.items():
            flows[name] = np.empty((n, months, _N_REF) if per_location else (n, months))

    def record(m: int) -> None:
        out["non_displaced"][:, m] = s.non_displaced
        out["idps"][:, m] = s.idps
        out["returnees"][:, m] = s.returnees
        out["beyond_europe"][:, m] = s.beyond
        out["refugees"][:, m] = s.refugees

    record(0)
    for m in range(months):
        nd_, rd_ = noise_d[:, m], noise_r[:, m]
        fac_idp = np.where(facilitated[m], inputs.facilitated_idp, 1.0)
        fac_ref = np.where(facilitated[m], inputs.facilitated_refugee, 1.0)
        tp_now = (tp_draw & tp_after[m])[:, None] * tp_mask[None, :]
        tp_return = 1.0 + tp_now * (inputs.tp_return_multiplier[:, None] - 1.0)
        tp_onward = 1.0 + tp_now * (inputs.tp_onward_multiplier[:, None] - 1.0)

        # Non-displaced residents: displacement hazards, then surge and Baltic push.
        to_idp, to_abroad = _split(
            s.non_displaced, [inputs.internal * nd_, inputs.cross_border * nd_]
        )
        room = s.non_displaced - to_idp - to_abroad
        surge_m = np.minimum(surge[:, m], room)
        push_m = np.minimum(push[:, m], room - surge_m)
        surge_internal = surge_m * inputs.surge_internal_share
        new_idps = to_idp + surge_internal
        new_refugees = (to_abroad + surge_m - surge_internal)[:, None] * dest[None, :]
        new_refugees = new_refugees + push_m[:, None] * baltic[None, :]

        # IDPs: only those from accessible areas are exposed to return.
        idp_hazard = inputs.idp_return * fac_idp
        (idp_returns,) = _split(s.idps, [idp_hazard * access_factor * rd_])

        # Returnees: status lapses, re-displacement, re-departure abroad.
        lapse, redisplaced, redeparted = _split(
            s.returnees,
            [
                inputs.lapse,
                pendular_on * inputs.redisplacement * nd_,
                pendular_on * inputs.redeparture * nd_,
            ],
        )
        redeparted_loc = redeparted[:, None] * dest[None, :]

        # Refugees: return (coupled to IDP return success), onward moves.
        coupling = np.ones(n)
        if a.coupling.enabled and idp_reference > 0:
            coupling = (idp_hazard / idp_reference) ** inputs.elasticity
        return_hazard = (
            (inputs.refugee_return * rd_ * coupling * fac_ref)[:, None] * tp_return
        )
        onward_hazard = inputs.onward_xeu[:, None] * host_mask[None, :] * np.ones((n, 1))
        beyond_hazard = inputs.beyond[:, None] * tp_onward
        returns, onward, beyond = _split(s.refugees, [return_hazard, onward_hazard, beyond_hazard])
        onward_in = np.zeros_like(onward)
        onward_in[:, _XEU] = onward.sum(axis=1)

        s.non_displaced = s.non_displaced - to_idp - to_abroad - surge_m - push_m + lapse
        s.idps = s.idps + new_idps - idp_returns + redisplaced
        s.returnees = (
            s.returnees + idp_returns + returns.sum(axis=1) - lapse - redisplaced - redeparted
        )
        s.refugees = (
            s.refugees + new_refugees + redeparted_loc - returns - onward + onward_in - beyond
        )
        s.beyond = s.beyond + beyond.sum(axis=1)
        record(m + 1)

        if record_flows:
            flows["new_idps"][:, m] = new_idps
            flows["new_refugees"][:, m] = new_refugees
            flows["surge"][:, m] = surge_m
            flows["baltic_push"][:, m] = push_m
            flows["idp_returns"][:, m] = idp_returns
            flows["refugee_returns"][:, m] = returns
            flows["returnee_lapse"][:, m] = lapse
            flows["redisplaced"][:, m] = redisplaced
            flows["redeparted"][:, m] = redeparted_loc
            flows["onward_to_rest_of_europe"][:, m] = onward
            flows["onward_beyond_europe"][:, m] = beyond
    return out, flows


def simulate(
    assumptions: SimulationAssumptions,
    initial: InitialState,
    *,
    draws: int,
    seed: Seed,
    start: str | pd.Period | None = None,
    months: int = 36,
    chunk_draws: int = 4 * DRAW_BLOCK,
    record_flows: bool = True,
    progress: Callable[[int], None] | None = None,
) -> SimulationResult:
    """Simulate displacement and return stocks month by month across draws.

    Parameters
    ----------
    assumptions : SimulationAssumptions
        Rates, levers and their uncertainty.
    initial : InitialState
        Stocks at the end of ``initial.month``.
    draws : int
        Number of Monte Carlo draws (>= 1).
    seed : int, numpy.random.Generator or None
        Same integer seed, same arrays.
    start : str or pandas.Period, optional
        First month of the reported window (``YYYY-MM``), not before
        ``initial.month``; months between the initial state and ``start`` are
        simulated and dropped. Defaults to ``initial.month``.
    months : int
        Months simulated after ``start`` (the result has ``months + 1`` month-ends).
    chunk_draws : int
        Draws integrated at once (memory bound); rounded up to a multiple of
        ``DRAW_BLOCK``. Results do not depend on it.
    record_flows : bool
        Keep the monthly flows in the result (memory: about ``5 * draws *
        months * 12 * 8`` bytes).
    progress : callable, optional
        Called with the number of draws completed after each chunk.

    Returns
    -------
    SimulationResult
        Stocks shaped ``(draws, months + 1[, 12])``, persons.

    """
    if draws < 1:
        raise AssumptionError(f"need at least one draw, got {draws}", key="draws")
    if months < 1:
        raise AssumptionError(f"need at least one month, got {months}", key="months")
    start_period = initial.month if start is None else month_index(start, key="start")
    burn_in = (start_period - initial.month).n
    if burn_in < 0:
        raise AssumptionError(
            f"start {start_period} is before the initial state ({initial.month})", key="start"
        )
    total = burn_in + months
    calendar = pd.period_range(initial.month, periods=total + 1, freq="M")
    inputs = _sample_draws(assumptions, seed, draws, total)

    chunk = max(DRAW_BLOCK, -(-chunk_draws // DRAW_BLOCK) * DRAW_BLOCK)
    stock_parts: list[dict[str, FloatArray]] = []
    flow_parts: list[dict[str, FloatArray]] = []
    done = 0
    for begin in range(0, draws, chunk):
        end = min(draws, begin + chunk)
        part = _DrawInputs(
            **{k: getattr(inputs, k)[begin:end] for k in _DrawInputs.__dataclass_fields__}
        )
        stocks, flows = _integrate(assumptions, part, initial, calendar, record_flows)
        stock_parts.append(stocks)
        flow_parts.append(flows)
        done = end
        if progress is not None:
            progress(done)

    def join(parts: list[dict[str, FloatArray]], key: str) -> FloatArray:
        return parts[0][key] if len(parts) == 1 else np.concatenate([p[key] for p in parts])

    window = slice(burn_in, None)
    flows_joined = {
        k: join(flow_parts, k)[:, burn_in:] for k in (flow_parts[0] if record_flows else {})
    }
    for array in flows_joined.values():
        array.flags.writeable = False
    stocks_joined = {k: join(stock_parts, k)[:, window] for k in stock_parts[0]}
    for array in stocks_joined.values():
        array.flags.writeable = False
    return SimulationResult(
        months=calendar[burn_in:],
        idps=stocks_joined["idps"],
        returnees=stocks_joined["returnees"],
        non_displaced=stocks_joined["non_displaced"],
        beyond_europe=stocks_joined["beyond_europe"],
        refugees=stocks_joined["refugees"],
        flows=MappingProxyType(flows_joined),
        initial=initial,
        assumptions=assumptions,
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
    )


def total_population(result: SimulationResult) -> FloatArray:
    """Sum of every stock including the outside accumulators, shape ``(draws, T)``.

    Equal to ``result.initial.total`` in every draw and month (conservation).
    """
    return (
        result.non_displaced
        + result.idps
        + result.returnees
        + result.refugees.sum(axis=2)
        + result.beyond_europe
    )


# --------------------------------------------------------------------------- summaries and needs


def percentile_table(result: SimulationResult) -> pd.DataFrame:
    """Percentiles across draws per series, location and month.

    Returns
    -------
    pandas.DataFrame
        Columns ``PERCENTILE_COLUMNS``; one row per series (``idps``,
        ``returnees``, ``refugees``), location and month; values in persons.
        Percentiles use linear interpolation, so ``p05 <= p10 <= p50 <= p90 <= p95``.

    """
    labels = np.asarray(result.months.strftime("%Y-%m"))
    frames = []
    for name in SERIES:
        values = result.series(name)  # (draws, T, L)
        q = np.percentile(values, [5, 10, 50, 90, 95], axis=0)  # (5, T, L)
        mean = values.mean(axis=0)
        locations = np.asarray(result.series_locations(name))
        steps, n_loc = mean.shape
        frame = pd.DataFrame(
            {
                "series": name,
                "location_code": np.tile(locations, steps),
                "month": np.repeat(labels, n_loc),
                "p05": q[0].reshape(-1),
                "p10": q[1].reshape(-1),
                "p50": q[2].reshape(-1),
                "p90": q[3].reshape(-1),
                "p95": q[4].reshape(-1),
                "mean": mean.reshape(-1),
            }
        )
        frames.append(frame.sort_values(["location_code", "month"], kind="stable"))
    return pd.concat(frames, ignore_index=True)[list(PERCENTILE_COLUMNS)]


def _needs_ratios(initial: InitialState, needs: NeedsMapping) -> tuple[float, float]:
    """Return ``(r_nd, k)``: the non-displaced ratio in Ukraine and the host ratio."""
    displaced_in_need = needs.idp_ratio * initial.idps + needs.returnee_ratio * initial.returnees
    residual = needs.people_in_need_ukraine - displaced_in_need
    if initial.non_displaced > 0:
        r_nd = residual / initial.non_displaced
    else:
        r_nd = 0.0
    if not 0.0 <= r_nd <= 1.0:
        raise AssumptionError(
            f"people in need in Ukraine ({needs.people_in_need_ukraine:,.0f}) cannot be met "
            f"by IDPs and returnees in need ({displaced_in_need:,.0f}) plus a share of the "
            f"{initial.non_displaced:,.0f} non-displaced residents",
            key="needs.people_in_need_ukraine",
        )
    hosts = initial.refugee_vector[: len(HOST_CODES)].sum()
    k = needs.people_in_need_neighbouring / hosts if hosts > 0 else 0.0
    return float(r_nd), float(k)


def people_in_need(result: SimulationResult, needs: NeedsMapping | None = None) -> FloatArray:
    """People in need at each month-end, shape ``(draws, T, 12)`` over ``NEEDS_LOCATIONS``.

    Ukraine: ``idp_ratio * IDPs + returnee_ratio * returnees + r_nd *
    non_displaced``; hosts: ``k * refugees``. ``r_nd`` and ``k`` are anchored on
    the initial state (see :class:`NeedsMapping`). Persons.
    """
    needs = result.assumptions.needs if needs is None else needs
    r_nd, k = _needs_ratios(result.initial, needs)
    ukraine = (
        needs.idp_ratio * result.idps
        + needs.returnee_ratio * result.returnees
        + r_nd * result.non_displaced
    )
    hosts = k * result.refugees[:, :, : len(HOST_CODES)]
    return np.concatenate([ukraine[:, :, None], hosts], axis=2)


def needs_per_draw(result: SimulationResult, needs: NeedsMapping | None = None) -> NeedsTable:
    """People in need per draw, location and calendar year.

    The year's value aggregates the month-end values of the simulated months
    in that year (``months[1:]``; the start month is the known initial state),
    by mean or maximum as ``needs.aggregate`` says.

    Returns
    -------
    NeedsTable
        Values shaped ``(draws, 12, years)``, persons.

    """
    needs = result.assumptions.needs if needs is None else needs
    monthly = people_in_need(result, needs)[:, 1:, :]
    years_of_month = np.asarray(result.months[1:].year)
    years = pd.Index(sorted(set(years_of_month.tolist())), name="year")
    reduce = np.mean if needs.aggregate == "mean" else np.max
    values = np.stack(
        [reduce(monthly[:, years_of_month == y, :], axis=1) for y in years], axis=2
    )
    return NeedsTable(values=values, locations=NEEDS_LOCATIONS, years=years)

