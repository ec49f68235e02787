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

The package, by concern:

- :mod:`~model.simulation.errors`: :class:`AssumptionError`;
- :mod:`~model.simulation.geography`: :class:`Geography`, the locations followed
  (read from a data file; the shipped one is Ukraine and its neighbours);
- :mod:`~model.simulation.coords`: ``month_index``, the shipped geography's codes;
- :mod:`~model.simulation.needs_input`: :class:`NeedsInput`, a planner's needs file;
- :mod:`~model.simulation.distributions`: distributions of uncertain values;
- :mod:`~model.simulation.assumptions`: rates, levers, needs mapping, initial state;
- :mod:`~model.simulation.results`: :class:`SimulationResult`, :class:`NeedsTable`;
- :mod:`~model.simulation.streams`: the one random-stream scheme;
- :mod:`~model.simulation.sampling`: sampling any range of draws;
- :mod:`~model.simulation.kernel`: the monthly recursion and :func:`simulate`;
- :mod:`~model.simulation.needs`: percentiles and people in need.

The equations, every assumption and the levers are written down in
``docs/simulation.md``.
"""

from reachplan.model.simulation.assumptions import (
    Coupling,
    FacilitatedReturns,
    InitialState,
    NeedsMapping,
    OccupiedAreas,
    Pendular,
    Rates,
    SimulationAssumptions,
    Surges,
    TemporaryProtection,
)
from reachplan.model.simulation.coords import (
    BALTIC_CODES,
    EU_MEMBER_CODES,
    HOST_CODES,
    NEEDS_LOCATIONS,
    REFUGEE_LOCATIONS,
    UKRAINE,
    month_index,
)
from reachplan.model.simulation.distributions import (
    Beta,
    Distribution,
    Fixed,
    LogNormal,
    Pareto,
    Triangular,
    Uniform,
)
from reachplan.model.simulation.errors import AssumptionError
from reachplan.model.simulation.geography import Geography
from reachplan.model.simulation.kernel import simulate, total_population
from reachplan.model.simulation.needs import needs_per_draw, people_in_need, percentile_table
from reachplan.model.simulation.needs_input import NEEDS_FILE_COLUMNS, NeedsInput
from reachplan.model.simulation.results import (
    PERCENTILE_COLUMNS,
    SERIES,
    NeedsTable,
    SimulationResult,
)
from reachplan.model.simulation.sampling import sample_draws
from reachplan.model.simulation.streams import (
    DRAW_BLOCK,
    STREAMS_VERSION,
    Seed,
    Stream,
    as_generator,
    block_sequence,
    seed_sequence,
)

__all__ = [
    "BALTIC_CODES",
    "DRAW_BLOCK",
    "EU_MEMBER_CODES",
    "HOST_CODES",
    "NEEDS_FILE_COLUMNS",
    "NEEDS_LOCATIONS",
    "PERCENTILE_COLUMNS",
    "REFUGEE_LOCATIONS",
    "SERIES",
    "STREAMS_VERSION",
    "UKRAINE",
    "AssumptionError",
    "Beta",
    "Coupling",
    "Distribution",
    "FacilitatedReturns",
    "Fixed",
    "Geography",
    "InitialState",
    "LogNormal",
    "NeedsInput",
    "NeedsMapping",
    "NeedsTable",
    "OccupiedAreas",
    "Pareto",
    "Pendular",
    "Rates",
    "Seed",
    "SimulationAssumptions",
    "SimulationResult",
    "Stream",
    "Surges",
    "TemporaryProtection",
    "Triangular",
    "Uniform",
    "as_generator",
    "block_sequence",
    "month_index",
    "needs_per_draw",
    "people_in_need",
    "percentile_table",
    "sample_draws",
    "seed_sequence",
    "simulate",
    "total_population",
]
