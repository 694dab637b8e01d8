"""Postmortems and action items in the native API (``service.postmortem``).

- ``GET /api/v1/incidents/{id}/postmortem``: the postmortem draft, Markdown
- ``PATCH /api/v1/incidents/{id}/postmortem``: ``{status}`` (draft, in-review, published;
  publishing closes the incident's open ``postmortem`` duty)
- ``GET /api/v1/action-items?status=&overdue=true&owner=&incident=&limit=&offset=``: a list
  as every list of the native API (``api.lists``)
- ``POST /api/v1/incidents/{id}/action-items``: ``{title, owner, due?}`` (due: ISO 8601 or a
  duration from now such as ``7d``; default 7 days)
- ``PATCH /api/v1/action-items/{id}``: ``{status?, owner?, due?, title?}``

Viewers read; responders and admins write.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tocsin.api.auth import Reader, Responder
from tocsin.api.context import context
from tocsin.api.lists import MAX_OFFSET, MAX_PAGE, page
from tocsin.service import postmortem
from tocsin.store.schema import MAX_ROW_ID

router = APIRouter()

Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=postmortem.MAX_TITLE_CHARS),
]
Owner = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=postmortem.MAX_OWNER_CHARS),
]
Due = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=postmortem.MAX_DUE_CHARS)
]
Status = Literal["open", "done", "cancelled"]
PostmortemStatus = Literal["draft", "in-review", "published"]


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


class PostmortemChange(_Body):
    status: PostmortemStatus


class ActionItemQuery(BaseModel):
    status: Status | None = None
    overdue: bool = False
    owner: Owner | None = None
    incident: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


@router.get("/api/v1/incidents/{incident_id}/postmortem")
async def get_postmortem(request: Request, _by: Reader, incident_id: int) -> Response:
    """The incident's postmortem draft (Markdown): timeline, figures, action items."""
    text = postmortem.postmortem_markdown(context(request), incident_id)
    return Response(text, media_type="text/markdown; charset=utf-8")


@router.patch("/api/v1/incidents/{incident_id}/postmortem")
async def change_postmortem(
    request: Request, incident_id: int, body: PostmortemChange, by: Responder
) -> Response:
    """Move the postmortem to draft, in-review or published (on the incident's timeline)."""
    changed = await asyncio.to_thread(
        postmortem.set_status, context(request), incident_id, body.status, by
    )
    return JSONResponse({"incident": incident_id, **changed})


@router.get("/api/v1/action-items")
async def list_action_items(
    request: Request, _by: Reader, query: Annotated[ActionItemQuery, Query()]
) -> Response:
    """Action items, soonest due first: filter by status, owner, incident, overdue."""
    found = postmortem.action_items(
        context(request),
        incident_id=query.incident,
        status=query.status,
        owner=query.owner,
        overdue=query.overdue,
        limit=query.limit,
        offset=query.offset,
    )
    return page(request, found.to_json(), found.total, query.limit, query.offset)


@router.post("/api/v1/incidents/{incident_id}/action-items")
async def add_action_item(
    request: Request, incident_id: int, body: NewActionItem, by: Responder
) -> Response:
    """A new action item on the incident (due in 7 days unless ``due``); on its timeline."""
    ctx = context(request)
    now = ctx.now()
    due = postmortem.due_at(body.due, now)
    item = await asyncio.to_thread(
        postmortem.add_action_item, ctx, incident_id, body.title, body.owner, by, due, now
    )
    return JSONResponse(item.to_json(now), status_code=201)


@router.patch("/api/v1/action-items/{item_id}")
async def change_action_item(
    request: Request, item_id: int, body: ActionItemChange, by: Responder
) -> Response:
    """Change an item's status, owner, due time or title; done and cancelled close it."""
    ctx = context(request)
    now = ctx.now()
    due = postmortem.due_at(body.due, now)
    item = await asyncio.to_thread(
        postmortem.change_action_item,
        ctx,
        item_id,
        by,
        status=body.status,
        owner=body.owner,
        due_at=due,
        title=body.title,
        now=now,
    )
    return JSONResponse(item.to_json(now))
