"""The one base class of every error a planner can fix.

Bad input (a plan or scenario file, an assumption, a funding string) and rules that
cannot all hold raise a subclass of :class:`ReachplanError`. The command line maps
every one of them to exit code 1 and one line of text; anything else is a bug.
"""

from __future__ import annotations


class ReachplanError(Exception):
    """Invalid input or an infeasible scenario; the message says what and where."""
