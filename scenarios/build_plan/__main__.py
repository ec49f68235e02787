"""``python -m reachplan.scenarios.build_plan``: rebuild the shipped plan from its sources."""

from __future__ import annotations

from reachplan.scenarios.build_plan import calibrate_costs, default_plan


def main() -> None:
    """Derive the plan tables, then calibrate the unit costs on the tables just written."""
    default_plan.main()
    calibrate_costs.main()


if __name__ == "__main__":
    main()
