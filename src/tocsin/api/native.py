"""tocsin's native API (``/api/v1``): incidents (list with filters and pagination, the record,
notes, assignment, reopening, runbook sections), their timeline and alert history.

Each route translates: the request into a call of the service layer (``tocsin.service``),
its answer into JSON. Lists answer a JSON array; ``X-Total-Count`` gives the number of
matches and ``Link`` (RFC 8288, ``rel="next"``) the next page. Every 4xx has one shape
(``api.errors``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tocsin import times
from tocsin.alerts.payloads import OutOfRange, parse_time
from tocsin.api.auth import Reader, Responder
from tocsin.api.context import context
from tocsin.api.errors import RowId, invalid_is_400
from tocsin.api.lists import MAX_OFFSET, MAX_PAGE, after_page, page
from tocsin.errors import Invalid
from tocsin.incidents.lifecycle import MAX_NAME_CHARS, MAX_NOTE_CHARS
from tocsin.service import incidents, record
from tocsin.store.schema import MAX_ROW_ID

router = APIRouter()


def query_time(name: str, value: str, around: float | None = None) -> datetime:
    """A time in a query parameter (RFC 3339); ``Invalid`` names the parameter when it is
    none, or one outside years 1 to 9999 in UTC, or (given ``around``) more than a century
    from it."""
    try:
        parsed = parse_time(value, name)
        if parsed is not None and around is not None:
            times.parse_time(value, around=around)
    except OutOfRange as exc:
        raise Invalid(exc.message) from None  # names the parameter
    except times.OutOfRange as exc:
        raise Invalid(f"{name}: {exc.message}") from None
    except ValueError:
        parsed = None
    if parsed is None:
        raise Invalid(f"{name} must be an RFC 3339 time, such as 2027-01-15T08:00:00Z")
    return parsed


def _time_param(name: str, value: str | None) -> float | None:
    return None if value is None else times.to_ts(query_time(name, value))


@router.get("/api/v1/incidents")
@invalid_is_400
async def list_incidents(
    request: Request,
    _by: Reader,
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
    statuses = status.split(",") if status else None
    if statuses:  # checked before the times, as it always was
        record.check_statuses(statuses)
    found, total = record.list_incidents(
        context(request),
        statuses=statuses,
        severities=severity.split(",") if severity else None,
        route=route,
        assignee=assignee,
        since=_time_param("since", since),
        until=_time_param("until", until),
        limit=limit,
        offset=offset,
    )
    return page(request, found, total, limit, offset)


@router.get("/api/v1/incidents/{incident_id}")
async def get_incident(request: Request, _by: Reader, incident_id: RowId) -> Response:
    """The incident record: its fields, alerts, response figures (time to acknowledge and to
    resolve, pages, escalations) and the runbook sections for its alerts."""
    return JSONResponse(record.record(context(request), incident_id))


@router.get("/api/v1/incidents/{incident_id}/timeline")
async def get_timeline(
    request: Request,
    _by: Reader,
    incident_id: RowId,
    kind: Annotated[
        str | None, Query(max_length=500, description="Comma-separated event kinds.")
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_ROW_ID, description="Events after this event id.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=record.MAX_TIMELINE_PAGE)] = record.TIMELINE_PAGE,
    latest: Annotated[
        bool, Query(description="The last `limit` events, with X-Total-Count.")
    ] = False,
) -> Response:
    """The typed events of the incident, oldest first (kinds: docs/response.md), a page at a
    time: at most ``limit`` after event id ``after``; ``Link`` (``rel="next"``) gives the
    next page while more follow. ``latest``: the last ``limit`` events (oldest first) and
    ``X-Total-Count``, how many there are."""
    kinds = set(kind.split(",")) if kind else None
    if latest:
        found, total = record.latest_timeline(context(request), incident_id, kinds, limit)
        answer = JSONResponse(found)
        answer.headers["X-Total-Count"] = str(total)
        return answer
    events, more = record.timeline(context(request), incident_id, kinds, after, limit)
    return after_page(request, events, more, limit)


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


@router.post("/api/v1/incidents/{incident_id}/notes", status_code=201)
async def add_note(request: Request, incident_id: RowId, body: NoteBody, by: Responder) -> Response:
    """A note on the incident's timeline, by the token's name."""
    noted = incidents.note(context(request), incident_id, body.text, by)
    return JSONResponse(noted, status_code=201)


@router.patch("/api/v1/incidents/{incident_id}")
async def update_incident(
    request: Request, incident_id: RowId, body: AssignBody, by: Responder
) -> Response:
    """Assign the incident (``assignee``) or name its incident commander (``commander``)."""
    changes = body.model_dump(exclude_unset=True)
    return JSONResponse(incidents.assign(context(request), incident_id, changes, by))


@router.post("/api/v1/incidents/{incident_id}/reopen")
async def reopen_incident(
    request: Request,
    incident_id: RowId,
    by: Responder,
    body: Annotated[ReopenBody | None, Body()] = None,
) -> Response:
    """Reopen a resolved incident: it becomes acknowledged by whoever reopens it."""
    reason = body.reason if body else ""
    return JSONResponse(incidents.reopen(context(request), incident_id, reason, by))


@router.get("/api/v1/incidents/{incident_id}/runbook")
async def get_runbook(request: Request, _by: Reader, incident_id: RowId) -> Response:
    """The runbook sections for the incident's alerts (with the variant for its severity
    first). A read: nothing is recorded (``POST`` records that a responder opened them)."""
    return JSONResponse(incidents.runbook(context(request), incident_id))


@router.post("/api/v1/incidents/{incident_id}/runbook")
async def open_runbook(request: Request, by: Responder, incident_id: RowId) -> Response:
    """Open the runbook: the sections, as ``GET`` answers them, and the timeline records that
    the caller opened each (``runbook_opened``, once per person and section)."""
    return JSONResponse(incidents.open_runbook(context(request), incident_id, by))


@router.get("/api/v1/alerts/history")
async def alert_history(
    request: Request,
    _by: Reader,
    fingerprint: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 200,
    before: Annotated[
        int | None, Query(ge=0, le=MAX_ROW_ID, description="Episodes older than this id.")
    ] = None,
) -> Response:
    """Every stored episode, newest first; resolved ones included. ``Link`` (``rel="next"``)
    gives the older ones while there are more."""
    found, more = record.alert_history(context(request), fingerprint, limit, before)
    return after_page(request, found, more, limit, cursor="before")
