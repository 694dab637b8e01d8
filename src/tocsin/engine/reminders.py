"""Status-update reminders: a severity with ``update_every`` wants an update that often.

Part of the incident stage, in the caller's transaction. Due work ``update_reminder`` (one
per incident) falls due that long after the trigger or the last update; then the timeline
gets ``update_reminder`` and the channels a message of that kind, and it falls due again a
period later, until an update is posted (which moves it: ``service.updates.post``) or the
incident or its stage is resolved (which ends it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from tocsin import times
from tocsin.config import Config
from tocsin.engine import messages
from tocsin.engine.stage import Settings
from tocsin.incidents.lifecycle import RUNNING
from tocsin.incidents.updates import stage_of
from tocsin.store import outbox, repo
from tocsin.store.kinds import REMINDER
from tocsin.times import format_duration


def schedule_first(
    conn: Connection, config: Config, incident_id: int, now: float, *, fresh: bool = False
) -> None:
    """When an incident triggers (or, ``fresh``, is reopened: the period counts from now):
    its first reminder, if its severity wants updates."""
    paging = config.paging
    if paging.update_every_s is None and all(lv.update_every_s is None for lv in paging.levels):
        return  # no severity asks for updates: nothing to read
    incident = repo.get_incident(conn, incident_id)
    if incident is None:
        return
    interval = config.paging.update_interval_s(incident.severity)
    if interval and stage_of(incident.stage) != "resolved":
        base = now if fresh else (incident.last_update_at or now)
        outbox.schedule(conn, REMINDER, [incident_id], max(now, base + interval))


def due(s: Settings, conn: Connection, item: Any, owner: str, now: float) -> None:
    """Due work ``update_reminder``: sent if due, then again a period later or done."""
    next_at = remind(s, conn, item.ref, now)
    if next_at is None:
        repo.finish(conn, item.id, owner)
    else:
        repo.reschedule(conn, item.id, owner, next_at)


def remind(s: Settings, conn: Connection, incident_id: int, now: float) -> float | None:
    """A reminder falling due: sent when no update came for the severity's period; the
    next time it falls due, or None when reminders are over for this incident."""
    incident = repo.get_incident(conn, incident_id)
    if incident is None or incident.status not in RUNNING or stage_of(incident.stage) == "resolved":
        return None
    interval = s.config.paging.update_interval_s(incident.severity)
    if not interval:
        return None
    base = incident.last_update_at or incident.triggered_at or now
    if base + interval > now + 1e-6:
        return float(base + interval)  # an update came meanwhile (or the period changed)
    silent = now - base
    silent_for, every = format_duration(silent, "short"), format_duration(interval, "short")
    text = (
        f"No status update on incident #{incident.id} for {silent_for}; "
        f"at severity {incident.severity or 'none'} one is due every "
        f"{every}. Post one with: tocsin incident update {incident.id} "
        "--stage STAGE --message TEXT"
    )
    channels = messages.to_channels(
        s,
        conn,
        incident,
        REMINDER,
        messages.channels_of(incident),
        now,
        f"reminder:{now:.6f}",
        text=text,
    )
    repo.add_timeline(
        conn,
        incident.id,
        times.to_dt(now),
        REMINDER,
        {
            "since": times.to_dt(base).isoformat(),
            "silent_s": round(silent, 3),
            "every_s": interval,
            "stage": stage_of(incident.stage),
            "channels": channels,
        },
    )
    return now + interval
