"""reachplan: allocate constrained humanitarian funding to reach the most people.

The repository's top-level folders are this package's sub-packages
(``reachplan.model``, ``reachplan.solver``, ``reachplan.scenarios``,
``reachplan.reports``, ``reachplan.workflow``) and ``cli.py`` is ``reachplan.cli``;
docs/architecture.md describes the layers.
"""
