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

from reachplan.model.simulation.coords import UKRAINE, month_index
from reachplan.model.simulation.distributions import Distribution, _nonnegative, _unit_interval
from reachplan.model.simulation.errors import AssumptionError
from reachplan.model.simulation.geography import Geography
from reachplan.model.simulation.needs_input import NeedsInput

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
    to Estonia, Latvia and Lithuania in ``baltic_shares``. Empty
    ``baltic_shares`` (the default): the geography's ``route_shares``; the codes
    are checked against the geography when the simulation runs.
    """

    enabled: bool
    non_returnable_idp_share: Distribution
    baltic_push_probability: Distribution
    baltic_push_size: Distribution
    baltic_shares: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        _unit_interval(self.non_returnable_idp_share, "non_returnable_idp_share")
        _unit_interval(self.baltic_push_probability, "baltic_push_probability")
        _nonnegative(self.baltic_push_size, "baltic_push_size")
        shares = [share for _, share in self.baltic_shares]
        if shares and (
            any(share < 0 for share in shares)
            or not math.isclose(sum(shares), 1.0, abs_tol=1e-9)
        ):
            raise AssumptionError("shares must be non-negative and sum to 1", key="baltic_shares")

    def share_vector(self, geography: Geography = UKRAINE) -> FloatArray:
        """Route shares as a vector over the geography's refugee locations.

        ``baltic_shares`` when given, else the geography's ``route_shares``; all zero
        when neither names a host (no route: pushes move no one).
        """
        shares = self.baltic_shares or geography.route_shares
        return geography.location_vector(shares, key="baltic_shares")


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
    ``onward_multiplier``. Empty ``applies_to`` (the default): the geography's
    ``protection`` locations; codes are checked against the geography when the
    simulation runs.
    """

    scenario: Literal["extended", "ended"]
    end_month: str
    probability: float
    return_multiplier: Distribution
    onward_multiplier: Distribution
    applies_to: tuple[str, ...] = ()

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

    def mask(self, geography: Geography = UKRAINE) -> FloatArray:
        """1.0 where temporary protection applies, over the geography's refugee locations."""
        return geography.mask(self.applies_to or geography.protection)


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
    """Every assumption of one simulation, as loaded from one scenario file.

    Where a run's people in need come from (the needs source):

    * ``needs_file`` set: the planner's table of people in need per draw, location
      and year (``needs_input``, read from it), used as is; ``model`` is then not used;
    * else ``model = "displacement"`` (the default): the displacement simulation,
      over ``geography`` (a file; empty: the shipped Ukraine geography) from its
      initial state ``initial_state`` (read with the geography; ``None``: the run's);
    * else ``model = "none"``: the plan's people in need, fixed (nothing is simulated).

    ``needs_file`` and ``geography`` are stored as absolute paths (resolved against the
    scenario file that names them).
    """

    rates: Rates
    surges: Surges
    occupied_areas: OccupiedAreas
    pendular: Pendular
    temporary_protection: TemporaryProtection
    coupling: Coupling
    facilitated_returns: FacilitatedReturns
    needs: NeedsMapping
    model: Literal["displacement", "none"] = "displacement"
    needs_file: str = ""
    geography: str = ""
    source: str = "<in memory>"
    source_sha256: str = ""
    initial_state: InitialState | None = None
    needs_input: NeedsInput | None = None

    @property
    def source_kind(self) -> Literal["displacement", "none", "file"]:
        """``"file"`` (a needs file), ``"none"`` (fixed) or ``"displacement"``."""
        if self.needs_input is not None or self.needs_file:
            return "file"
        return self.model


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
        Refugees per refugee location of ``geography`` (its hosts, then its sink).
    geography : Geography
        The locations the stocks are in (default: the shipped Ukraine geography,
        :data:`model.simulation.coords.UKRAINE`).

    """

    month: pd.Period
    idps: float
    returnees: float
    non_displaced: float
    refugees: tuple[float, ...]
    geography: Geography = UKRAINE

    def __post_init__(self) -> None:
        locations = self.geography.refugee_locations
        if len(self.refugees) != len(locations):
            raise AssumptionError(
                f"need {len(locations)} refugee stocks ({', '.join(locations)}), "
                f"got {len(self.refugees)}",
                key="refugees",
            )
        values = [self.idps, self.returnees, self.non_displaced, *self.refugees]
        if any(not (math.isfinite(v) and v >= 0) for v in values):
            raise AssumptionError("stocks must be finite and non-negative")

    @property
    def refugee_vector(self) -> FloatArray:
        """Refugee stocks as an array over the refugee locations, persons."""
        return np.asarray(self.refugees, dtype=float)

    @property
    def total(self) -> float:
        """Everyone the model follows, persons."""
        return self.idps + self.returnees + self.non_displaced + float(sum(self.refugees))

    def destination_shares(self) -> FloatArray:
        """Shares of new cross-border departures per refugee location.

        Proportional to the initial refugee stocks: people leave where their
        networks already are.
        """
        stocks = self.refugee_vector
        total = stocks.sum()
        if total <= 0:
            return np.full(len(stocks), 1.0 / len(stocks))
        return stocks / total
