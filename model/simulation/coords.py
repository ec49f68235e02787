"""Coordinates of the simulation: the locations it follows and its months."""

from __future__ import annotations

import pandas as pd

from reachplan.model.simulation.errors import AssumptionError

__all__ = [
    "BALTIC_CODES",
    "EU_MEMBER_CODES",
    "HOST_CODES",
    "NEEDS_LOCATIONS",
    "REFUGEE_LOCATIONS",
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

_N_REF = len(REFUGEE_LOCATIONS)
_XEU = _N_REF - 1


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
