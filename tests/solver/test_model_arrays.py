"""The allocation LP of the shipped plan, pinned: any change to the LP changes a digest.

``build_model`` is the one definition of the LP; it may be rewritten for speed, never
changed by accident. These tests hash what :func:`solver.matrix.lp_arrays` reads from
built models of the shipped plan (every column and row, in order, with their names,
bounds and coefficients, the objective and its sense) and the model's maps from cells
and rows to them (row records, slice/people/segment/violation columns, resizable
columns), and compare the hashes with digests frozen from the code as it was when they
were written.

A failure means the LP changed. If the change is meant (a new row, another coefficient,
new plan data), check it on its own merits, then freeze the new digests printed by the
failing assertion.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import cache

import numpy as np
import pytest

from reachplan.model.costs import CostModel
from reachplan.model.funding import (
    Amount,
    Cap,
    Envelope,
    Floor,
    FundingScenario,
    Lock,
    ObjectiveBound,
    Selector,
    Weight,
)
from reachplan.scenarios.plan_io import load_plan
from reachplan.scenarios.scenario_io import load_scenario
from reachplan.solver.matrix import LPArrays, lp_arrays
from reachplan.solver.model import AllocationLP, build_model

COST_BITS = 32
"""Significant bits of the objective coefficients that are hashed.

Every other number is hashed to the last bit: it comes from the plan's figures by
arithmetic alone, which is correctly rounded everywhere. The objective's coefficients are
hashed rounded to 32 significant bits (a relative change above about 2e-10 shows): those
of the priority objective are chord slopes of a logarithm (``numpy.log``), whose last bit
may differ between CPUs (numpy picks a vectorised implementation by instruction set).
"""


@cache
def _costs() -> CostModel:
    return CostModel.from_plan(load_plan().plan)


def _rules() -> FundingScenario:
    """A scenario that switches on the row families the shipped suite leaves out.

    Objective share bounds, locks (an amount and a share), an exclusion, a weight, a
    cap, floors per cell and per sector, per-year envelopes with carry-over; on top of
    ``heavily_earmarked`` (earmarks, floors, continuity, enablers, the priority objective).
    """
    base = load_scenario("heavily_earmarked").funding
    return replace(
        base,
        objective_bounds=(ObjectiveBound("SO1", min_share=0.2, max_share=0.7),
                          ObjectiveBound("SO3", max_share=0.3)),
        locks=(Lock("pol health", Amount("usd", 5e6),
                    Selector(location_codes=("POL",), sector_codes=("HEALTH",))),
               Lock("mda share", Amount("share", 0.5),
                    Selector(location_codes=("MDA",), years=(2025,)))),
        exclusions=(Selector(location_codes=("BGR",), sector_codes=("WASH",)),),
        weights=(Weight(2.0, Selector(sector_codes=("PROTECTION",))),),
        caps=(Cap(0.8, Selector(location_codes=("UKR",))),),
        floors=(*base.floors, Floor("cells", 0.05, Selector(objectives=("SO2",)), per="cell"),
                Floor("sect", 0.1, Selector(), per="sector")),
        envelope=Envelope(total=Amount("share", 0.6),
                          per_year=((2024, Amount("share", 0.7)), (2025, Amount("share", 0.6)),
                                    (2026, Amount("share", 0.5))),
                          carry_over=True),
    )


def _funding(name: str) -> FundingScenario:
    if name == "rules":
        return _rules()
    if name == "rules_headcount":
        return replace(_rules(), objective="headcount")
    return load_scenario(name).funding


def arrays_digest(a: LPArrays) -> str:
    """SHA-256 of the LP as arrays: names, bounds, matrix (CSR as read), objective, sense."""
    h = hashlib.sha256()
    m = a.matrix.tocsr()
    h.update(repr((m.shape, a.maximise, float(a.objective_constant))).encode())
    for values in (a.col_lower, a.col_upper, a.row_lower, a.row_upper, m.data):
        h.update(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    for positions in (m.indices, m.indptr):
        h.update(np.ascontiguousarray(positions, dtype=np.int64).tobytes())
    cost = np.asarray(a.cost, dtype=np.float64)
    mantissa, exponent = np.frexp(cost)
    h.update(np.round(mantissa * 2.0**COST_BITS).astype(np.int64).tobytes())
    h.update(exponent.astype(np.int64).tobytes())
    h.update("\0".join(a.variable_names).encode() + b"\1" + "\0".join(a.row_names).encode())
    return h.hexdigest()


def maps_digest(lp: AllocationLP) -> str:
    """SHA-256 of what callers read besides the arrays: row records and column maps."""
    names = repr((
        [repr(row) for row in lp.rows.values()],
        [[v.name for v in xs] for xs in lp.tranche_vars],
        [None if v is None else v.name for v in lp.people_vars],
        {k: [v.name for v in vs] for k, vs in lp.violations.items()},
        [(g.spec, g.scale, [z.name for z in g.segments]) for g in lp.groups],
        [(v.name, where) for v, where in lp.resizable],
        [v.name for v in lp.variables],
        lp.units, lp.funding_usd, lp.envelope_by_year,
    ))
    h = hashlib.sha256(names.encode())
    h.update(np.ascontiguousarray(lp.objective_coef, dtype=np.float64).tobytes())
    return h.hexdigest()


# (scenario, elastic): (arrays digest, maps digest), frozen from the shipped plan and the
# build as they were when this test was written (plain shortfall_60 model: 8,001 columns,
# 2,369 rows, 35,846 nonzeros)
FROZEN: dict[tuple[str, bool], tuple[str, str]] = {
    ("shortfall_60", False): (
        "93e410a75ca712e6ad1c44601b4372a099ee439967ccd0f0733741df7631e2f5",
        "75653d982225a60b7f98394391d936a85668c89d7a5300a3b7693094da034d1d"),
    ("shortfall_60", True): (
        "ea56b646be70e5c3851c729f1bc94f8467b7f09fdcd5d7ad5bf21478252a427b",
        "42db3b2514f57fb4f4ee3b48a43e937a2c19948a4f879a4f62ac8bcc0ffe2aab"),
    ("front_loaded", False): (
        "743476c383f4713dfa38d9a603f20bb5c1024defa1ae64eb757d7a0bea91379c",
        "e2901053a653a78f7e4d7bc9d13c9ceca104287145c5ea365ddcf098257e3135"),
    ("heavily_earmarked", False): (
        "1be540a2988487930507c6d84073353399b514eec850b823c478b7a0e3c94a89",
        "7e9390c4f80878f67265de7b728850d938b7d8532a0c05d7a33328553dfdf5f6"),
    ("heavily_earmarked", True): (
        "4e16b553d97281eceba5297f6397bec76ca2c5f5af0ea2914ad7db63bfec920f",
        "6b4f25881cb251a4fcaffb425dd59669f9c89ce0c8479dddd93a2182ab6a649b"),
    ("rules", False): (
        "164218fe971ecdea18f3e08b6c2dc1f1b7023932cf216e77fbad16230f40e0cd",
        "cb421378269b3e04d79691feab702ced762daeb921e629f50685423d42db3f52"),
    ("rules", True): (
        "8f04347218d3b27af6e6cf9cca3680c1bf96f471fb7b5db12174134434241b9b",
        "0f4174362b4730152685604ae3d91535b11cc0fbaeb610a8e4a6b4faa26a0d3e"),
    ("rules_headcount", False): (
        "0a17b002063159d6adf9d42ea71e6a5dbbb85dbf0ed128ef31cbdc2039e28fcb",
        "7b48fbba07f0e8176474a69cf0cc853ada5e6dc8b584a843f108bdaee0bc0b00"),
}


@pytest.mark.parametrize(("name", "elastic"), sorted(FROZEN))
def test_the_shipped_plans_lp_is_unchanged(name, elastic):
    lp = build_model(_costs(), _funding(name), elastic=elastic)
    got = (arrays_digest(lp_arrays(lp.problem)), maps_digest(lp))
    assert got == FROZEN[(name, elastic)], f"the LP changed: {(name, elastic)!r}: {got!r}"
    # the model's own cached reading is the same reading
    assert arrays_digest(lp.arrays) == got[0]


def test_the_digest_sees_one_coefficient_move_by_one_unit_in_the_last_place():
    a = lp_arrays(build_model(_costs(), _funding("shortfall_60")).problem)
    data = a.matrix.data.copy()
    data[len(data) // 2] = np.nextafter(data[len(data) // 2], np.inf)
    moved = replace(a, matrix=type(a.matrix)((data, a.matrix.indices, a.matrix.indptr),
                                              shape=a.matrix.shape))
    assert arrays_digest(moved) != arrays_digest(a)
    cost = a.cost.copy()
    j = int(np.flatnonzero(cost)[0])
    cost[j] *= 1 + 1e-9
    assert arrays_digest(replace(a, cost=cost)) != arrays_digest(a)
