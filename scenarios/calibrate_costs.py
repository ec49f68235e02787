"""Former name of :mod:`scenarios.build_plan.calibrate_costs`, kept for existing imports.

``python -m scenarios.calibrate_costs`` still works; ``python -m scenarios.build_plan`` is the
command to use.
"""

from __future__ import annotations

from scenarios.build_plan.calibrate_costs import COST_CURVE, calibrated_tables, main

__all__ = ["COST_CURVE", "calibrated_tables", "main"]

if __name__ == "__main__":
    main()
