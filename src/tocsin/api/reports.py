"""``GET /api/v1/reports?since=30d``: response times, pages, noisy alerts, missed deadlines,
out-of-hours pages and runbook coverage over a window (``incidents.stats``)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from tocsin.api.auth import require
from tocsin.api.errors import problem
from tocsin.api.state import AppState
from tocsin.incidents import stats
from tocsin.store import reports
from tocsin.times import parse_since

router = APIRouter()
DEFAULT_SINCE = "30d"


def build(
    state: AppState, since: float, until: float, hours: stats.WorkingHours | None = None
) -> stats.Report:
    """The report of ``[since, until)`` from ``state``'s database, configuration and runbooks."""
    with state.db.connect() as conn:
        rows = reports.window(conn, since, until)
    zones = {name: user.timezone for name, user in state.config.paging.users.items()}
    documented = [alert.name for _, alert in state.catalog.alerts()] if state.catalog else []
    return stats.report(
        since,
        until,
        rows.incidents,
        rows.episodes,
        rows.pages,
        runbook_alerts=documented,
        zones=zones,
        hours=hours,
    )


@router.get("/api/v1/reports")
async def get_report(
    request: Request,
    since: Annotated[
        str, Query(max_length=64, description="A duration back from now (30d) or ISO 8601.")
    ] = DEFAULT_SINCE,
    until: Annotated[str | None, Query(max_length=64, description="The same; default now.")] = None,
) -> Response:
    """The response report over [since, until): docs/response.md."""
    require(request, "read")
    state: AppState = request.app.state.tocsin
    now = state.clock.now()
    bounds: dict[str, float] = {}
    for name, text in (("since", since), ("until", until)):
        if text is None:
            bounds[name] = now
            continue
        try:
            bounds[name] = parse_since(text, now)
        except ValueError as exc:
            return problem(400, f"{name}: {exc}")
    if bounds["since"] >= bounds["until"]:
        return problem(400, "since must be before until")
    report = await asyncio.to_thread(build, state, bounds["since"], bounds["until"])
    body: dict[str, Any] = report.to_json()
    return JSONResponse(body)
