"""tocsin's native API (``/api/v1``): incidents, their timeline and alert history."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from tocsin.alerts.payloads import format_time
from tocsin.api.alertmanager import state_of
from tocsin.api.auth import require
from tocsin.api.errors import problem
from tocsin.store import repo
from tocsin.store.schema import incidents

router = APIRouter()


def incident_json(row: Any) -> dict[str, Any]:
    def at(ts: float | None) -> str | None:
        return format_time(repo.to_dt(ts)) if ts is not None else None

    return {
        "id": row.id,
        "group_key": row.group_key,
        "route": row.route_id,
        "receiver": row.receiver,
        "group_labels": json.loads(row.group_labels),
        "status": row.status,
        "severity": row.severity,
        "opened_at": at(row.opened_at),
        "triggered_at": at(row.triggered_at),
        "acknowledged_at": at(row.acknowledged_at),
        "acknowledged_by": row.acknowledged_by,
        "resolved_by": row.resolved_by,
        "last_alert_at": at(row.last_alert_at),
        "resolved_at": at(row.resolved_at),
        "last_flush_at": at(row.last_flush_at),
    }


STATUSES = ("pending", "triggered", "acknowledged", "resolved")


@router.get("/api/v1/incidents")
async def list_incidents(request: Request) -> Response:
    require(request, "read")
    status = request.query_params.get("status")
    if status is not None and status not in STATUSES:
        return problem(400, "status must be one of " + ", ".join(STATUSES))
    try:
        limit = min(int(request.query_params.get("limit", "100")), 1000)
    except ValueError:
        return problem(400, "limit must be a whole number")
    query = select(incidents).order_by(incidents.c.id.desc()).limit(max(limit, 1))
    if status:
        query = query.where(incidents.c.status == status)
    with state_of(request).db.connect() as conn:
        rows = list(conn.execute(query))
    return JSONResponse([incident_json(r) for r in rows])


@router.get("/api/v1/incidents/{incident_id}")
async def get_incident(request: Request, incident_id: int) -> Response:
    require(request, "read")
    with state_of(request).db.connect() as conn:
        row = repo.get_incident(conn, incident_id)
        if row is None:
            return problem(404, f"no incident {incident_id}")
        members = repo.incident_members(conn, incident_id)
    body = incident_json(row)
    body["alerts"] = [
        {
            "fingerprint": m.fingerprint,
            "labels": m.labels,
            "starts_at": format_time(m.alert.starts_at),
            "ends_at": format_time(m.alert.ends_at),
        }
        for m in members
    ]
    return JSONResponse(body)


@router.get("/api/v1/incidents/{incident_id}/timeline")
async def get_timeline(request: Request, incident_id: int) -> Response:
    require(request, "read")
    with state_of(request).db.connect() as conn:
        if repo.get_incident(conn, incident_id) is None:
            return problem(404, f"no incident {incident_id}")
        return JSONResponse(repo.incident_timeline(conn, incident_id))


@router.get("/api/v1/alerts/history")
async def alert_history(request: Request) -> Response:
    """Every stored episode, newest first; resolved ones included."""
    require(request, "read")
    fingerprint = request.query_params.get("fingerprint")
    with state_of(request).db.connect() as conn:
        found = repo.alert_history(conn, fingerprint, 200)
    return JSONResponse(
        [
            {
                "id": a.id,
                "fingerprint": a.fingerprint,
                "labels": a.labels,
                "annotations": a.alert.annotations,
                "starts_at": format_time(a.alert.starts_at),
                "ends_at": format_time(a.alert.ends_at),
            }
            for a in found
        ]
    )
