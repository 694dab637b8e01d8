"""What a route reads from its request besides the body and the acting person
(``auth.Responder``): the application's state, and the service context built from it
(``service.context.Context``: database, configuration, runbooks, clock, and the engine's pager
and wake-up when this process runs the engine)."""

from __future__ import annotations

import asyncio

from fastapi import Request

from tocsin.api.state import AppState
from tocsin.service.context import Context


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.tocsin
    return state


def context(request: Request) -> Context:
    """The service context of this request (the configuration as it is now: a reload
    takes effect at the next request)."""
    state = state_of(request)
    engine = state.engine
    if engine is None:
        return Context(state.db, state.config, state.clock, state.catalog)
    loop = asyncio.get_running_loop()

    def wake() -> None:  # use cases may run in a worker thread: wake through the loop
        loop.call_soon_threadsafe(engine.wake.set)

    return Context(state.db, state.config, state.clock, state.catalog, engine.pager, wake)
