"""Build code of the shipped default plan: not part of the runtime.

The transcribed tables of the plan document (``scenarios/default_plan/source/``) become the
shipped plan tables in two steps:

1. :mod:`scenarios.build_plan.default_plan` derives every cell
   (:mod:`scenarios.build_plan.derivation`, by iterative proportional fitting,
   :mod:`scenarios.build_plan.fitting`) and writes ``requirements.csv`` and the other
   plan tables;
2. :mod:`reachplan.scenarios.build_plan.calibrate_costs` writes ``cost_curve.csv`` and
   ``unit_costs.csv``.

``python -m reachplan.scenarios.build_plan`` runs both, in that order. Nothing that reachplan
runs imports this package (``tests/test_layers.py`` checks it); it may import any layer, as
the command line does, because it is a tool that writes the shipped files.
"""
