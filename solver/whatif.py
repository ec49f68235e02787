"""Answering one what-if after another, fast, on one plan (the ``reachplan serve`` page).

:class:`WhatIf` holds a plan's cost model and answers ``solve(funding)`` with the same
:class:`~reachplan.solver.result.Allocation` as :func:`reachplan.solver.allocate.allocate`
(envelope shadow prices ranged, as the funding ladder's), so the page shows exactly what
``reachplan allocate --json`` prints for the same settings.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace

from reachplan.model.costs import CostModel
from reachplan.model.funding import FundingScenario
from reachplan.solver.allocate import allocate_costs
from reachplan.solver.result import Allocation

CACHED_RESULTS = 64
"""Answers kept (a planner toggling back to a setting gets it at once)."""


class WhatIf:
    """One plan's allocation, re-solved per change; safe to call from several threads.

    Parameters
    ----------
    costs
        The plan's cost model.
    provenance
        Plan fingerprint, source and name, as :func:`reachplan.solver.allocate.allocate`
        records them.
    """

    def __init__(self, costs: CostModel, provenance: Mapping[str, str]) -> None:
        self.costs = costs
        self.provenance = dict(provenance)
        self._lock = threading.Lock()
        self._results: OrderedDict[FundingScenario, Allocation] = OrderedDict()

    def solve(self, funding: FundingScenario) -> Allocation:
        """The allocation under ``funding``; as :func:`allocate` with ``ranged="envelope"``.

        Raises
        ------
        InfeasibleScenarioError
            When the rules cannot all hold; the message is ``allocate``'s diagnosis.
        """
        key = replace(funding, name="")
        with self._lock:
            hit = self._results.get(key)
            if hit is not None:
                self._results.move_to_end(key)
                return replace(hit, scenario=funding)
            result = allocate_costs(self.costs, funding, self.provenance, ranged="envelope")
            self._results[key] = result
            if len(self._results) > CACHED_RESULTS:
                self._results.popitem(last=False)
            return result
