"""The installed versions that travel with every result (traceability).

Every figure a planner sees names the package versions it was computed with; this is the
one place that looks them up. Reading installed-package metadata is not file I/O in the
sense of the conventions (no plan, scenario or output file is touched), so ``model``, the
lowest layer, holds it and every layer above may use it.
"""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Sequence

__all__ = ["NOT_INSTALLED", "PACKAGES", "package_versions"]

PACKAGES = ("reachplan", "pulp", "highspy", "numpy", "pandas", "scipy")
"""reachplan and the packages an allocation's numbers depend on."""

NOT_INSTALLED = "not installed"
"""The version of a package that is not installed (for example reachplan run from a
checkout without ``pip install``)."""


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str]:
    """Installed versions of ``names``, in the order given.

    Parameters
    ----------
    names
        Distribution names.

    Returns
    -------
    dict[str, str]
        Name to version; :data:`NOT_INSTALLED` for a package that is not installed.
    """
    return dict(_versions(tuple(names)))


@functools.cache
def _versions(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Read once per process: installed versions do not change under a running program."""
    out = []
    for name in names:
        try:
            out.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            out.append((name, NOT_INSTALLED))
    return tuple(out)
