"""A scenario: one frozen value with the funding rules, simulation assumptions and run settings.

Loaded from one TOML file by :func:`scenarios.scenario_io.load_scenario` (which
resolves ``extends``); sweeps build variants with :func:`dataclasses.replace`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reachplan.model.errors import ReachplanError
from reachplan.model.funding import FundingScenario
from reachplan.model.simulation import SimulationAssumptions


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


MAX_NAME_LENGTH = 64
_NAME = re.compile(r"[^\W_][\w.-]*")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
             *(f"lpt{i}" for i in range(10))}


def check_name(name: object) -> str | None:
    """Why ``name`` cannot name a scenario's run folder, or ``None`` when it can.

    A name is 1 to 64 letters, digits, ``_``, ``-`` and ``.``, starting with a letter or
    digit: no path separators, no ``..``, no spaces or control characters, and not a
    device name reserved on Windows (``CON``, ``NUL``...). Names are checked, never
    rewritten, so that two scenarios cannot silently share a folder.
    """
    if not isinstance(name, str):
        return f"must be a string, got {_shown(name)}"
    if not name:
        return "must not be empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long; keep it to {MAX_NAME_LENGTH}"
    if not _NAME.fullmatch(name) or ".." in name:
        return (
            f"{_shown(name)} cannot name the run folder: use letters, digits, '_', '-' and "
            "'.', starting with a letter or digit (e.g. 'shortfall_60'); put words in "
            "'description'"
        )
    if name.split(".")[0].lower() in _RESERVED:
        return f"{_shown(name)} is a reserved device name on Windows"
    return None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


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
    origins
        ``(key, file)`` pairs: which of ``files`` set each top-level key and each key
        of the ``[funding]`` table (``"funding.floors"``), for messages.
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
    origins: tuple[tuple[str, str], ...] = ()

    def origin(self, key: str) -> str:
        """The file that set ``key`` (``"funding.floors"``), else the scenario's own file."""
        own = self.files[0] if self.files else "<scenario>"
        return dict(self.origins).get(key, own)
