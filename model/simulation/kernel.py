"""The integration kernel: the monthly stock-flow recursion and :func:`simulate`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeAlias

import numpy as np
import pandas as pd

from reachplan.model.simulation.assumptions import InitialState, SimulationAssumptions
from reachplan.model.simulation.coords import month_index
from reachplan.model.simulation.errors import AssumptionError
from reachplan.model.simulation.geography import Geography
from reachplan.model.simulation.results import SimulationResult
from reachplan.model.simulation.sampling import _DrawInputs, sample_draws
from reachplan.model.simulation.streams import DRAW_BLOCK, Seed, Stream, seed_sequence

__all__ = ["simulate", "total_population"]

FloatArray: TypeAlias = np.ndarray


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
    geography: Geography,
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
    geography : Geography
        The locations: refugee arrays run over ``geography.refugee_locations``
        (``L`` of them: the hosts, then the sink).

    Returns
    -------
    stocks : dict
        ``non_displaced, idps, returnees, beyond_europe`` of shape ``(n, M + 1)``
        and ``refugees`` of shape ``(n, M + 1, L)``.
    flows : dict
        Monthly flows (persons) of shape ``(n, M)`` or ``(n, M, L)``.

    """
    n = inputs.internal.shape[0]
    months = len(calendar) - 1
    dest = initial.destination_shares()
    n_ref, sink = geography.n_refugee, geography.sink_index
    baltic = a.occupied_areas.share_vector(geography)
    tp_mask = a.temporary_protection.mask(geography)
    host_mask = np.ones(n_ref)
    host_mask[sink] = 0.0

    # Lever switches as 0/1 factors; the sampled numbers are used only where on.
    pendular_on = 1.0 if a.pendular.enabled else 0.0
    access_factor = (
        1.0 - inputs.non_returnable if a.occupied_areas.enabled else np.ones(n)
    )
    # no route in this geography: front-line pushes move no one (and leave no one)
    baltic_on = a.occupied_areas.enabled and bool(baltic.sum() > 0)
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
        "refugees": np.empty((n, months + 1, n_ref)),
    }
    flows: dict[str, FloatArray] = {}
    if record_flows:
        for name, per_location in _FLOW_SHAPES.items():
            flows[name] = np.empty((n, months, n_ref) if per_location else (n, months))

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
        onward_in[:, sink] = onward.sum(axis=1)

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
    first_draw: int = 0,
    stream: int = Stream.RUN,
) -> SimulationResult:
    """Simulate displacement and return stocks month by month across draws.

    Parameters
    ----------
    assumptions : SimulationAssumptions
        Rates, levers and their uncertainty.
    initial : InitialState
        Stocks at the end of ``initial.month``, in ``initial.geography`` (the
        locations the simulation follows).
    draws : int
        Number of Monte Carlo draws (>= 1).
    seed : int, numpy.random.Generator or None
        Same integer seed, same arrays (see :mod:`model.simulation.streams`).
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
    first_draw : int
        Index of the first draw simulated: the result holds draws
        ``[first_draw, first_draw + draws)`` of the seed's stream, identical to
        the same rows of a run that starts at draw 0.
    stream : int
        Which of the seed's streams (:class:`model.simulation.streams.Stream`);
        ``Stream.RUN`` is the stream of scenario runs.

    Returns
    -------
    SimulationResult
        Stocks shaped ``(draws, months + 1[, L])``, persons (``L`` refugee
        locations of the geography).

    Raises
    ------
    AssumptionError
        When a lever names a location the geography does not have.

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
    if first_draw < 0:
        raise AssumptionError(f"first draw must be >= 0, got {first_draw}", key="first_draw")
    root = seed_sequence(seed)
    geography = initial.geography
    # the levers' location codes must be the geography's (checked before any draw)
    for lever, check in (
        ("occupied_areas", assumptions.occupied_areas.share_vector),
        ("temporary_protection", assumptions.temporary_protection.mask),
    ):
        try:
            check(geography)
        except AssumptionError as error:
            raise error.within(file=assumptions.source, prefix=f"simulation.{lever}") from None

    chunk = max(DRAW_BLOCK, -(-chunk_draws // DRAW_BLOCK) * DRAW_BLOCK)
    stock_parts: list[dict[str, FloatArray]] = []
    flow_parts: list[dict[str, FloatArray]] = []
    done = 0
    for begin in range(0, draws, chunk):
        end = min(draws, begin + chunk)
        part: _DrawInputs = sample_draws(
            assumptions, root, first=first_draw + begin, count=end - begin, months=total,
            stream=stream,
        )
        stocks, flows = _integrate(
            assumptions, part, initial, calendar, record_flows, geography
        )
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
