"""Status updates in the native API: post one (rendered, recorded and sent to the incident's
channels) and list an incident's updates (``service.updates``)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tocsin.api.auth import Reader, Responder
from tocsin.api.context import context
from tocsin.api.errors import RowId
from tocsin.incidents.updates import MAX_MESSAGE_CHARS
from tocsin.service import updates

router = APIRouter()


class StatusUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: str = Field(max_length=32)
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    template: str | None = Field(default=None, max_length=200)  # a default or runbook template
    impact: str | None = Field(default=None, max_length=updates.MAX_IMPACT_CHARS)
    public: bool = False  # also on the public status page (its message only)


@router.post("/api/v1/incidents/{incident_id}/status-updates", status_code=201)
async def post_status_update(
    request: Request, incident_id: RowId, body: StatusUpdateIn, by: Responder
) -> Response:
    """Post a status update: its text (rendered from the template) goes to the incident's
    channels; the stage ``resolved`` does not resolve the paging."""
    posted = await asyncio.to_thread(
        updates.post,
        context(request),
        incident_id,
        body.stage,
        body.message,
        by,
        template=body.template,
        impact=body.impact,
        public=body.public,
    )
    return JSONResponse(posted.to_json(), status_code=201)


@router.get("/api/v1/incidents/{incident_id}/status-updates")
async def list_status_updates(request: Request, _by: Reader, incident_id: RowId) -> Response:
    """The incident's status updates, oldest first."""
    return JSONResponse(updates.history(context(request), incident_id))
