"""The console on the server's application: its pages and its static files."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from tocsin.web import (
    act,
    admin,
    contacts,
    heartbeats,
    knowledge,
    maintenance,
    muting,
    oidc,
    oncall,
    pages,
    replay,
    review,
    runs,
    status,
)
from tocsin.web.render import STATIC


def install(app: FastAPI) -> FastAPI:
    """The console's routes on ``app`` (the API's application), and its static files."""
    # the more specific paths first: pages has /incidents/{id}/{action}
    for router in (
        review.router,
        muting.router,
        maintenance.router,
        heartbeats.router,
        oncall.router,
        admin.router,
        contacts.router,
        knowledge.router,
        replay.router,
        status.router,
        oidc.router,
        runs.router,
        act.router,
        pages.router,
    ):
        app.include_router(router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
