"""Events by key (PagerDuty Events API v2, ``POST /v2/enqueue``): an event names its alert by
``dedup_key``; the first trigger with a key remembers the alert's labels (``event_keys``), and
later events with that key find the alert again. ``api/intake.py`` reads the event and hands
its alerts to the writer; the reading and writing of rows is here, and an acknowledge event
acknowledges through ``service.incidents``."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import insert, select

from tocsin.alerts.model import Alert
from tocsin.errors import Conflict, NotFound
from tocsin.service import incidents
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


ACTOR = "pagerduty-event"  # who acknowledged, as the incident and its timeline say


def acknowledge(ctx: Context, dedup_key: str, labels: dict[str, str]) -> None:
    """An acknowledge event: each open incident of the alert is acknowledged by
    ``pagerduty-event`` as a person's acknowledgement is (``service.incidents.acknowledge``:
    escalation stops, the channels are told; the timeline's one ``acknowledged`` row also
    names the key). An incident acknowledged before stays as it is (acknowledging is
    idempotent), and so does one resolved since it was found open: the sender is answered as
    PagerDuty answers, whatever the incident's state."""
    with ctx.db.connect() as conn:
        found = repo.incidents_of(conn, repo.fingerprint_of(labels))
    for incident_id in found:
        try:
            incidents.acknowledge(ctx, incident_id, ACTOR, {"dedup_key": dedup_key})
        except (Conflict, NotFound):
            continue  # resolved (or gone) since it was found open
