"""Strict JSON text for every ``--json`` output: non-finite numbers become ``null``.

``json.dumps`` writes ``NaN`` and ``Infinity`` by default, which no JSON parser but
Python's accepts. :func:`dumps` replaces every non-finite float (Python or numpy) with
``None`` and then serialises with ``allow_nan=False``, so a stray non-finite number that
slips through is an error here rather than invalid output for a script.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None``, recursively."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def dumps(value: Any, *, indent: int | None = 2, sort_keys: bool = False) -> str:
    """Strict JSON text of ``value`` (non-finite numbers as ``null``), newline-terminated."""
    return json.dumps(finite(value), indent=indent, sort_keys=sort_keys, allow_nan=False) + "\n"
