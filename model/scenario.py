"""A scenario: one frozen value with the funding rules, simulation assumptions and run settings.

Loaded from one TOML file by :func:`scenarios.scenario_io.load_scenario` (which
resolves ``extends``); sweeps build variants with :func:`dataclasses.replace`.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.displacement import SimulationAssumptions
from model.errors import ReachplanError
from model.funding import FundingScenario


class ScenarioError(ReachplanError, ValueError):
    """A scenario file is invalid; the message names the file and the key."""

    def __init__(self, message: str, *, file: str, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.key = key

    def __str__(self) -> str:
        where = self.file + (f", key '{self.key}'" if self.key else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Scenario:
    """Everything one scenario run needs besides the plan itself.

    Attributes
    ----------
    name
        Short label used in reports and JSON.
    description
        One or two sentences for the report.
    funding
        Envelope, earmarks, floors and the other allocation rules.
    simulation
        Displacement and return assumptions (each rate with its distribution).
    draws
        Number of simulated futures.
    seed
        Seed of the run; every draw gets its own child stream of it.
    plan
        Path of the plan the scenario is about; ``None`` for the shipped default plan.
    files
        The files read, the scenario's own first, then each file it extends.
    sha256
        Hash of those files' contents, for provenance.
    """

    name: str
    description: str
    funding: FundingScenario
    simulation: SimulationAssumptions
    draws: int
    seed: int
    plan: str | None = None
    files: tuple[str, ...] = ()
    sha256: str = ""
