"""tocsin's native API (``/api/v1``): incidents (list with filters and pagination, the record,
notes, assignment, reopening, runbook sections), their timeline and alert history.

Lists answer a JSON array; ``X-Total-Count`` gives the number of matches and ``Link`` (RFC
8288, ``rel="next"``) the next page. Every 4xx has one shape (``api.errors``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from tocsin.alerts.payloads import format_time, parse_time
from tocsin.api.alertmanager import state_of
from tocsin.api.auth import require
from tocsin.api.errors import RowId, problem
from tocsin.api.lists import MAX_OFFSET, MAX_PAGE, page
from tocsin.api.state import AppState
from tocsin.engine import lifecycle
from tocsin.engine.paging import Pager
from tocsin.incidents.figures import figures
from tocsin.incidents.lifecycle import MAX_NAME_CHARS, MAX_NOTE_CHARS, STATUSES
from tocsin.incidents.sections import sections
from tocsin.store import repo
from tocsin.store.db import begin_write
from tocsin.store.schema import incidents

router = APIRouter()


def _at(ts: float | None) -> str | None:
    return format_time(repo.to_dt(ts)) if ts is not None else None


def incident_json(row: Any) -> dict[str, Any]:
    """An incident as the API shows it (lists and the record share these fields)."""
    return {
        "id": row.id,
        "number": row.id,
        "title": row.title,
        "group_key": row.group_key,
        "route": row.route_id,
        "receiver": row.receiver,
        "group_labels": json.loads(row.group_labels),
        "status": row.status,
        "stage": row.stage,
        "severity": row.severity,
        "assignee": row.assignee,
        "commander": row.commander,
        "opened_at": _at(row.opened_at),
        "triggered_at": _at(row.triggered_at),
        "acknowledged_at": _at(row.acknowledged_at),
        "acknowledged_by": row.acknowledged_by,
        "resolved_at": _at(row.resolved_at),
        "resolved_by": row.resolved_by,
        "reopened_at": _at(row.reopened_at),
        "last_alert_at": _at(row.last_alert_at),
        "last_flush_at": _at(row.last_flush_at),
        "last_update_at": _at(row.last_update_at),
    }


def _pager(state: AppState) -> Pager:
    return state.engine.pager if state.engine is not None else Pager(state.config, state.catalog)


def incident_record(state: AppState, conn: Any, row: Any) -> dict[str, Any]:
    """The whole record: the incident, its alerts, response figures and runbook sections."""
    members = repo.incident_members(conn, row.id)
    body = incident_json(row)
    now = repo.to_dt(state.clock.now())
    body["alerts"] = [
        {
            "fingerprint": m.fingerprint,
            "status": "resolved" if m.alert.resolved(now) else "firing",
            "labels": m.labels,
            "annotations": m.alert.annotations,
            "starts_at": format_time(m.alert.starts_at),
            "ends_at": format_time(m.alert.ends_at),
        }
        for m in members
    ]
    body["figures"] = figures(repo.incident_events(conn, row.id), row.opened_at).to_json()
    body["runbooks"] = incident_sections(
        state, [m.labels.get("alertname", "") for m in members], row
    )
    return body


def incident_sections(state: AppState, names: list[str], row: Any) -> list[dict[str, Any]]:
    pager = _pager(state)
    link: Callable[[str, str], str] = pager._runbook_link
    return sections(state.catalog, sorted(names), row.severity, link)


# --------------------------------------------------------------------------- incidents


def _list_query(
    status: str | None,
    severity: str | None,
    route: str | None,
    assignee: str | None,
    since: float | None,
    until: float | None,
) -> Any:
    query = select(incidents)
    if status:
        query = query.where(incidents.c.status.in_(status.split(",")))
    if severity:
        query = query.where(incidents.c.severity.in_(severity.split(",")))
    if route:
        query = query.where(incidents.c.route_id == route)
    if assignee:
        query = query.where(incidents.c.assignee == assignee)
    if since is not None:
        query = query.where(incidents.c.opened_at >= since)
    if until is not None:
        query = query.where(incidents.c.opened_at < until)
    return query


def _time_param(name: str, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        parsed = parse_time(value, name)
    except ValueError:
        parsed = None
    if parsed is None:
        raise _BadParam(f"{name} must be an RFC 3339 time, such as 2027-01-15T08:00:00Z")
    return repo.to_ts(parsed)


class _BadParam(ValueError):
    pass


@router.get("/api/v1/incidents")
async def list_incidents(
    request: Request,
    status: Annotated[
        str | None, Query(max_length=100, description="Comma-separated statuses.")
    ] = None,
    severity: Annotated[
        str | None, Query(max_length=200, description="Comma-separated severities.")
    ] = None,
    route: Annotated[str | None, Query(max_length=500)] = None,
    assignee: Annotated[str | None, Query(max_length=MAX_NAME_CHARS)] = None,
    since: Annotated[str | None, Query(max_length=64, description="Opened at or after.")] = None,
    until: Annotated[str | None, Query(max_length=64, description="Opened before.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    """Incidents, newest first."""
    require(request, "read")
    if status and any(s not in STATUSES for s in status.split(",")):
        return problem(400, "status must be among " + ", ".join(STATUSES))
    try:
        start, end = _time_param("since", since), _time_param("until", until)
    except _BadParam as exc:
        return problem(400, str(exc))
    query = _list_query(status, severity, route, assignee, start, end)
    with state_of(request).db.connect() as conn:
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = list(conn.execute(query.order_by(incidents.c.id.desc()).limit(limit).offset(offset)))
    return page(request, [incident_json(r) for r in rows], total, limit, offset)


@router.get("/api/v1/incidents/{incident_id}")
async def get_incident(request: Request, incident_id: RowId) -> Response:
    """The incident record: its fields, alerts, response figures (time to acknowledge and to
    resolve, pages, escalations) and the runbook sections for its alerts."""
    require(request, "read")
    state = state_of(request)
    with state.db.connect() as conn:
        row = repo.get_incident(conn, incident_id)
        if row is None:
            return problem(404, f"no incident {incident_id}")
        return JSONResponse(incident_record(state, conn, row))


@router.get("/api/v1/incidents/{incident_id}/timeline")
async def get_timeline(
    request: Request,
    incident_id: RowId,
    kind: Annotated[
        str | None, Query(max_length=500, description="Comma-separated event kinds.")
    ] = None,
) -> Response:
    """The typed events of the incident, oldest first (kinds: docs/response.md)."""
    require(request, "read")
    with state_of(request).db.connect() as conn:
        if repo.get_incident(conn, incident_id) is None:
            return problem(404, f"no incident {incident_id}")
        events = repo.incident_timeline(conn, incident_id)
    if kind:
        wanted = set(kind.split(","))
        events = [e for e in events if e["kind"] in wanted]
    return JSONResponse(events)


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_NOTE_CHARS)


class AssignBody(BaseModel):
    """Set a role to a configured user's name; "" (or null) clears it. Omitted: unchanged."""

    model_config = ConfigDict(extra="forbid")
    assignee: str | None = Field(default=None, max_length=MAX_NAME_CHARS)
    commander: str | None = Field(default=None, max_length=MAX_NAME_CHARS)


class ReopenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=1000)


def _actor(request: Request) -> str:
    return str(getattr(request.state, "actor", "api"))


def _write(
    request: Request, incident_id: int, act: Callable[[Any, AppState, float], Any], status: int
) -> Response:
    state = state_of(request)
    try:
        with begin_write(state.db) as conn:
            result = act(conn, state, state.clock.now())
            row = repo.get_incident(conn, incident_id)
    except lifecycle.Refused as refused:
        return problem(refused.status, refused.message)
    body = result if isinstance(result, dict) else incident_json(row)
    return JSONResponse(body, status_code=status)


@router.post("/api/v1/incidents/{incident_id}/notes", status_code=201)
async def add_note(request: Request, incident_id: RowId, body: NoteBody) -> Response:
    """A note on the incident's timeline, by the token's name."""
    require(request, "respond")
    actor = _actor(request)
    return _write(
        request,
        incident_id,
        lambda conn, _s, now: lifecycle.note(conn, incident_id, body.text, actor, now),
        201,
    )


@router.patch("/api/v1/incidents/{incident_id}")
async def update_incident(request: Request, incident_id: RowId, body: AssignBody) -> Response:
    """Assign the incident (``assignee``) or name its incident commander (``commander``)."""
    require(request, "respond")
    actor = _actor(request)
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        return problem(422, "nothing to change: give assignee or commander")

    def act(conn: Any, state: AppState, now: float) -> None:
        known = set(state.config.paging.users)
        lifecycle.assign(conn, incident_id, changes, known, actor, now)

    return _write(request, incident_id, act, 200)


@router.post("/api/v1/incidents/{incident_id}/reopen")
async def reopen_incident(
    request: Request, incident_id: RowId, body: Annotated[ReopenBody | None, Body()] = None
) -> Response:
    """Reopen a resolved incident: it becomes acknowledged by whoever reopens it."""
    require(request, "respond")
    actor = _actor(request)
    reason = body.reason if body else ""
    return _write(
        request,
        incident_id,
        lambda conn, state, now: lifecycle.reopen(
            conn, incident_id, reason, actor, now, state.config
        ),
        200,
    )


@router.get("/api/v1/incidents/{incident_id}/runbook")
async def open_runbook(request: Request, incident_id: RowId) -> Response:
    """The runbook sections for the incident's alerts (with the variant for its severity
    first); the timeline records who opened which section (once each)."""
    require(request, "read")
    actor = _actor(request)
    state = state_of(request)
    with begin_write(state.db) as conn:
        row = repo.get_incident(conn, incident_id)
        if row is None:
            return problem(404, f"no incident {incident_id}")
        names = [m.labels.get("alertname", "") for m in repo.incident_members(conn, incident_id)]
        found = incident_sections(state, names, row)
        lifecycle.runbook_opened(conn, incident_id, found, actor, state.clock.now())
    return JSONResponse(found)


# --------------------------------------------------------------------------- alerts


@router.get("/api/v1/alerts/history")
async def alert_history(
    request: Request,
    fingerprint: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 200,
) -> Response:
    """Every stored episode, newest first; resolved ones included."""
    require(request, "read")
    with state_of(request).db.connect() as conn:
        found = repo.alert_history(conn, fingerprint, limit)
    return JSONResponse(
        [
            {
                "id": a.id,
                "fingerprint": a.fingerprint,
                "labels": a.labels,
                "annotations": a.alert.annotations,
                "starts_at": format_time(a.alert.starts_at),
                "ends_at": format_time(a.alert.ends_at),
            }
            for a in found
        ]
    )
