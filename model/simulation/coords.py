"""Coordinates of the simulation: its months, and the codes of the shipped Ukraine geography.

The simulation takes its locations from a :class:`~model.simulation.geography.Geography`
(read from ``scenarios/data/geography_ukraine.toml`` for the shipped one). The constants
below are the codes of that shipped geography, kept for code that is about Ukraine
itself (the calibration on the Ukraine history) and as :data:`UKRAINE`, the geography of
an :class:`~model.simulation.assumptions.InitialState` built without one; a test checks
that the shipped file says the same.
"""

from __future__ import annotations

import pandas as pd

from reachplan.model.simulation.errors import AssumptionError
from reachplan.model.simulation.geography import Geography

__all__ = [
    "BALTIC_CODES",
    "EU_MEMBER_CODES",
    "HOST_CODES",
    "NEEDS_LOCATIONS",
    "REFUGEE_LOCATIONS",
    "UKRAINE",
    "month_index",
]

#: The 11 host countries of the plan (ISO3), in the plan's order.
HOST_CODES: tuple[str, ...] = (
    "POL", "MDA", "CZE", "SVK", "LTU", "HUN", "ROU", "BGR", "BLR", "EST", "LVA",
)
#: Locations that hold refugee stocks: the hosts plus the rest of Europe.
REFUGEE_LOCATIONS: pd.Index = pd.Index([*HOST_CODES, "XEU"], name="location_code")
#: Locations for which people in need are reported (the plan's country lines).
NEEDS_LOCATIONS: pd.Index = pd.Index(["UKR", *HOST_CODES], name="location_code")
#: Baltic host countries reached by people leaving occupied areas via Russia.
BALTIC_CODES: tuple[str, ...] = ("EST", "LVA", "LTU")
#: Hosts that are EU member states (the Temporary Protection Directive applies).
#: Moldova and Belarus are not EU members.
EU_MEMBER_CODES: frozenset[str] = frozenset(
    {"POL", "CZE", "SVK", "LTU", "HUN", "ROU", "BGR", "EST", "LVA"}
)

#: The shipped Ukraine geography, as its data file states it.
UKRAINE = Geography(
    name="Ukraine",
    origin="UKR",
    hosts=HOST_CODES,
    sink="XEU",
    protection=(*sorted(EU_MEMBER_CODES, key=HOST_CODES.index), "XEU"),
    route_shares=(("EST", 0.4), ("LVA", 0.35), ("LTU", 0.25)),
    source="model.simulation.coords.UKRAINE",
)


def month_index(label: str | pd.Period, *, key: str = "month") -> pd.Period:
    """Parse a ``YYYY-MM`` label into a monthly :class:`pandas.Period`.

    Raises
    ------
    AssumptionError
        If the label is not a valid ``YYYY-MM`` month.

    """
    if isinstance(label, pd.Period):
        return label.asfreq("M")
    text = str(label)
    if len(text) != 7 or text[4] != "-" or not (text[:4] + text[5:]).isdigit():
        raise AssumptionError(f"expected a month as YYYY-MM, got {text!r}", key=key)
    month = int(text[5:])
    if not 1 <= month <= 12:
        raise AssumptionError(f"month must be 01..12, got {text!r}", key=key)
    return pd.Period(text, freq="M")
