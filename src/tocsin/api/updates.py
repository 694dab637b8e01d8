"""Status updates in the native API: post one (rendered, recorded and sent to the incident's
channels) and list an incident's updates."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tocsin.api.alertmanager import state_of
from tocsin.api.auth import require
from tocsin.api.errors import RowId, problem
from tocsin.api.state import AppState
from tocsin.engine import updates
from tocsin.engine.paging import Pager
from tocsin.incidents.updates import MAX_MESSAGE_CHARS
from tocsin.store import repo
from tocsin.store.db import begin_write

router = APIRouter()


class StatusUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: str = Field(max_length=32)
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    template: str | None = Field(default=None, max_length=200)  # a default or runbook template
    impact: str | None = Field(default=None, max_length=updates.MAX_IMPACT_CHARS)


def _pager(state: AppState) -> Pager:
    if state.engine is not None:
        return state.engine.pager
    return Pager(state.config, state.catalog)


@router.post("/api/v1/incidents/{incident_id}/status-updates", status_code=201)
async def post_status_update(
    request: Request, incident_id: RowId, body: StatusUpdateIn
) -> Response:
    """Post a status update: its text (rendered from the template) goes to the incident's
    channels; the stage ``resolved`` does not resolve the paging."""
    require(request, "respond")
    state = state_of(request)
    pager = _pager(state)
    actor = str(getattr(request.state, "actor", "api"))
    now = state.clock.now()

    def run() -> updates.Posted:
        with begin_write(state.db) as conn:
            return updates.post(
                conn,
                pager,
                incident_id,
                body.stage,
                body.message,
                actor,
                now,
                template=body.template,
                impact=body.impact,
            )

    try:
        posted = await asyncio.to_thread(run)
    except updates.UpdateError as exc:
        return problem(exc.status, exc.message)
    if state.engine is not None:
        state.engine.wake.set()
    return JSONResponse(posted.to_json(), status_code=201)


@router.get("/api/v1/incidents/{incident_id}/status-updates")
async def list_status_updates(request: Request, incident_id: RowId) -> Response:
    """The incident's status updates, oldest first."""
    require(request, "read")
    state = state_of(request)
    with state.db.connect() as conn:
        if repo.get_incident(conn, incident_id) is None:
            return problem(404, f"no incident {incident_id}")
        return JSONResponse(updates.history(conn, incident_id))
