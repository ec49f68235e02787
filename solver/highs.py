"""The one place HiGHS instances are made, silent for PuLP and highspy alike.

highspy (1.16 and later) writes its banner ("Running HiGHS ... Copyright ...") from C
to file descriptor 1 the first time a ``Highs`` object is constructed in a process,
before any option can be set. Python-level redirection cannot catch it, and stdout is
data for ``--json``. :func:`new_highs` therefore makes the first instance of each
process with descriptor 1 pointed at the null device, then turns logging off on every
instance it returns; :func:`pulp_solver` makes sure that has happened before PuLP
creates its own instance.
"""

from __future__ import annotations

import os
import sys
import threading

import highspy
import pulp

_LOCK = threading.Lock()
_BANNER_SPENT = False


def _spend_banner() -> None:
    """Construct one ``Highs`` with fd 1 on the null device, once per process."""
    global _BANNER_SPENT
    with _LOCK:
        if _BANNER_SPENT:
            return
        sys.stdout.flush()
        saved = os.dup(1)
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
            highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(null)
        _BANNER_SPENT = True


def new_highs() -> highspy.Highs:
    """A ``highspy.Highs`` instance that prints nothing (no banner, no log)."""
    _spend_banner()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("log_to_console", False)
    return h


def pulp_solver() -> pulp.LpSolver:
    """PuLP's in-process HiGHS, silent: the one solver configuration of every PuLP solve."""
    _spend_banner()
    return pulp.HiGHS(msg=False)
