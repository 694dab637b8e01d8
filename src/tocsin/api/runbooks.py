"""``GET /api/v1/runbooks/drift``: the configuration's runbooks beside the alerting rules the
configured Prometheus loaded (``service.drift``; docs/runbooks.md). No Prometheus configured
is a 422, one that cannot be read a 503, each with why."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from tocsin.api.auth import Reader
from tocsin.api.context import context
from tocsin.service import drift

router = APIRouter()


@router.get("/api/v1/runbooks/drift")
async def get_drift(request: Request, _by: Reader) -> Response:
    """The findings (alerting rules with no runbook, runbook alerts no rule defines,
    thresholds, ``for`` durations and severities that differ), their counts, the
    Prometheus's URL and when its rules were read. Only the configured Prometheus is read:
    the API takes no URL to fetch."""
    report = await asyncio.to_thread(drift.drift, context(request))
    body: dict[str, Any] = report.to_json()
    return JSONResponse(body)
