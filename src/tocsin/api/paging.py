"""Paging in the native API: acknowledge, resolve, escalate now, the notifications of an
incident with every delivery attempt, who is on call, overrides, and iCal feeds. Each route
calls the service layer (``service.incidents``, ``service.record``, ``service.paging``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tocsin import times
from tocsin.api.auth import FeedReader, Reader, Responder
from tocsin.api.context import context
from tocsin.api.errors import RowId, invalid_is_400
from tocsin.api.native import query_time
from tocsin.errors import Invalid
from tocsin.oncall.ical import calendar
from tocsin.service import incidents, paging, record
from tocsin.service.context import Context

router = APIRouter()


async def _act(
    request: Request,
    incident_id: int,
    by: str,
    act: Callable[[Context, int, str], dict[str, Any]],
) -> Response:
    done = await asyncio.to_thread(act, context(request), incident_id, by)
    return JSONResponse(done)


@router.post("/api/v1/incidents/{incident_id}/ack")
async def acknowledge(request: Request, incident_id: RowId, by: Responder) -> Response:
    """Acknowledge: escalation stops (it may restart when the policy's ack_timeout lapses)."""
    return await _act(request, incident_id, by, incidents.acknowledge)


@router.post("/api/v1/incidents/{incident_id}/resolve")
async def resolve(request: Request, incident_id: RowId, by: Responder) -> Response:
    """Resolve by hand: escalation stops and the route's channels and everyone paged are told.
    When alerts of the incident still fire, the answer carries a ``warning`` saying so and
    what will happen (a new incident at their next sending)."""
    return await _act(request, incident_id, by, incidents.resolve)


@router.post("/api/v1/incidents/{incident_id}/escalate")
async def escalate_now(request: Request, incident_id: RowId, by: Responder) -> Response:
    """Escalate now: the next step of the policy fires at once."""
    return await _act(request, incident_id, by, incidents.escalate)


@router.get("/api/v1/incidents/{incident_id}/notifications")
async def notifications(request: Request, _by: Reader, incident_id: RowId) -> Response:
    """Every notification of the incident with every delivery attempt."""
    return JSONResponse(record.notifications(context(request), incident_id))


def _when(ctx: Context, value: str | None) -> datetime:
    now = times.to_dt(ctx.now())
    return query_time("at", value, around=now.timestamp()) if value else now


@router.get("/api/v1/oncall")
@invalid_is_400
async def get_oncall(request: Request, _by: Reader) -> Response:
    """Who is on call now (or ``?at=``), per schedule (or ``?schedule=``)."""
    ctx = context(request)
    name = request.query_params.get("schedule")
    if name:
        paging.schedule(ctx, name)
    at = _when(ctx, request.query_params.get("at"))
    return JSONResponse(await asyncio.to_thread(paging.oncall_now, ctx, at, name))


def _feed_window(ctx: Context, request: Request) -> tuple[datetime, datetime]:
    now = times.to_dt(ctx.now())
    try:
        days = min(int(request.query_params.get("days", "60")), paging.MAX_FEED_DAYS)
    except ValueError:
        raise Invalid("days must be a whole number") from None
    return now - timedelta(days=7), now + timedelta(days=max(days, 1))


@router.get("/api/v1/schedules/{name}/ical")
@invalid_is_400
async def schedule_ical(request: Request, _by: FeedReader, name: str) -> Response:
    """The schedule as an iCal feed (``?token=`` accepted for calendar clients)."""
    ctx = context(request)
    paging.schedule(ctx, name)
    start, end = _feed_window(ctx, request)
    body = calendar(f"tocsin: {name}", paging.schedule_shifts(ctx, name, start, end))
    return Response(body, media_type="text/calendar; charset=utf-8")


@router.get("/api/v1/users/{name}/ical")
@invalid_is_400
async def user_ical(request: Request, _by: FeedReader, name: str) -> Response:
    """A person's on-call shifts over every schedule, as an iCal feed."""
    ctx = context(request)
    paging.user(ctx, name)
    start, end = _feed_window(ctx, request)
    mine = paging.shifts_of(ctx, name, start, end)
    return Response(
        calendar(f"tocsin: {name} on call", mine), media_type="text/calendar; charset=utf-8"
    )


class OverrideBody(BaseModel):
    schedule: str
    user: str
    start: datetime
    end: datetime
    replaces: str | None = None
    reason: str = Field("", max_length=paging.MAX_REASON_CHARS)


@router.post("/api/v1/overrides")
@invalid_is_400
async def create_override(request: Request, body: OverrideBody, by: Responder) -> Response:
    """Someone takes (``replaces``: a user, or ``*`` for whoever is on call) or joins a
    schedule from ``start`` to ``end``."""
    made = paging.add_override(
        context(request),
        body.schedule,
        body.user,
        body.start,
        body.end,
        by,
        replaces=body.replaces,
        reason=body.reason,
    )
    return JSONResponse(status_code=201, content=made)


@router.get("/api/v1/overrides")
async def list_overrides(request: Request, _by: Reader) -> Response:
    """Overrides that have not ended (``?schedule=`` for one schedule)."""
    found = paging.overrides(context(request), request.query_params.get("schedule"))
    return JSONResponse([paging.override_json(i, o) for i, o in found])


@router.delete("/api/v1/overrides/{override_id}")
async def delete_override(request: Request, override_id: RowId, _by: Responder) -> Response:
    paging.remove_override(context(request), override_id)
    return Response(status_code=204)
