"""Postmortems and action items in the native API.

- ``GET /api/v1/incidents/{id}/postmortem``: the postmortem draft, Markdown
- ``GET /api/v1/action-items?status=&overdue=true&owner=&incident=&limit=&offset=``: a list
  as every list of the native API (``api.lists``)
- ``POST /api/v1/incidents/{id}/action-items``: ``{title, owner, due?}`` (due: ISO 8601 or a
  duration from now such as ``7d``; default 7 days)
- ``PATCH /api/v1/action-items/{id}``: ``{status?, owner?, due?, title?}``

Viewers read; responders and admins write.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy import Connection

from tocsin.api.alertmanager import state_of
from tocsin.api.auth import require
from tocsin.api.errors import problem
from tocsin.api.lists import MAX_OFFSET, MAX_PAGE, page
from tocsin.config import Config
from tocsin.incidents.postmortem import ActionItem, build_context, render_postmortem
from tocsin.store import actions, repo
from tocsin.store.db import begin_write
from tocsin.store.schema import MAX_ROW_ID
from tocsin.times import parse_when

router = APIRouter()

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Owner = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Due = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Status = Literal["open", "done", "cancelled"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewActionItem(_Body):
    title: Title
    owner: Owner
    due: Due | None = None


class ActionItemChange(_Body):
    status: Status | None = None
    owner: Owner | None = None
    due: Due | None = None
    title: Title | None = None


class ActionItemQuery(BaseModel):
    status: Status | None = None
    overdue: bool = False
    owner: Owner | None = None
    incident: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


def postmortem_markdown(
    conn: Connection, incident_id: int, config: Config, now: float
) -> str | None:
    """The incident's postmortem in Markdown (None: no such incident), from the team's
    template when the configuration has one."""
    row = repo.get_incident(conn, incident_id)
    if row is None:
        return None
    context = build_context(
        dict(row._mapping),
        [m.alert for m in repo.incident_members(conn, incident_id)],
        repo.incident_events(conn, incident_id),
        actions.for_incident(conn, incident_id),
        now,
    )
    return render_postmortem(context, config.postmortem)


def _invalid(exc: ValidationError, where: str) -> RequestValidationError:
    """A pydantic error as the request validation error the one error shape answers (422)."""
    return RequestValidationError(
        [{"loc": (where, *e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    )


async def _body(request: Request, model: type[_Body]) -> Any:
    try:
        data = await request.json()
    except ValueError:
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "the body must be a JSON object", "type": "json_invalid"}]
        ) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc, "body") from None


def _due(text: str | None, now: float) -> float | None:
    if text is None:
        return None
    try:
        return parse_when(text, now)
    except ValueError as exc:
        raise RequestValidationError(
            [{"loc": ("body", "due"), "msg": str(exc), "type": "value_error"}]
        ) from None


def _actor(request: Request) -> str:
    return str(getattr(request.state, "actor", "api"))


@router.get("/api/v1/incidents/{incident_id}/postmortem")
async def get_postmortem(request: Request, incident_id: int) -> Response:
    """The incident's postmortem draft (Markdown): timeline, figures, action items."""
    require(request, "read")
    state = state_of(request)
    text = None
    if repo.is_row_id(incident_id):
        with state.db.connect() as conn:
            text = postmortem_markdown(conn, incident_id, state.config, state.clock.now())
    if text is None:
        return problem(404, f"no incident {incident_id}")
    return Response(text, media_type="text/markdown; charset=utf-8")


@router.get("/api/v1/action-items")
async def list_action_items(request: Request) -> Response:
    """Action items, soonest due first: filter by status, owner, incident, overdue."""
    require(request, "read")
    state = state_of(request)
    try:
        query = ActionItemQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise _invalid(exc, "query") from None
    now = state.clock.now()
    with state.db.connect() as conn:
        items, total = actions.list_items(
            conn,
            incident_id=query.incident,
            status=query.status,
            owner=query.owner,
            overdue_at=now if query.overdue else None,
            limit=query.limit,
            offset=query.offset,
        )
    return page(request, [i.to_json(now) for i in items], total, query.limit, query.offset)


@router.post("/api/v1/incidents/{incident_id}/action-items")
async def add_action_item(request: Request, incident_id: int) -> Response:
    """A new action item on the incident (due in 7 days unless ``due``); on its timeline."""
    require(request, "respond")
    state = state_of(request)
    body: NewActionItem = await _body(request, NewActionItem)
    now = state.clock.now()
    due = _due(body.due, now)
    actor = _actor(request)

    def run() -> ActionItem | None:
        if not repo.is_row_id(incident_id):
            return None
        with begin_write(state.db) as conn:
            if repo.get_incident(conn, incident_id) is None:
                return None
            return actions.add(conn, incident_id, body.title, body.owner, now, actor, due)

    item = await asyncio.to_thread(run)
    if item is None:
        return problem(404, f"no incident {incident_id}")
    return JSONResponse(item.to_json(now), status_code=201)


@router.patch("/api/v1/action-items/{item_id}")
async def change_action_item(request: Request, item_id: int) -> Response:
    """Change an item's status, owner, due time or title; done and cancelled close it."""
    require(request, "respond")
    state = state_of(request)
    body: ActionItemChange = await _body(request, ActionItemChange)
    now = state.clock.now()
    due = _due(body.due, now)
    actor = _actor(request)

    def run() -> ActionItem | None:
        if not repo.is_row_id(item_id):
            return None
        with begin_write(state.db) as conn:
            return actions.change(
                conn,
                item_id,
                now,
                actor,
                status=body.status,
                owner=body.owner,
                due_at=due,
                title=body.title,
            )

    item = await asyncio.to_thread(run)
    if item is None:
        return problem(404, f"no action item {item_id}")
    return JSONResponse(item.to_json(now))
