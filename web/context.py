"""What a what-if page is about, fixed when ``reachplan serve`` starts.

The plan and the starting scenario are chosen on the command line, never by the browser:
:class:`WhatIfContext` holds them, the cost model and the solver that answers every change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reachplan.model.costs import CostModel
from reachplan.model.funding import FundingScenario, parse_funding
from reachplan.model.plan import Plan
from reachplan.model.scenario import Scenario
from reachplan.solver.whatif import WhatIf


@dataclass(frozen=True, eq=False)
class WhatIfContext:
    """The page's fixed inputs.

    Attributes
    ----------
    plan
        The plan (validated, calibrated when it needed to be).
    plan_path
        Where the plan was read from (``None``: the shipped default plan).
    scenario
        The ``--scenario`` file, loaded; ``None`` when the page starts from no rules.
    base
        The funding rules the page starts from: the scenario's, else ``default_funding``
        of the appeal with no other rule (as ``reachplan allocate`` without options).
    costs
        The plan's cost model.
    solver
        Answers each change (:class:`reachplan.solver.whatif.WhatIf`); thread-safe.
    scenario_ref
        The ``--scenario`` argument as given (a shipped name or a file path), ``None``
        without one: what the page's scenario export ``extends``.
    """

    plan: Plan
    plan_path: Path | None
    scenario: Scenario | None
    base: FundingScenario
    costs: CostModel
    solver: WhatIf
    scenario_ref: str | None = None


DEFAULT_FUNDING = "100%"
"""The page's starting envelope without ``--scenario``: ``reachplan allocate``'s default."""


def make_context(plan: Plan, plan_path: Path | None, scenario: Scenario | None,
                 scenario_ref: str | None = None) -> WhatIfContext:
    """The context of a page on ``plan``, starting from ``scenario``'s rules (or none).

    ``scenario_ref``: the ``--scenario`` argument as given (see :class:`WhatIfContext`).
    """
    base = scenario.funding if scenario is not None else FundingScenario(
        parse_funding(DEFAULT_FUNDING))
    costs = CostModel.from_plan(plan)
    provenance = {
        "plan_fingerprint": plan.fingerprint,
        "plan_source": plan.source,
        "plan_name": plan.name,
    }
    return WhatIfContext(plan, plan_path, scenario, base, costs, WhatIf(costs, provenance),
                         scenario_ref)
