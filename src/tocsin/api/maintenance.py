"""Maintenance windows in the native API: ``GET/POST /api/v1/maintenance``,
``GET/DELETE /api/v1/maintenance/{id}`` (DELETE ends a window now). Changing one takes the
responder role; reading, any token. The work is ``service.maintenance``'s."""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tocsin import times
from tocsin.api.auth import Reader, Responder
from tocsin.api.context import context
from tocsin.api.errors import RowId
from tocsin.service import maintenance

router = APIRouter()


class WindowBody(BaseModel):
    """A new window: ``receiver`` (a route) or ``matchers`` (a service), until ``endsAt``
    (from ``startsAt``, default now); ``timeInterval`` makes it recur."""

    matchers: list[str] = Field(default_factory=list, max_length=maintenance.MAX_MATCHERS)
    receiver: str | None = Field(None, max_length=200)
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    timeInterval: str | None = Field(None, max_length=200)
    comment: str = Field("", max_length=maintenance.MAX_TEXT)


@router.post("/api/v1/maintenance")
async def add_window(request: Request, body: WindowBody, by: Responder) -> Response:
    made = await asyncio.to_thread(
        maintenance.add,
        context(request),
        matchers=body.matchers,
        receiver=body.receiver,
        starts_at=times.to_ts(times.aware(body.startsAt)) if body.startsAt else None,
        ends_at=times.to_ts(times.aware(body.endsAt)) if body.endsAt else None,
        time_interval=body.timeInterval,
        comment=body.comment,
        created_by=by,
    )
    return JSONResponse(status_code=201, content=made.json())


@router.get("/api/v1/maintenance")
async def list_windows(request: Request, _by: Reader) -> Response:
    """The windows not over (``?all=true``: the past ones too), newest first."""
    past = request.query_params.get("all", "").lower() in ("1", "true", "yes")
    found = await asyncio.to_thread(maintenance.windows, context(request), past)
    return JSONResponse([w.json() for w in found])


@router.get("/api/v1/maintenance/{window_id}")
async def get_window(request: Request, window_id: RowId, _by: Reader) -> Response:
    found = await asyncio.to_thread(maintenance.window, context(request), window_id)
    return JSONResponse(found.json())


@router.delete("/api/v1/maintenance/{window_id}")
async def end_window(request: Request, window_id: RowId, by: Responder) -> Response:
    """End a window now: an incident it held that still fires pages at once."""
    ended = await asyncio.to_thread(maintenance.end, context(request), window_id, by)
    return JSONResponse(ended.json())
