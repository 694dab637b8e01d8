"""Paging in the native API: acknowledge, resolve, escalate now, the notifications of an
incident with every delivery attempt, who is on call, overrides, and iCal feeds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from tocsin.alerts.payloads import StructuralError, parse_time
from tocsin.api.alertmanager import state_of
from tocsin.api.auth import require
from tocsin.api.errors import RowId, problem
from tocsin.api.state import AppState
from tocsin.engine.paging import Pager
from tocsin.oncall.ical import calendar
from tocsin.oncall.schedule import (
    Override,
    Shift,
    next_handoff,
    on_call,
    override_problems,
    shifts,
    user_shifts,
)
from tocsin.store import outbox, repo
from tocsin.store.db import begin_write

router = APIRouter()
MAX_FEED_DAYS = 92


def _pager(state: AppState) -> Pager:
    if state.engine is not None:
        return state.engine.pager
    return Pager(state.config)


def _wake(state: AppState) -> None:
    if state.engine is not None:
        state.engine.wake.set()


def _actor(request: Request) -> str:
    return str(getattr(request.state, "actor", "api"))


async def _act(request: Request, incident_id: RowId, action: str) -> Response:
    require(request, "respond")
    state = state_of(request)
    pager = _pager(state)
    actor = _actor(request)
    now = state.clock.now()

    def run() -> str | None:
        with begin_write(state.db) as conn:
            if action == "ack":
                return pager.acknowledge(conn, incident_id, actor, now)
            if action == "resolve":
                return pager.resolve(conn, incident_id, actor, now)
            incident = repo.get_incident(conn, incident_id)
            if incident is None:
                return "no such incident"
            if incident.status != "triggered":
                return f"the incident is {incident.status}; only a triggered incident escalates"
            if not pager.escalate(conn, incident_id, now, reason="escalated by hand", by=actor):
                return "the incident has no escalation left to run"
            return None

    error = await asyncio.to_thread(run)
    if error == "no such incident":
        return problem(404, f"no incident {incident_id}")
    if error is not None:
        return problem(409, error)
    _wake(state)
    with state.db.connect() as conn:
        row = repo.get_incident(conn, incident_id)
    from tocsin.api.native import incident_json

    return JSONResponse(incident_json(row))


@router.post("/api/v1/incidents/{incident_id}/ack")
async def acknowledge(request: Request, incident_id: RowId) -> Response:
    """Acknowledge: escalation stops (it may restart when the policy's ack_timeout lapses)."""
    return await _act(request, incident_id, "ack")


@router.post("/api/v1/incidents/{incident_id}/resolve")
async def resolve(request: Request, incident_id: RowId) -> Response:
    """Resolve by hand: escalation stops and the route's channels are told."""
    return await _act(request, incident_id, "resolve")


@router.post("/api/v1/incidents/{incident_id}/escalate")
async def escalate_now(request: Request, incident_id: RowId) -> Response:
    """Escalate now: the next step of the policy fires at once."""
    return await _act(request, incident_id, "escalate")


@router.get("/api/v1/incidents/{incident_id}/notifications")
async def notifications(request: Request, incident_id: RowId) -> Response:
    """Every notification of the incident with every delivery attempt."""
    require(request, "read")
    state = state_of(request)
    with state.db.connect() as conn:
        if repo.get_incident(conn, incident_id) is None:
            return problem(404, f"no incident {incident_id}")
        return JSONResponse(outbox.for_incident(conn, incident_id))


def _when(request: Request, name: str = "at") -> datetime:
    value = request.query_params.get(name)
    if not value:
        return repo.to_dt(state_of(request).clock.now())
    return parse_time(value, name) or repo.to_dt(state_of(request).clock.now())


def _overrides(state: AppState, start: datetime, end: datetime) -> list[Override]:
    with state.db.connect() as conn:
        return [o for _id, o in outbox.overrides_between(conn, start.timestamp(), end.timestamp())]


def _shift_json(shift: Shift | None) -> dict[str, Any] | None:
    if shift is None:
        return None
    return {
        "users": list(shift.users),
        "start": shift.start.isoformat(),
        "end": shift.end.isoformat(),
    }


def oncall_now(state: AppState, at: datetime, name: str | None = None) -> list[dict[str, Any]]:
    """Who is on call in each schedule (or one) at ``at``, until when, and who is next."""
    paging = state.config.paging
    names = [name] if name else sorted(paging.schedules)
    found = _overrides(state, at - timedelta(days=1), at + timedelta(days=MAX_FEED_DAYS))
    out = []
    for schedule_name in names:
        schedule = paging.schedules[schedule_name]
        mine = [o for o in found if o.schedule == schedule_name]
        users = on_call(schedule, at, mine)
        nxt = next_handoff(schedule, at, mine)
        out.append(
            {
                "schedule": schedule_name,
                "at": at.isoformat(),
                "users": [
                    {
                        "name": u,
                        "email": paging.users[u].email if u in paging.users else None,
                        "timezone": paging.users[u].timezone if u in paging.users else None,
                    }
                    for u in users
                ],
                "until": nxt.start.isoformat() if nxt else None,
                "next": _shift_json(nxt),
            }
        )
    return out


@router.get("/api/v1/oncall")
async def get_oncall(request: Request) -> Response:
    """Who is on call now (or ``?at=``), per schedule (or ``?schedule=``)."""
    require(request, "read")
    state = state_of(request)
    name = request.query_params.get("schedule")
    if name and name not in state.config.paging.schedules:
        return problem(404, f"no schedule {name!r}")
    try:
        at = _when(request)
    except StructuralError as exc:
        return problem(400, str(exc))
    return JSONResponse(await asyncio.to_thread(oncall_now, state, at, name))


def _feed_window(request: Request) -> tuple[datetime, datetime]:
    now = repo.to_dt(state_of(request).clock.now())
    days = min(int(request.query_params.get("days", "60")), MAX_FEED_DAYS)
    return now - timedelta(days=7), now + timedelta(days=max(days, 1))


@router.get("/api/v1/schedules/{name}/ical")
async def schedule_ical(request: Request, name: str) -> Response:
    """The schedule as an iCal feed (``?token=`` accepted for calendar clients)."""
    require(request, "read", allow_query_token=True)
    state = state_of(request)
    schedule = state.config.paging.schedules.get(name)
    if schedule is None:
        return problem(404, f"no schedule {name!r}")
    try:
        start, end = _feed_window(request)
    except ValueError:
        return problem(400, "days must be a whole number")
    found = [o for o in _overrides(state, start, end) if o.schedule == name]
    body = calendar(f"tocsin: {name}", shifts(schedule, start, end, found))
    return Response(body, media_type="text/calendar; charset=utf-8")


@router.get("/api/v1/users/{name}/ical")
async def user_ical(request: Request, name: str) -> Response:
    """A person's on-call shifts over every schedule, as an iCal feed."""
    require(request, "read", allow_query_token=True)
    state = state_of(request)
    if name not in state.config.paging.users:
        return problem(404, f"no user {name!r}")
    try:
        start, end = _feed_window(request)
    except ValueError:
        return problem(400, "days must be a whole number")
    found = _overrides(state, start, end)
    mine: list[Shift] = []
    for schedule_name, schedule in sorted(state.config.paging.schedules.items()):
        relevant = [o for o in found if o.schedule == schedule_name]
        mine.extend(user_shifts(schedule, name, start, end, relevant))
    mine.sort(key=lambda s: s.start)
    return Response(
        calendar(f"tocsin: {name} on call", mine), media_type="text/calendar; charset=utf-8"
    )


class OverrideBody(BaseModel):
    schedule: str
    user: str
    start: datetime
    end: datetime
    replaces: str | None = None
    reason: str = Field("", max_length=1000)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@router.post("/api/v1/overrides")
async def create_override(request: Request) -> Response:
    """Someone takes (``replaces``: a user, or ``*`` for whoever is on call) or joins a
    schedule from ``start`` to ``end``."""
    require(request, "respond")
    state = state_of(request)
    try:
        body = OverrideBody.model_validate(await request.json())
    except ValidationError as exc:
        return problem(
            400, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        )
    except ValueError:
        return problem(400, "the body must be JSON")
    body = body.model_copy(update={"start": _aware(body.start), "end": _aware(body.end)})
    override = Override(body.schedule, body.start, body.end, body.user, body.replaces)
    paging = state.config.paging
    error = override_problems(override, paging.schedules, paging.users)
    if error:
        return problem(400, error)
    with begin_write(state.db) as conn:
        new_id = outbox.add_override(
            conn, override, _actor(request), state.clock.now(), body.reason
        )
    return JSONResponse(status_code=201, content={"id": new_id, **_override_json(override)})


def _override_json(o: Override) -> dict[str, Any]:
    return {
        "schedule": o.schedule,
        "user": o.user,
        "replaces": o.replaces,
        "start": o.start.isoformat(),
        "end": o.end.isoformat(),
    }


@router.get("/api/v1/overrides")
async def list_overrides(request: Request) -> Response:
    """Overrides that have not ended (``?schedule=`` for one schedule)."""
    require(request, "read")
    state = state_of(request)
    now = state.clock.now()
    with state.db.connect() as conn:
        found = outbox.overrides_between(
            conn, now, now + 3650 * 86400.0, request.query_params.get("schedule")
        )
    return JSONResponse([{"id": i, **_override_json(o)} for i, o in found])


@router.delete("/api/v1/overrides/{override_id}")
async def delete_override(request: Request, override_id: RowId) -> Response:
    require(request, "respond")
    state = state_of(request)
    with begin_write(state.db) as conn:
        if not outbox.delete_override(conn, override_id):
            return problem(404, f"no override {override_id}")
    return Response(status_code=204)
