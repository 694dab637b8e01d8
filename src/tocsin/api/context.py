"""What a route reads from its request besides the body and the acting person
(``auth.Responder``): the application's state, and the service context built from it
(``service.context.Context``: database, configuration, runbooks, clock, and the engine's pager
and wake-up when this process runs the engine)."""

from __future__ import annotations

from fastapi import Request

from tocsin.api.state import AppState
from tocsin.service.context import Context, serving


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.tocsin
    return state


def context(request: Request) -> Context:
    """The service context of this request (``service.context.serving``)."""
    return serving(state_of(request))
