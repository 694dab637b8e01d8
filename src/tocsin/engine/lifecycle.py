"""Notes, assignment and reopening: the incident record people keep, in the caller's
transaction. The rules are ``incidents.lifecycle``; this writes them down."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from tocsin.config import Config
from tocsin.engine import reminders
from tocsin.incidents.lifecycle import refuse_note, refuse_person, refuse_reopen
from tocsin.store import repo


class Refused(Exception):
    """The action is not possible: ``status`` is the HTTP answer (404 or 409, 422)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _incident(conn: Connection, incident_id: int) -> Any:
    row = repo.get_incident(conn, incident_id, lock=True)
    if row is None:
        raise Refused(404, f"no incident {incident_id}")
    return row


def note(conn: Connection, incident_id: int, text: str, by: str, now: float) -> dict[str, Any]:
    _incident(conn, incident_id)
    why = refuse_note(text)
    if why:
        raise Refused(422, why)
    detail = {"text": text, "by": by}
    repo.add_timeline(conn, incident_id, repo.to_dt(now), "note", detail)
    return detail


def assign(
    conn: Connection,
    incident_id: int,
    changes: Mapping[str, str | None],
    known: set[str],
    by: str,
    now: float,
) -> None:
    """Set (or clear, with "" or None) the ``assignee`` and ``commander``."""
    row = _incident(conn, incident_id)
    for role, name in changes.items():
        why = refuse_person(name, known)
        if why:
            raise Refused(422, f"{role}: {why}")
    values = {role: (name or None) for role, name in changes.items()}
    values = {role: name for role, name in values.items() if getattr(row, role) != name}
    if not values:
        return
    repo.update_incident(conn, incident_id, **values)
    repo.add_timeline(conn, incident_id, repo.to_dt(now), "assigned", {**values, "by": by})


def reopen(
    conn: Connection, incident_id: int, reason: str, by: str, now: float, config: Config
) -> None:
    """Resolved -> acknowledged by ``by``, stage investigating; status-update reminders
    start again (the severity's period counts from now)."""
    row = _incident(conn, incident_id)
    why = refuse_reopen(row.status)
    if why:
        raise Refused(409, why)
    other = repo.open_incident_of(conn, row.group_key)
    if other is not None:
        raise Refused(
            409,
            f"incident #{other} is open for the same alerts (its group); carry on there",
        )
    repo.update_incident(
        conn,
        incident_id,
        status="acknowledged",
        acknowledged_at=row.acknowledged_at or now,
        acknowledged_by=by,
        resolved_at=None,
        resolved_by=None,
        reopened_at=now,
        stage="investigating",
    )
    repo.add_timeline(
        conn, incident_id, repo.to_dt(now), "reopened", {"by": by, "reason": reason[:1000]}
    )
    reminders.schedule_first(conn, config, incident_id, now, fresh=True)


def runbook_opened(
    conn: Connection, incident_id: int, found: list[dict[str, Any]], by: str, now: float
) -> None:
    """A responder opened the incident's runbook sections: once per person and section."""
    seen = {
        (e.detail.get("by"), e.detail.get("source"), e.detail.get("section"))
        for e in repo.incident_events(conn, incident_id)
        if e.kind == "runbook_opened"
    }
    for section in found:
        key = (by, section["source"], section["section"])
        if key in seen:
            continue
        repo.add_timeline(
            conn,
            incident_id,
            repo.to_dt(now),
            "runbook_opened",
            {"by": by, "source": section["source"], "section": section["section"]},
        )
