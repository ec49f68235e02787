"""Write the default plan's cost curve and calibrated unit costs.

Run ``python -m reachplan.scenarios.build_plan`` (this step alone:
``python -m reachplan.scenarios.build_plan.calibrate_costs``). The cost curve is a planning
assumption (see ``docs/allocation.md``); unit costs are derived from it, the overlap factor
and the sector cost index by :func:`reachplan.model.unit_costs.calibrate_plan` (the function
behind ``reachplan plan calibrate``), so that
at full funding the 2024 people reached per location equal the plan's people targeted, and
the entities reached equal the entities targeted. The regional support line (XRS) is an
enabler and gets no unit cost. Unit costs are written at full precision, so running the
build twice writes identical files and the shipped table equals a fresh calibration.
"""

from __future__ import annotations

import pandas as pd

from reachplan.model.plan import Plan
from reachplan.model.unit_costs import DEFAULT_COST_CURVE, calibrate_plan
from reachplan.reports.plan_files import write_plan_tables
from reachplan.scenarios.plan_io import DEFAULT_PLAN_DIR, load_plan

COST_CURVE = DEFAULT_COST_CURVE.assign(
    note=[
        "planning assumption: the first 40% of a line's requirement reaches people "
        "at the base unit cost (the caseload already reached, existing pipelines)",
        "planning assumption: the next 30% costs 25% more per person (wider coverage, "
        "new sites and partners)",
        "planning assumption: the next 20% costs 60% more per person (dispersed or "
        "hard-to-reach people: front-line oblasts, small refugee communities)",
        "planning assumption: the last 10% costs 2.2 times the base (the hardest to "
        "reach); not stated in the plan document",
    ]
)
"""Tranches of a requirement and their cost factors (diminishing returns): the numbers of
:data:`reachplan.model.unit_costs.DEFAULT_COST_CURVE`, with notes in the default plan's words."""


def calibrated_tables(plan: Plan) -> dict[str, pd.DataFrame]:
    """The ``cost_curve`` and ``unit_costs`` tables for ``plan``.

    The unit costs are calibrated (:func:`calibrate_plan`) on the plan with
    :data:`COST_CURVE` as its cost curve, so that they equal a calibration of the plan as
    shipped.
    """
    with_curve = Plan.from_tables({**plan.tables, "cost_curve": COST_CURVE}, plan.source)
    return {"cost_curve": COST_CURVE, "unit_costs": calibrate_plan(with_curve).unit_costs}


def main() -> None:
    """Recompute and write the two tables into the shipped default plan."""
    loaded = load_plan(None)
    if loaded.plan is None:
        raise SystemExit("\n".join(str(p) for p in loaded.validation.errors))
    for path in write_plan_tables(calibrated_tables(loaded.plan), DEFAULT_PLAN_DIR):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
