"""Assumption types: baseline rates, the six levers, the needs mapping, the initial state.

Frozen dataclasses, validated on construction; values are distributions
(:mod:`model.simulation.distributions`) sampled once per draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd

from reachplan.model.simulation.coords import (
    _N_REF,
    BALTIC_CODES,
    REFUGEE_LOCATIONS,
    month_index,
)
from reachplan.model.simulation.distributions import Distribution, _nonnegative, _unit_interval
from reachplan.model.simulation.errors import AssumptionError

__all__ = [
    "Coupling",
    "FacilitatedReturns",
    "InitialState",
    "NeedsMapping",
    "OccupiedAreas",
    "Pendular",
    "Rates",
    "SimulationAssumptions",
    "Surges",
    "TemporaryProtection",
]

FloatArray: TypeAlias = np.ndarray


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
