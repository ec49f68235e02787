"""Command line for reachplan: thin layer of load -> compute -> write.

Every command exits 0 on success, 1 on invalid input or an infeasible
scenario (one-line reason naming the file, row and field), 2 on usage errors.
"""

from __future__ import annotations

import click

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="reachplan")
def main() -> None:
    """Reachplan: allocate constrained humanitarian funding to reach the most people.

    Runs on the shipped default plan (IOM Strategic Response Plan for Ukraine
    and Neighbouring Countries 2024-2026) when no plan is given.
    """


if __name__ == "__main__":  # pragma: no cover
    main()
