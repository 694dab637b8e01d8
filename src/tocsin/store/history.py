"""What ``tocsin replay`` reads of a window of stored history: the alert episodes that started
in it, a chunk at a time in time order (never the whole table, never the whole window at
once), the incidents opened in it with their alerts, timelines and pages (the one reader of
reports, ``store/reports.window``, on the real database or on the simulated one), and the
silences and overrides in force during it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select

from tocsin import times
from tocsin.incidents.replay import Context, Episode, Incident, Member, StoredOverride
from tocsin.incidents.stats import Page
from tocsin.oncall.schedule import Override
from tocsin.store import repo
from tocsin.store.reports import window
from tocsin.store.schema import alerts, incident_alerts, incidents, overrides, silences

CHUNK = 500  # episodes read per query


def _in_window(since: float, until: float) -> Any:
    # ``ends_at >= since`` holds for every episode that started in the window; it lets the
    # database walk ix_alerts_ends_at instead of the whole table
    return and_(alerts.c.starts_at >= since, alerts.c.starts_at < until, alerts.c.ends_at >= since)


def count_episodes(conn: Connection, since: float, until: float) -> int:
    """How many alert episodes started in ``[since, until)``."""
    query = select(func.count()).select_from(alerts).where(_in_window(since, until))
    return int(conn.execute(query).scalar_one())


def _mapping(text: str) -> dict[str, str]:
    value = json.loads(text)
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def episodes(db: Engine, since: float, until: float, chunk: int = CHUNK) -> Iterator[Episode]:
    """The episodes that started in ``[since, until)``, by start then id, read ``chunk`` at a
    time (each chunk in a short transaction of its own: a replay holds no read open while it
    simulates)."""
    after: tuple[float, int] | None = None
    while True:
        query = select(
            alerts.c.id,
            alerts.c.fingerprint,
            alerts.c.labels,
            alerts.c.annotations,
            alerts.c.starts_at,
            alerts.c.ends_at,
        ).where(_in_window(since, until))
        if after is not None:
            at, last = after
            query = query.where(
                or_(alerts.c.starts_at > at, and_(alerts.c.starts_at == at, alerts.c.id > last))
            )
        with db.connect() as conn:
            rows = conn.execute(query.order_by(alerts.c.starts_at, alerts.c.id).limit(chunk)).all()
        for row in rows:
            yield Episode(
                id=int(row.id),
                fingerprint=str(row.fingerprint),
                labels=_mapping(row.labels),
                annotations=_mapping(row.annotations),
                starts_at=float(row.starts_at),
                ends_at=float(row.ends_at),
            )
        if len(rows) < chunk:
            return
        after = (float(rows[-1].starts_at), int(rows[-1].id))


def outcome_rows(conn: Connection, since: float, until: float) -> tuple[list[Incident], list[Page]]:
    """The incidents opened in ``[since, until)`` (timelines, alerts with when each joined,
    when resolved) and their pages to people: what ``incidents.replay.outcome`` sums."""
    rows = window(conn, since, until, with_episodes=False)
    opened = (incidents.c.opened_at >= since) & (incidents.c.opened_at < until)
    members: dict[int, list[Member]] = {}
    for incident_id, fingerprint, added_at in conn.execute(
        select(
            incident_alerts.c.incident_id, incident_alerts.c.fingerprint, incident_alerts.c.added_at
        )
        .where(incident_alerts.c.incident_id.in_(select(incidents.c.id).where(opened)))
        .order_by(
            incident_alerts.c.incident_id, incident_alerts.c.added_at, incident_alerts.c.fingerprint
        )
    ):
        members.setdefault(int(incident_id), []).append(Member(str(fingerprint), float(added_at)))
    resolved = {
        int(i): (float(at) if at is not None else None)
        for i, at in conn.execute(select(incidents.c.id, incidents.c.resolved_at).where(opened))
    }
    found = [
        Incident(row, tuple(members.get(row.id, ())), resolved.get(row.id))
        for row in rows.incidents
    ]
    return found, rows.pages


def context(conn: Connection, since: float, until: float) -> Context:
    """The silences and overrides in force at some time in ``[since, until)``."""
    found = [
        repo.silence_of_row(row)
        for row in conn.execute(
            select(
                silences.c.id,
                silences.c.matchers,
                silences.c.starts_at,
                silences.c.ends_at,
                silences.c.created_by,
                silences.c.comment,
                silences.c.updated_at,
            )
            .where(silences.c.starts_at < until, silences.c.ends_at > since)
            .order_by(silences.c.starts_at, silences.c.id)
        )
    ]
    made = [
        StoredOverride(
            Override(
                row.schedule,
                times.to_dt(float(row.starts_at)),
                times.to_dt(float(row.ends_at)),
                row.user_name,
                row.replaces,
            ),
            row.created_by,
            row.reason or "",
        )
        for row in conn.execute(
            select(overrides)
            .where(overrides.c.starts_at < until, overrides.c.ends_at > since)
            .order_by(overrides.c.id)
        )
    ]
    return Context(tuple(found), tuple(made))
