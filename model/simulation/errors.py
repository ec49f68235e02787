"""The error every invalid simulation assumption raises."""

from __future__ import annotations

from reachplan.model.errors import ReachplanError

__all__ = ["AssumptionError"]


class AssumptionError(ReachplanError, ValueError):
    """An invalid simulation assumption, naming the file and key where known.

    Parameters
    ----------
    message : str
        What is wrong, in planner words.
    file : str, optional
        The scenario file the value came from.
    key : str, optional
        Dotted key of the offending value, e.g. ``simulation.rates.idp_return``.

    """

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        self.message = message
        self.file = file
        self.key = key
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.key) if part)
        return f"{where}: {self.message}" if where else self.message

    def within(self, *, file: str | None = None, prefix: str | None = None) -> AssumptionError:
        """Return a copy located in ``file`` with ``prefix`` prepended to the key."""
        key = self.key
        if prefix:
            key = f"{prefix}.{key}" if key else prefix
        return AssumptionError(self.message, file=file or self.file, key=key)
