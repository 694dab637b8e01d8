"""Heartbeats in the native API: ``POST /api/v1/heartbeats/{name}`` beats (an intake token,
as a job or a script holds), ``GET /api/v1/heartbeats`` lists the monitors and their state.
The received alerts that beat a monitor (``from_alert``) are the intakes' (``beat_by``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from tocsin.alerts.model import Alert
from tocsin.api.auth import Reader, require
from tocsin.api.context import context, state_of
from tocsin.service import heartbeats

router = APIRouter()


@router.post("/api/v1/heartbeats/{name}")
async def beat(request: Request, name: str) -> Response:
    """A beat of the configured heartbeat ``name`` (404 when none has that name)."""
    require(request, "intake")
    done = await asyncio.to_thread(heartbeats.beat, context(request), name)
    return JSONResponse(done)


@router.get("/api/v1/heartbeats")
async def listing(request: Request, _by: Reader) -> Response:
    """Every configured heartbeat with its state, last beat and deadline."""
    return JSONResponse(
        {"heartbeats": await asyncio.to_thread(heartbeats.listing, context(request))}
    )


async def beat_by(request: Request, alerts: Sequence[Alert]) -> None:
    """After an intake stored its alerts: those that match a heartbeat's ``from_alert`` beat
    it (nothing to do, and no thread, when no heartbeat watches alerts)."""
    if alerts and any(m.matchers for m in state_of(request).config.heartbeats):
        await asyncio.to_thread(heartbeats.seen, context(request), alerts)
