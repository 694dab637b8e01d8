"""Maintenance windows (``maintenance_windows``): added, listed, ended; the ones not ended,
as the flush reads them (``routing/hold.py`` decides), and what the timeline last said of an
incident's held pages."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from tocsin.alerts.matchers import parse_matcher
from tocsin.routing.hold import Window
from tocsin.store.schema import incidents, maintenance_windows, timeline

HELD = "paging_held"  # the timeline kinds engine/flush.py writes
RESUMED = "paging_resumed"


def add(
    conn: Connection,
    *,
    matchers: list[str],
    receiver: str | None,
    starts_at: float,
    ends_at: float | None,
    time_interval: str | None,
    comment: str,
    created_by: str,
    now: float,
) -> int:
    """A new window; its id."""
    result = conn.execute(
        insert(maintenance_windows).values(
            matchers=json.dumps(matchers),
            receiver=receiver,
            starts_at=starts_at,
            ends_at=ends_at,
            time_interval=time_interval,
            comment=comment,
            created_by=created_by,
            created_at=now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def get(conn: Connection, window_id: int) -> Any:
    """The row of a window, or None."""
    return conn.execute(
        select(maintenance_windows).where(maintenance_windows.c.id == window_id)
    ).first()


def rows(conn: Connection, now: float, include_past: bool, limit: int) -> list[Any]:
    """Windows newest first: those not over at ``now`` (not ended, not past their end), or
    all of them with ``include_past``; at most ``limit``."""
    c = maintenance_windows.c
    query = select(maintenance_windows).order_by(c.id.desc()).limit(limit)
    if not include_past:
        query = query.where(c.ended_at.is_(None), or_(c.ends_at.is_(None), c.ends_at > now))
    return list(conn.execute(query))


def end(conn: Connection, window_id: int, by: str, now: float) -> bool:
    """End a window now; False when it was over already."""
    c = maintenance_windows.c
    done = conn.execute(
        update(maintenance_windows)
        .where(c.id == window_id, c.ended_at.is_(None), or_(c.ends_at.is_(None), c.ends_at > now))
        .values(ended_at=now, ended_by=by)
    )
    return done.rowcount == 1


def window(row: Any) -> Window:
    """A row as the rule reads it."""
    return Window(
        id=int(row.id),
        matchers=tuple(parse_matcher(m) for m in json.loads(row.matchers)),
        receiver=row.receiver,
        starts_at=float(row.starts_at),
        ends_at=None if row.ends_at is None else float(row.ends_at),
        time_interval=row.time_interval,
        comment=row.comment,
        created_by=row.created_by,
    )


def open_windows(conn: Connection, now: float) -> list[Window]:
    """The windows not over at ``now`` (those yet to start too: the rule checks the start)."""
    return [window(r) for r in rows(conn, now, include_past=False, limit=10_000)]


def any_windows(conn: Connection) -> bool:
    """Whether any window was ever made (none: no flush need look for a hold's end)."""
    return conn.execute(select(maintenance_windows.c.id).limit(1)).first() is not None


def last_hold(conn: Connection, incident_id: int) -> dict[str, Any] | None:
    """The detail of the incident's last ``paging_held`` event when no ``paging_resumed``
    followed it (its pages are held now, as the timeline says), else None."""
    c = timeline.c
    row = conn.execute(
        select(c.kind, c.detail)
        .where(c.incident_id == incident_id, c.kind.in_((HELD, RESUMED)))
        .order_by(c.id.desc())
        .limit(1)
    ).first()
    if row is None or row.kind != HELD:
        return None
    detail = json.loads(row.detail)
    return detail if isinstance(detail, dict) else None


def held_by(conn: Connection, window_id: int) -> list[int]:
    """The open incidents whose pages the timeline says this window holds now."""
    c = timeline.c
    found = conn.execute(
        select(c.incident_id)
        .join(incidents, incidents.c.id == c.incident_id)
        .where(c.kind == HELD, incidents.c.status != "resolved")
        .distinct()
    ).scalars()
    out = []
    for incident_id in found:
        detail = last_hold(conn, int(incident_id))
        if detail is not None and detail.get("window") == window_id:
            out.append(int(incident_id))
    return out
