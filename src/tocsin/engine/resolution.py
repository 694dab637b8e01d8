"""Resolution: the incident is over, by a person or by its alerts; paging stops.

Part of the escalate stage, in the caller's transaction. Whether the status may change is
``incidents.lifecycle.transition`` (pure); this writes it, cancels the due work of paging
and tells the incident's channels. A flush that finds every alert resolved resolves the
incident itself (``engine/flush.py``) and calls ``stopped``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from tocsin import times
from tocsin.engine import duties, escalate, messages, storm
from tocsin.engine.stage import Settings
from tocsin.incidents.lifecycle import Refusal, transition
from tocsin.store import outbox, repo
from tocsin.store.kinds import ACK_TIMEOUT, ESCALATION_KINDS


def resolve(
    s: Settings,
    conn: Connection,
    incident_id: int,
    by: str,
    now: float,
    detail: Mapping[str, Any] | None = None,
) -> str | None:
    """Resolve by a person; None when done (or done before), else why not. ``detail``: more
    of what the timeline's ``resolved`` row says beside ``by`` (where it came from)."""
    incident = repo.get_incident(conn, incident_id, lock=True)
    moved = transition(incident.status if incident is not None else None, "resolve")
    if isinstance(moved, Refusal):
        return moved.reason
    if moved == incident.status:
        return None  # idempotent
    repo.update_incident(conn, incident_id, status=moved, resolved_at=now, resolved_by=by)
    repo.add_timeline(conn, incident_id, times.to_dt(now), "resolved", {**(detail or {}), "by": by})
    stopped(conn, incident_id, now)
    storm.lead_resolved(s, conn, incident_id, now)  # a storm's lead: another carries it
    incident = repo.get_incident(conn, incident_id)
    messages.to_channels(
        s,
        conn,
        incident,
        "resolved",
        messages.channels_of(incident),
        now,
        f"resolved:{now:.6f}",
        actor=by,
    )
    return None


def stopped(conn: Connection, incident_id: int, now: float | None = None) -> None:
    """The incident is resolved (at ``now``): no more escalation, deadline or
    acknowledgement timeout, nor the later notifications of its people's rules; its
    post-incident duties fall due (``engine/duties.py``)."""
    outbox.cancel(conn, (*ESCALATION_KINDS, ACK_TIMEOUT), incident_id)
    if now is not None:
        escalate.cancel_later(conn, incident_id, now, "resolved")
    duties.schedule(conn, incident_id, now)
