"""The what-if page (Dash): controls on the left, who is reached on the right.

:func:`create_app` builds the Dash application for a :class:`~reachplan.web.context.WhatIfContext`.
Every script and style is served by the installed packages (``serve_locally``): the page
opens with no network.
"""

from __future__ import annotations

import dash
from dash import Input, Output, dcc, html

from reachplan.model.errors import ReachplanError
from reachplan.model.funding import parse_funding
from reachplan.web.context import WhatIfContext


def create_app(context: WhatIfContext) -> dash.Dash:
    """The Dash application of the page (not yet served: see :mod:`reachplan.web.server`)."""
    app = dash.Dash(
        __name__,
        title=f"reachplan what-if: {context.plan.name}",
        serve_locally=True,
        update_title=None,
    )
    app.layout = html.Div([
        html.H1(f"What if: {context.plan.name}"),
        html.Label("Funding", htmlFor="funding-amount"),
        dcc.Input(id="funding-amount", type="text", value="100%", debounce=True),
        html.Div(id="funding-amount-error", className="control-error"),
        html.Div(["People reached: ", html.Span(id="people-reached")]),
    ])

    @app.callback(
        Output("people-reached", "children"),
        Output("funding-amount-error", "children"),
        Input("funding-amount", "value"),
    )
    def redraw(text: str | None) -> tuple[str, str]:
        try:
            envelope = parse_funding(text or "")
            result = context.solver.solve(dash_replace(context, envelope))
        except ReachplanError as exc:
            return dash.no_update, str(exc)
        return f"{result.people_reached:,.0f}", ""

    return app


def dash_replace(context: WhatIfContext, envelope: object) -> object:
    """The starting rules with another envelope."""
    from dataclasses import replace

    return replace(context.base, envelope=envelope)
