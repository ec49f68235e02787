"""The what-if page: ``reachplan serve``, a local web page over the allocation model.

A planner moves the money (total, per year, earmarks, floors, caps, locks) and sees who is
reached, redrawn on every change, on the same model and code path as ``reachplan allocate``.

Modules: :mod:`reachplan.web.context` (what the page is about: plan, starting scenario,
solver; loaded once from the command line), :mod:`reachplan.web.state` (the page's
settings, their URL form and their scenario), :mod:`reachplan.web.app` (the Dash page),
:mod:`reachplan.web.server` (serving it safely: loopback by default, access token,
Host header check). Choices and their reasons: ``docs/whatif.md``.
"""
