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
# build as they were when this test was written, then frozen again once, when continuity
# left enablers funded as overheads alone: the 40 continuity rows of the regional lines
# (XRS), and in elastic models their 40 violation columns, went; every other column, row
# and coefficient was compared with the previous build and is unchanged (plain
# shortfall_60 model now: 8,001 columns, 2,329 rows, 35,766 nonzeros)
FROZEN: dict[tuple[str, bool], tuple[str, str]] = {
    ("shortfall_60", False): (
        "6ba9ac162eb1ea9dd212afbe853753affa23e20550a32daa037e747f5b57f13f",
        "500e296e398b98e4249ec7c0198848f28baed825fb490c10b41c376be63860d8"),
    ("shortfall_60", True): (
        "1fc455c5d366643e37782c8e66fd8ff1187dea1e147569c895817b55374b41c9",
        "cccb8d6eba16e2a04843d389c0378906a5c4152587461517c1bb4b9a9af9beb6"),
    ("front_loaded", False): (
        "5824d10e7ac1f349bcfa25bb1d4826202f7c0772dd1db4301d6aa6498bbae979",
        "654ac285105fcfecf285e6a151ffab1a002a773b13edf528d9d6250ea4cb1602"),
    ("heavily_earmarked", False): (
        "4a6b4125bbfd2f2f2ee2a894ee5d4c04b0dea13f672b35e55779a56b3faa1e95",
        "d4272c7fcc715fb37ec23e4e28faedba91c5229e03dd4c007a634312746427bb"),
    ("heavily_earmarked", True): (
        "9c76af64f9387277db298abc8e6310e3d772253defe5a4589f0084927378b389",
        "a30ffa03e9b4c84fb53453e46c1dea5426841c2dee30a8cf1f208a673c0722b0"),
    ("rules", False): (
        "35e9ef80fab201d615a9f6d037a743bb0ade2058b6353dabdfe147229aeeecfc",
        "be80473dfd21fc072176a925aa2392ccab6358e34c21e13ff994da07f9bc7b2b"),
    ("rules", True): (
        "ccf45de013c9d1500e5878b271c818f1a78883f113cfa88a3c2e792e2bed3843",
        "ea2995cd780520c2c91acdff7f6afdd3c25735995f17176b928865a315989b5f"),
    ("rules_headcount", False): (
        "ec01c9386258510a1944ffdb2519c03c45beb849647136d9c7143fbb4cf377bb",
        "fdfce9d16070602f405a238a805ba83b2936d6fddb7d028247dd62da8ef26ac5"),
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
