"""Runbook commands that run, in the native API (``service.runs``, docs/execute.md): an
incident's numbered steps as they would run, a request to run one, an approval, a refusal,
a run again, and the record of its runs."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tocsin.api.auth import Reader, Responder
from tocsin.api.context import context
from tocsin.api.errors import RowId
from tocsin.runbooks.gate import MAX_TYPED_CHARS
from tocsin.service import runs

router = APIRouter()

# a placeholder's key (``pod``, ``namespace``) and the value a person typed for it
Typed = dict[
    Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_]+$")],
    Annotated[str, StringConstraints(max_length=MAX_TYPED_CHARS)],
]


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: int = Field(ge=1, le=10_000)  # the command's number (GET .../steps)
    # the asker approves a change too: the digest of the text they were shown
    approve: bool = False
    digest: str | None = Field(default=None, min_length=64, max_length=64)
    # values for placeholders no label fills, by placeholder key (``pod``, ``namespace``)
    fill: Typed = Field(default_factory=dict, max_length=50)


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    digest: str = Field(min_length=64, max_length=64)  # of the text the approver read
    confirm: str | None = Field(default=None, max_length=MAX_TYPED_CHARS * 4)  # destructive


class RefuseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=runs.MAX_REASON_CHARS)


class RerunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool = False


@router.get("/api/v1/incidents/{incident_id}/steps")
async def list_steps(
    request: Request,
    incident_id: RowId,
    _by: Reader,
    fill: list[str] = Query(default_factory=list, max_length=50),  # noqa: B008
) -> Response:
    """The incident's runbook commands, numbered, as they would run here: filled from its
    alerts' labels (and ``fill=key=value``), the runner that would run each, its digest."""
    typed = dict(item.partition("=")[::2] for item in fill)
    found = await asyncio.to_thread(runs.steps, context(request), incident_id, typed)
    return JSONResponse([runs.step_json(s) for s in found])


@router.post("/api/v1/incidents/{incident_id}/runs", status_code=201)
async def request_run(request: Request, incident_id: RowId, body: RunIn, by: Responder) -> Response:
    """Ask to run a step: a read command is queued at once, a change waits for an approval
    (or is approved with ``approve`` and the ``digest`` of the text shown), a destructive
    one waits for a second person."""
    run = await asyncio.to_thread(
        runs.request,
        context(request),
        incident_id,
        body.step,
        by,
        approve=body.approve,
        digest=body.digest,
        typed=body.fill,
    )
    return JSONResponse(run.to_json(), status_code=201)


@router.get("/api/v1/incidents/{incident_id}/runs")
async def list_runs(request: Request, incident_id: RowId, _by: Reader) -> Response:
    """The incident's runs, newest first, with their output."""
    found = await asyncio.to_thread(runs.runs_of, context(request), incident_id)
    return JSONResponse([r.to_json() for r in found])


@router.get("/api/v1/runs/{run_id}")
async def get_run(request: Request, run_id: RowId, _by: Reader) -> Response:
    run = await asyncio.to_thread(runs.run_of, context(request), run_id)
    return JSONResponse(run.to_json())


@router.post("/api/v1/runs/{run_id}/approve")
async def approve_run(request: Request, run_id: RowId, body: ApproveIn, by: Responder) -> Response:
    """Approve an awaiting run, whose text has the ``digest`` given; a destructive one by a
    second person, with its first line typed as ``confirm``."""
    run = await asyncio.to_thread(
        runs.approve, context(request), run_id, by, body.digest, body.confirm
    )
    return JSONResponse(run.to_json())


@router.post("/api/v1/runs/{run_id}/refuse")
async def refuse_run(request: Request, run_id: RowId, body: RefuseIn, by: Responder) -> Response:
    """Turn down an awaiting or queued run: it never runs."""
    run = await asyncio.to_thread(runs.refuse, context(request), run_id, by, body.reason)
    return JSONResponse(run.to_json())


@router.post("/api/v1/runs/{run_id}/rerun", status_code=201)
async def rerun(request: Request, run_id: RowId, body: RerunIn, by: Responder) -> Response:
    """Ask to run the run's command again, with the same values (through the gates again)."""
    run = await asyncio.to_thread(runs.rerun, context(request), run_id, by, approve=body.approve)
    return JSONResponse(run.to_json(), status_code=201)
