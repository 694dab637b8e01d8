"""``GET /api/v1/reports?since=30d``: response times, pages, noisy alerts, missed deadlines,
out-of-hours pages and runbook coverage over a window (``service.reports``)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from tocsin.api.auth import Reader
from tocsin.api.context import context
from tocsin.api.errors import invalid_is_400
from tocsin.errors import Invalid
from tocsin.service import reports
from tocsin.times import parse_since

router = APIRouter()
DEFAULT_SINCE = "30d"


@router.get("/api/v1/reports")
@invalid_is_400
async def get_report(
    request: Request,
    _by: Reader,
    since: Annotated[
        str, Query(max_length=64, description="A duration back from now (30d) or ISO 8601.")
    ] = DEFAULT_SINCE,
    until: Annotated[str | None, Query(max_length=64, description="The same; default now.")] = None,
) -> Response:
    """The response report over [since, until): docs/response.md."""
    ctx = context(request)
    now = ctx.now()
    bounds: dict[str, float] = {}
    for name, text in (("since", since), ("until", until)):
        try:
            bounds[name] = now if text is None else parse_since(text, now)
        except ValueError as exc:
            raise Invalid(f"{name}: {exc}") from None
    report = await asyncio.to_thread(reports.report, ctx, bounds["since"], bounds["until"])
    body: dict[str, Any] = report.to_json()
    return JSONResponse(body)
