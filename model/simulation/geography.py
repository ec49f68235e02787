"""Where the simulation's people live: the origin, the host locations and the sink.

A :class:`Geography` is read from a data file (``scenarios/data/geography_ukraine.toml``
is the shipped one, read by :func:`scenarios.simulation_io.load_geography`); the kernel
and the needs mapping take every location code from it, never from constants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pandas as pd

from reachplan.model.simulation.errors import AssumptionError

__all__ = ["Geography"]

FloatArray: TypeAlias = np.ndarray


@dataclass(frozen=True)
class Geography:
    """The locations a displacement simulation follows.

    Attributes
    ----------
    name : str
        Planner name of the geography ("Ukraine"), shown in the needs-source line.
    origin : str
        Code of the country people are displaced from (IDPs, returnees and the
        non-displaced live there).
    hosts : tuple of str
        Host locations holding refugee stocks that are plan locations (people in need
        are reported for them), in order.
    sink : str
        The rest-of-region location: refugees move on to it from the hosts; it holds a
        refugee stock but is not a plan location (no people in need line).
    protection : tuple of str
        Refugee locations (hosts or the sink) where the temporary-protection lever
        applies unless a scenario names its own ``applies_to`` (EU members for Ukraine).
    route_shares : tuple of (str, float)
        Hosts fed by the occupied-areas route (front-line pushes) and their shares,
        summing to 1; empty when the geography has no such route (then the lever moves
        no one).
    source : str
        The file it was read from.

    """

    name: str
    origin: str
    hosts: tuple[str, ...]
    sink: str
    protection: tuple[str, ...] = ()
    route_shares: tuple[tuple[str, float], ...] = ()
    source: str = "<in memory>"

    def __post_init__(self) -> None:
        codes = [self.origin, *self.hosts, self.sink]
        if any(not isinstance(c, str) or not c.strip() for c in codes):
            raise AssumptionError("location codes must be non-empty text", key="geography")
        if not self.hosts:
            raise AssumptionError("need at least one host location", key="hosts")
        duplicated = sorted({c for c in codes if codes.count(c) > 1})
        if duplicated:
            raise AssumptionError(
                f"each location may appear once among origin, hosts and sink; "
                f"repeated: {', '.join(duplicated)}",
                key="hosts",
            )
        refugee = set(self.refugee_locations)
        unknown = sorted(set(self.protection) - refugee)
        if unknown:
            raise AssumptionError(
                f"{', '.join(unknown)} not among the hosts or the sink", key="protection"
            )
        route = [c for c, _ in self.route_shares]
        unknown = sorted(set(route) - set(self.hosts))
        if unknown:
            raise AssumptionError(f"{', '.join(unknown)} not among the hosts", key="route_shares")
        shares = [s for _, s in self.route_shares]
        if shares and (
            any(not s >= 0 for s in shares) or not math.isclose(sum(shares), 1.0, abs_tol=1e-9)
        ):
            raise AssumptionError("shares must be non-negative and sum to 1", key="route_shares")

    @property
    def refugee_locations(self) -> pd.Index:
        """Locations holding refugee stocks: the hosts, then the sink."""
        return pd.Index([*self.hosts, self.sink], name="location_code")

    @property
    def needs_locations(self) -> pd.Index:
        """Locations people in need are computed for: the origin, then the hosts."""
        return pd.Index([self.origin, *self.hosts], name="location_code")

    @property
    def n_refugee(self) -> int:
        """Number of refugee locations (hosts and the sink)."""
        return len(self.hosts) + 1

    @property
    def sink_index(self) -> int:
        """Position of the sink among :attr:`refugee_locations` (the last)."""
        return len(self.hosts)

    def covers(self, code: str) -> bool:
        """Whether people in need of plan location ``code`` are simulated."""
        return code == self.origin or code in self.hosts

    def location_vector(
        self, shares: tuple[tuple[str, float], ...], key: str = "shares"
    ) -> FloatArray:
        """Shares per refugee location as a vector over :attr:`refugee_locations`.

        Raises
        ------
        AssumptionError
            When a code is not a refugee location of this geography.

        """
        index = self.refugee_locations
        vector = np.zeros(len(index))
        for code, share in shares:
            if code not in index:
                raise AssumptionError(
                    f"'{code}' is not a host of the {self.name} geography "
                    f"({', '.join(index)})",
                    key=key,
                )
            vector[index.get_loc(code)] = share
        return vector

    def mask(self, codes: tuple[str, ...], key: str = "applies_to") -> FloatArray:
        """1.0 at each of ``codes`` among :attr:`refugee_locations`, else 0.0."""
        return self.location_vector(tuple((c, 1.0) for c in codes), key=key)
