"""The console on the server's application: its pages and its static files."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from tocsin.web import muting, oncall, pages
from tocsin.web.render import STATIC


def install(app: FastAPI) -> FastAPI:
    """The console's routes on ``app`` (the API's application), and its static files."""
    app.include_router(pages.router, include_in_schema=False)
    app.include_router(muting.router, include_in_schema=False)
    app.include_router(oncall.router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
