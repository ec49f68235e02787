"""Shared fixtures: tiny hand-checkable plan tables."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from hypothesis import settings

# In CI the property tests draw the same examples on every run (no flaky first-time
# finds on a shared machine); locally they explore new examples each run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def tiny_tables() -> dict[str, pd.DataFrame]:
    """Two countries, two sectors, two years, two objectives; totals easy to add by hand.

    Requirements (USD): POL/WASH 2024 SO1 100, POL/HEALTH 2024 SO1 50 + SO2 50,
    MDA/WASH 2024 SO1 200, MDA/WASH 2025 SO1 150. Total 550. Unit costs (USD per
    person): POL/WASH 0.25, POL/HEALTH 0.5, MDA/WASH 1.0 (weight 2).
    """
    return {
        "settings": pd.DataFrame(
            {"key": ["name", "currency"], "value": ["Tiny", "USD"], "note": ["", ""]}
        ),
        "objectives": pd.DataFrame(
            {"objective_code": ["SO1", "SO2"], "objective_name": ["Lives", "Solutions"]}
        ),
        "locations": pd.DataFrame(
            {
                "location_code": ["POL", "MDA"],
                "location_name": ["Poland", "Moldova"],
                "region": ["hosts", "hosts"],
                "kind": ["country", "country"],
            }
        ),
        "sectors": pd.DataFrame(
            {
                "sector_code": ["WASH", "HEALTH"],
                "sector_name": ["WASH", "Health"],
                "iasc_cluster": ["WSH", "HEA"],
            }
        ),
        "requirements": pd.DataFrame(
            {
                "location_code": ["POL", "POL", "POL", "MDA", "MDA"],
                "sector_code": ["WASH", "HEALTH", "HEALTH", "WASH", "WASH"],
                "year": [2024, 2024, 2024, 2024, 2025],
                "objective": ["SO1", "SO1", "SO2", "SO1", "SO1"],
                "requirements_usd": [100.0, 50.0, 50.0, 200.0, 150.0],
                "origin": ["source"] * 5,
                "note": [""] * 5,
            }
        ),
        "populations": pd.DataFrame(
            {
                "location_code": ["POL", "POL", "MDA", "MDA"],
                "year": [2024, 2024, 2024, 2024],
                "population_status": ["in_need", "targeted", "in_need", "targeted"],
                "population": [1000.0, 400.0, 500.0, 300.0],
                "origin": ["source"] * 4,
                "note": [""] * 4,
            }
        ),
        "unit_costs": pd.DataFrame(
            {
                "location_code": ["POL", "POL", "MDA"],
                "sector_code": ["WASH", "HEALTH", "WASH"],
                "unit_cost_usd": [0.25, 0.5, 1.0],
                "weight": [1.0, 1.0, 2.0],
            }
        ),
    }


@pytest.fixture
def tiny() -> dict[str, pd.DataFrame]:
    return tiny_tables()
