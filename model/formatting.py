"""How money and head counts are written for a planner to read.

One place for the text of a figure, so that the same amount reads the same in a console
summary, an error message, an HTML page and a chart. Everything here is pure: numbers in,
text out. ``model`` is the lowest layer, so ``solver``, ``reports`` and the command line
may all use it.
"""

from __future__ import annotations

import math
from typing import Literal

__all__ = ["MILLION", "format_people", "format_usd"]

MILLION = 1e6
"""From this amount up (in absolute value) ``format_usd`` writes USD millions."""

UsdUnit = Literal["auto", "M", "exact"]


def _missing(value: float | None) -> bool:
    return value is None or not math.isfinite(value)


def format_usd(
    value: float | None,
    *,
    unit: UsdUnit = "auto",
    decimals: int = 1,
    missing: str = "-",
    millions_from: float = MILLION,
) -> str:
    """A sum of US dollars as text: ``$12.3M`` or ``$950,000``.

    Parameters
    ----------
    value
        The amount in USD (not millions). ``None``, NaN and infinities are missing.
    unit
        ``"auto"``: USD millions with ``decimals`` decimals from :data:`MILLION` up (in
        absolute value), whole dollars below, so that an amount under a million is never
        shown as ``$0.3M``; ``"M"``: always USD millions (for columns and charts where
        every figure is large); ``"exact"``: always whole dollars with thousands
        separators (the plan document's tables).
    decimals
        Decimals of the millions.
    missing
        The text of a missing value.
    millions_from
        With ``unit="auto"``, the amount from which millions are shown (solver messages
        use $100,000, so that "$0.25M" reads as a share of the envelope's scale).

    Returns
    -------
    str
        For example ``format_usd(1_234_567.0)`` is ``"$1.2M"``,
        ``format_usd(950_000.0)`` is ``"$950,000"``, ``format_usd(-2e6)`` is ``"$-2.0M"``.
    """
    if value is None or _missing(value):
        return missing
    if unit == "M" or (unit == "auto" and abs(value) >= millions_from):
        return f"${value / MILLION:,.{decimals}f}M"
    return f"${value:,.0f}"


def format_people(value: float | None, *, missing: str = "-") -> str:
    """A head count as text: whole people with thousands separators (``12,345``).

    Parameters
    ----------
    value
        People (a mean over draws may be fractional; it is rounded to whole people).
        ``None``, NaN and infinities are missing.
    missing
        The text of a missing value.
    """
    if value is None or _missing(value):
        return missing
    return f"{value:,.0f}"


def format_share_of_futures(share: float | None, *, missing: str = "n/a") -> str:
    """A share of the simulated futures as a whole percentage, never a wrong 0% or 100%.

    ``37%``; ``<1%`` (in some futures, fewer than 1 in 200); ``>99%`` (in all but a few);
    ``0%`` and ``100%`` only when exact.
    """
    if share is None or _missing(share):
        return missing
    text = f"{share:.0%}"
    if share > 0 and text == "0%":
        return "<1%"
    if share < 1 and text == "100%":
        return ">99%"
    return text
