"""The public status page: the configuration's components with their state now, the
published incidents (those with a public status update) with their public updates only, and
90 days of history (``incidents.status`` decides; this reads). Nothing else of an incident
is shown: no labels, people, notes or internal updates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from tocsin.alerts.matchers import parse_matcher
from tocsin.incidents.status import (
    HISTORY_DAYS,
    Component,
    PublicUpdate,
    Span,
    affects,
    history,
    public_updates,
    state_for,
    worst,
)
from tocsin.oncall.severity import level_of, rank
from tocsin.service.context import Context
from tocsin.store import repo
from tocsin.store.schema import incidents

OPEN_READ = 500  # open incidents weighed at most (the newest), for the state now
ALERTS_READ = 50  # alerts of an incident matched against the components
PUBLISHED_READ = 200  # published incidents shown at most over the history


def components(ctx: Context) -> list[Component]:
    return [
        Component(c.name, tuple(parse_matcher(m) for m in c.matchers), c.description)
        for c in ctx.config.model.status_page.components
    ]


def _public_updates(conn: Connection, incident_id: int) -> list[PublicUpdate]:
    return public_updates(repo.incident_events(conn, incident_id, {"status_update"}))


def page(ctx: Context) -> dict[str, Any]:
    """Everything the status page shows."""
    now = ctx.now()
    parts = components(ctx)
    levels = ctx.config.paging.levels

    def state_of(severity: str | None) -> str:
        return state_for(rank(levels, severity) if level_of(levels, severity) else None)

    since = now - HISTORY_DAYS * 86400
    with ctx.db.connect() as conn:
        open_rows = list(
            conn.execute(
                select(incidents.c.id, incidents.c.severity)
                .where(incidents.c.status.in_(("triggered", "acknowledged")))
                .order_by(incidents.c.id.desc())
                .limit(OPEN_READ)
            )
        )
        published_rows = list(
            conn.execute(
                select(
                    incidents.c.id,
                    incidents.c.severity,
                    incidents.c.status,
                    incidents.c.opened_at,
                    incidents.c.resolved_at,
                )
                .where(incidents.c.last_update_at >= since)
                .order_by(incidents.c.id.desc())
                .limit(PUBLISHED_READ)
            )
        )
        alerts: dict[int, list[dict[str, str]]] = {}
        for row in [*open_rows, *published_rows]:
            if row.id not in alerts:
                members = repo.members_by_fingerprint(conn, row.id, ALERTS_READ)
                alerts[row.id] = [dict(m[3].labels) for m in members]
        published = []
        for row in published_rows:
            updates = _public_updates(conn, row.id)
            if updates:
                published.append((row, updates))
    now_states = {
        c.name: worst(state_of(r.severity) for r in open_rows if affects(c, alerts[r.id]))
        for c in parts
    }
    shown = []
    for row, updates in published:
        hit = [c.name for c in parts if affects(c, alerts[row.id])]
        if not hit:
            continue
        shown.append(
            {
                "id": row.id,
                "components": hit,
                "state": state_of(row.severity),
                "open": row.status in ("triggered", "acknowledged"),
                "opened_at": row.opened_at,
                "resolved_at": row.resolved_at,
                "updates": list(reversed(updates)),  # newest first
                "title": f"{updates[-1].stage.capitalize()}: {', '.join(hit)}",
            }
        )
    days = {
        c.name: history(
            [
                Span(i["state"], i["opened_at"], i["resolved_at"])
                for i in shown
                if c.name in i["components"]
            ],
            now,
        )
        for c in parts
    }
    return {
        "title": ctx.config.model.status_page.title,
        "now": now,
        "overall": worst(now_states.values()),
        "components": [
            {
                "name": c.name,
                "description": c.description,
                "state": now_states[c.name],
                "days": days[c.name],
            }
            for c in parts
        ],
        "incidents": shown,
    }
