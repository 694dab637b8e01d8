"""Events by key (PagerDuty Events API v2, ``POST /v2/enqueue``): an event names its alert by
``dedup_key``; the first trigger with a key remembers the alert's labels (``event_keys``), and
later events with that key find the alert again. ``api/intake.py`` reads the event and hands
its alerts to the writer; the reading and writing of rows is here."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import insert, select

from tocsin.alerts.model import Alert
from tocsin.service.context import Context
from tocsin.store import repo
from tocsin.store.db import begin_write
from tocsin.store.schema import event_keys


def labels_of(ctx: Context, dedup_key: str) -> dict[str, str] | None:
    """The labels the first trigger with ``dedup_key`` remembered (None: no such key)."""
    with ctx.db.connect() as conn:
        row = conn.execute(select(event_keys).where(event_keys.c.dedup_key == dedup_key)).first()
    if row is None:
        return None
    labels: dict[str, str] = json.loads(row.labels)
    return labels


def remember(ctx: Context, dedup_key: str, labels: dict[str, str], now: datetime) -> None:
    """Remember the labels of the alert ``dedup_key`` names, for the key's later events."""
    with begin_write(ctx.db) as conn:
        conn.execute(
            insert(event_keys).values(
                dedup_key=dedup_key, labels=json.dumps(labels), created_at=now.timestamp()
            )
        )


def current(ctx: Context, labels: dict[str, str]) -> Alert | None:
    """The latest stored episode of the alert with these labels (None: none stored)."""
    with ctx.db.connect() as conn:
        found = repo.current_alerts(conn, [repo.fingerprint_of(labels)])
    return next(iter(found.values())).alert if found else None


def acknowledge(ctx: Context, dedup_key: str, labels: dict[str, str], now: datetime) -> None:
    """An acknowledge event: ``acknowledged`` by ``pagerduty-event`` on the timeline of each
    unresolved incident of the alert. (That it stop escalation is issue 4; until then it is
    kept on the timeline.)"""
    with begin_write(ctx.db) as conn:
        for incident_id in repo.incidents_of(conn, repo.fingerprint_of(labels)):
            repo.add_timeline(
                conn,
                incident_id,
                now,
                "acknowledged",
                {"by": "pagerduty-event", "dedup_key": dedup_key},
            )
