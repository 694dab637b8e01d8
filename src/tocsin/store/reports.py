"""What reports and metrics read: the rows of a window for ``incidents.stats`` in a fixed
number of bulk queries (never one per incident), and the live figures ``/metrics`` shows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from tocsin.incidents.figures import TOLD, Event
from tocsin.incidents.stats import Episode, IncidentRow, Page
from tocsin.store.schema import (
    alerts,
    current_episode,
    due_work,
    incident_alerts,
    incidents,
    notifications,
    timeline,
)


@dataclass(frozen=True)
class WindowRows:
    incidents: list[IncidentRow]
    episodes: list[Episode]
    pages: list[Page]


def _labels(text: str) -> dict[str, str]:
    value = json.loads(text)
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _person(target: str, message: str) -> str | None:
    """Whom a notification paged: its message's recipient, else a ``user:NAME`` target."""
    try:
        recipient = json.loads(message).get("recipient")
    except (ValueError, AttributeError):
        recipient = None
    if isinstance(recipient, dict) and recipient.get("name"):
        return str(recipient["name"])
    kind, _, name = target.partition(":")
    return name if kind == "user" and name else None


def window(conn: Connection, since: float, until: float, with_episodes: bool = True) -> WindowRows:
    """The incidents opened in ``[since, until)`` with their timelines and alerts, the alert
    episodes that started in it (none without ``with_episodes``: ``tocsin replay`` reads
    them in chunks), and those incidents' pages to people: five queries."""
    opened = (incidents.c.opened_at >= since) & (incidents.c.opened_at < until)
    in_window = select(incidents.c.id).where(opened).scalar_subquery()

    events: dict[int, list[Event]] = {}
    notified: list[tuple[int, float, int]] = []  # incident, at, notification id
    rows = conn.execute(
        select(timeline.c.incident_id, timeline.c.at, timeline.c.kind, timeline.c.detail)
        .where(timeline.c.incident_id.in_(in_window))
        .order_by(timeline.c.incident_id, timeline.c.id)
    )
    for incident_id, at, kind, detail in rows:
        parsed = json.loads(detail)
        events.setdefault(incident_id, []).append(Event(float(at), kind, parsed))
        if (
            kind == "notified"
            and isinstance(parsed.get("notification"), int)
            and parsed.get("kind") not in TOLD  # told or reminded, not paged
        ):
            notified.append((incident_id, float(at), parsed["notification"]))

    members: dict[int, list[dict[str, str]]] = {}
    labelled = conn.execute(
        select(incident_alerts.c.incident_id, alerts.c.labels)
        .select_from(incident_alerts)
        .join(alerts, alerts.c.id == current_episode(incident_alerts.c.fingerprint))
        .where(incident_alerts.c.incident_id.in_(in_window))
        .order_by(incident_alerts.c.incident_id, incident_alerts.c.fingerprint)
    )
    for incident_id, labels in labelled:
        members.setdefault(incident_id, []).append(_labels(labels))

    people: dict[int, str] = {}
    paged = conn.execute(
        select(notifications.c.id, notifications.c.target, notifications.c.message).where(
            notifications.c.incident_id.in_(in_window),
            notifications.c.target.not_like("channel:%"),
        )
    )
    for notification_id, target, message in paged:
        person = _person(target, message)
        if person is not None:
            people[notification_id] = person

    found = [
        IncidentRow(
            id=r.id,
            severity=r.severity,
            opened_at=float(r.opened_at),
            events=tuple(events.get(r.id, ())),
            alerts=tuple(members.get(r.id, ())),
            group_labels=_labels(r.group_labels),
        )
        for r in conn.execute(
            select(
                incidents.c.id,
                incidents.c.severity,
                incidents.c.opened_at,
                incidents.c.group_labels,
            )
            .where(opened)
            .order_by(incidents.c.id)
        )
    ]
    episodes = (
        [
            Episode(_labels(labels), float(starts_at))
            for labels, starts_at in conn.execute(
                select(alerts.c.labels, alerts.c.starts_at).where(
                    alerts.c.starts_at >= since, alerts.c.starts_at < until
                )
            )
        ]
        if with_episodes
        else []
    )
    pages = [Page(incident_id, at, people[n]) for incident_id, at, n in notified if n in people]
    return WindowRows(found, episodes, pages)


@dataclass(frozen=True)
class Live:
    """What ``/metrics`` shows from the database at scrape time."""

    outbox_depth: int  # notifications not yet delivered nor dead-lettered
    engine_lag_s: float  # now − the oldest due_at of work due and not leased; 0 if none
    open_incidents: dict[str, int]  # by severity ("-" when none yet), not resolved


def live(conn: Connection, now: float) -> Live:
    depth = conn.execute(
        select(func.count()).select_from(notifications).where(notifications.c.status == "pending")
    ).scalar_one()
    free = due_work.c.lease_until.is_(None) | (due_work.c.lease_until < now)
    oldest: Any = conn.execute(
        select(func.min(due_work.c.due_at)).where(due_work.c.due_at <= now, free)
    ).scalar_one()
    open_by: dict[str, int] = {}
    for severity, count in conn.execute(
        select(incidents.c.severity, func.count())
        .where(incidents.c.status != "resolved")
        .group_by(incidents.c.severity)
    ):
        key = severity or "-"
        open_by[key] = open_by.get(key, 0) + int(count)
    return Live(
        outbox_depth=int(depth),
        engine_lag_s=max(0.0, now - float(oldest)) if oldest is not None else 0.0,
        open_incidents=open_by,
    )
