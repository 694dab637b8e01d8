"""What a person does to an incident: acknowledge, resolve, escalate now, reopen, assign,
note, and open its runbook. Each use case is one transaction; the rules are
``incidents.lifecycle`` and the engine's ``Pager`` (escalation and the messages it sends),
this writes them down and says, in ``tocsin.errors``, why an action is refused."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection

from tocsin import times
from tocsin.engine.paging import Pager
from tocsin.engine.reminders import schedule_first
from tocsin.errors import Conflict, Invalid, NotFound
from tocsin.incidents.lifecycle import (
    Refusal,
    refire_warning,
    refuse_note,
    refuse_person,
    refuse_reopen,
    transition,
)
from tocsin.service.context import Context
from tocsin.service.record import (
    incident,
    incident_json,
    incident_row,
    labels_by_name,
    sections_of,
)
from tocsin.store import repo
from tocsin.store.db import begin_write

_NO_SUCH = "no such incident"  # why not, for a missing incident (incidents.lifecycle.transition)


def _refused(incident_id: int, why: str | None) -> None:
    if why == _NO_SUCH:
        raise NotFound(f"no incident {incident_id}")
    if why is not None:
        raise Conflict(why)


Act = Callable[[Pager, Connection, int, str, float], str | None]  # None: done, else why not


def _paging(ctx: Context, incident_id: int, by: str, act: Act) -> dict[str, Any]:
    """One of the Pager's actions in its own transaction; the incident after it."""
    pager, now = ctx.pager(), ctx.now()
    with begin_write(ctx.db) as conn:
        why = act(pager, conn, incident_id, by, now)
    _refused(incident_id, why)
    ctx.wake()
    return incident(ctx, incident_id)


def acknowledge(
    ctx: Context, incident_id: int, by: str, detail: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Escalation stops (it may restart when the policy's ack_timeout lapses); the incident.
    ``detail``: more for the timeline's ``acknowledged`` row (where the acknowledgement came
    from, beside ``by``)."""

    def act(pager: Pager, conn: Connection, incident_id: int, by: str, now: float) -> str | None:
        return pager.acknowledge(conn, incident_id, by, now, detail)

    return _paging(ctx, incident_id, by, act)


def resolve(
    ctx: Context, incident_id: int, by: str, detail: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Resolved by hand: escalation stops, the route's channels and everyone paged are told;
    the incident, with a ``warning`` when its alerts still fire (what will happen then).
    ``detail``: more for the timeline's ``resolved`` row (where it came from, beside ``by``)."""

    def act(pager: Pager, conn: Connection, incident_id: int, by: str, now: float) -> str | None:
        return pager.resolve(conn, incident_id, by, now, detail)

    done = _paging(ctx, incident_id, by, act)
    with ctx.db.connect() as conn:
        when = times.to_dt(ctx.now())
        firing = [
            m.labels.get("alertname", "") or "alert"
            for m in repo.incident_members(conn, incident_id)
            if not m.alert.resolved(when)
        ]
    warning = refire_warning(firing)
    if warning:
        done["warning"] = warning
    return done


def _escalate(pager: Pager, conn: Connection, incident_id: int, by: str, now: float) -> str | None:
    row = repo.get_incident(conn, incident_id) if repo.is_row_id(incident_id) else None
    moved = transition(row.status if row is not None else None, "escalate")
    if isinstance(moved, Refusal):
        return moved.reason
    if not pager.escalate(conn, incident_id, now, reason="escalated by hand", by=by):
        return "the incident has no escalation left to run"
    return None


def escalate(ctx: Context, incident_id: int, by: str) -> dict[str, Any]:
    """The next step of the policy fires at once; the incident."""
    return _paging(ctx, incident_id, by, _escalate)


def note(ctx: Context, incident_id: int, text: str, by: str) -> dict[str, Any]:
    """A note on the incident's timeline; the note as recorded."""
    with begin_write(ctx.db) as conn:
        incident_row(conn, incident_id, lock=True)
        why = refuse_note(text)
        if why:
            raise Invalid(why)
        detail = {"text": text, "by": by}
        repo.add_timeline(conn, incident_id, times.to_dt(ctx.now()), "note", detail)
    return detail


def assign(
    ctx: Context, incident_id: int, changes: Mapping[str, str | None], by: str
) -> dict[str, Any]:
    """Set (or clear, with "" or None) the ``assignee`` and ``commander``; the incident."""
    if not changes:
        raise Invalid("nothing to change: give assignee or commander")
    known = set(ctx.config.paging.users)
    with begin_write(ctx.db) as conn:
        row = incident_row(conn, incident_id, lock=True)
        for role, name in changes.items():
            why = refuse_person(name, known)
            if why:
                raise Invalid(f"{role}: {why}")
        values = {role: (name or None) for role, name in changes.items()}
        values = {role: name for role, name in values.items() if getattr(row, role) != name}
        if values:
            repo.update_incident(conn, incident_id, **values)
            repo.add_timeline(
                conn, incident_id, times.to_dt(ctx.now()), "assigned", {**values, "by": by}
            )
        return incident_json(repo.get_incident(conn, incident_id))


def reopen(ctx: Context, incident_id: int, reason: str, by: str) -> dict[str, Any]:
    """Resolved -> acknowledged by ``by``, stage investigating; status-update reminders
    start again (the severity's period counts from now). The incident."""
    now = ctx.now()
    with begin_write(ctx.db) as conn:
        row = incident_row(conn, incident_id, lock=True)
        why = refuse_reopen(row.status)
        if why:
            raise Conflict(why)
        other = repo.open_incident_of(conn, row.group_key)
        if other is not None:
            raise Conflict(
                f"incident #{other} is open for the same alerts (its group); carry on there"
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
            conn, incident_id, times.to_dt(now), "reopened", {"by": by, "reason": reason[:1000]}
        )
        schedule_first(conn, ctx.config, incident_id, now, fresh=True)
        return incident_json(repo.get_incident(conn, incident_id))


def runbook(ctx: Context, incident_id: int) -> list[dict[str, Any]]:
    """The runbook sections for the incident's alerts (the variant for its severity first).
    Only reads: who opened them is recorded by ``open_runbook``."""
    with ctx.db.connect() as conn:
        row = incident_row(conn, incident_id)
        members = repo.incident_members(conn, incident_id)
        names = [m.labels.get("alertname", "") for m in members]
        return sections_of(ctx, names, row, labels_by_name(members))


def open_runbook(ctx: Context, incident_id: int, by: str) -> list[dict[str, Any]]:
    """``runbook``, and the timeline records that ``by`` opened each section, once per
    person and section."""
    with begin_write(ctx.db) as conn:
        row = incident_row(conn, incident_id)
        members = repo.incident_members(conn, incident_id)
        names = [m.labels.get("alertname", "") for m in members]
        found = sections_of(ctx, names, row, labels_by_name(members))
        _opened(conn, incident_id, found, by, ctx.now())
    return found


def _opened(
    conn: Connection, incident_id: int, found: list[dict[str, Any]], by: str, now: float
) -> None:
    seen = {
        (e.detail.get("by"), e.detail.get("source"), e.detail.get("section"))
        for e in repo.incident_events(conn, incident_id, {"runbook_opened"})
    }
    for section in found:
        key = (by, section["source"], section["section"])
        if key in seen:
            continue
        repo.add_timeline(
            conn,
            incident_id,
            times.to_dt(now),
            "runbook_opened",
            {"by": by, "source": section["source"], "section": section["section"]},
        )
