"""Alert storms: a route that triggers more incidents in a window than its ``storm:`` allows
pages the rest as one digest, updated rather than repeated.

Part of the trigger and escalate stages, in the caller's transaction. The decision is
``incidents.storm.decide`` (pure); this reads what it needs (``store/storms.py``) and writes
the answer:

- the first incident over the threshold **leads** a storm: it triggers and escalates as
  always (its route's policy, deadline, ``ack_timeout``), but its messages are the digest
  (``engine/messages.py`` puts the digest over them);
- a later one is **held**: it is triggered and recorded (``storm_held`` on its timeline,
  naming the storm and its lead), but pages nobody and tells no channel itself; the digest
  is updated instead (due work ``storm_update``, at most once per ``update_every``);
- acknowledging the lead acknowledges every held incident that waits (``acknowledged``);
  one held after that is acknowledged as it joins, by the same person; when the lead's
  acknowledgement lapses (``ack_timeout``), they wait again with it (``lapsed``);
- when the lead is resolved while held incidents still wait for an acknowledgement, the
  oldest of them leads from then on (its escalation starts: ``lead_resolved``); no page is
  dropped. Otherwise the storm ends.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection

from tocsin import logs, times
from tocsin.engine import escalate, messages
from tocsin.engine.stage import Settings
from tocsin.incidents.lifecycle import Refusal, transition
from tocsin.incidents.storm import (
    UPDATE_KIND,
    Activity,
    StormRule,
    decide,
    next_update,
    route_name,
)
from tocsin.oncall.severity import rank
from tocsin.routing.tree import Route
from tocsin.store import outbox, repo, storms
from tocsin.store.kinds import DEADLINE, ESCALATION_KINDS, STORM_UPDATE

log = logging.getLogger("tocsin.engine")


def fold(
    s: Settings,
    conn: Connection,
    incident: Any,
    route: Route | None,
    severity: str | None,
    now: float,
) -> int | None:
    """An incident that triggers now at ``severity``: page it, let it lead a new storm, or
    hold it in the running one. The storm it is held in (it pages nobody itself), else
    None."""
    if route is None:  # the configuration lost the route: page as always
        return None
    rule = route.storm
    if not rule.enabled:
        return None
    since = now - rule.window_s
    recent = storms.recent(conn, incident.route_id, since, incident.id, rule.incidents)
    levels = s.config.paging.levels
    running = storms.running(conn, incident.route_id, levels) if recent >= rule.incidents else None
    decision = decide(rule, Activity(recent, running, rank(levels, severity)), now)
    if decision.action == "page":
        return None
    # locked, as acknowledging it locks it: an incident is held before the acknowledgement
    # covers the storm's incidents, or after it and covered as it joins (never between)
    lead = (
        repo.get_incident(conn, decision.lead_id, lock=True)
        if decision.lead_id is not None
        else None
    )
    if decision.action == "lead" or lead is None or lead.status == "resolved":
        _start(conn, incident, route, rule, recent, now)
        return None
    assert decision.storm_id is not None
    joined = storms.hold(conn, decision.storm_id, incident.id, now)
    repo.add_timeline(
        conn,
        incident.id,
        times.to_dt(now),
        "storm_held",
        {"storm": decision.storm_id, "lead": lead.id, "held": joined.held},
    )
    if lead.status == "acknowledged":
        _cover(conn, incident.id, lead, decision.storm_id, now)
    if joined.held == joined.told_held + 1:
        # the first to join since the digest last went out: its update is due (the later
        # ones find it due already); at most one per update_every
        at = next_update(rule, joined.last_update_at, now)
        outbox.schedule(conn, STORM_UPDATE, [decision.storm_id], at)
    return decision.storm_id


def _start(
    conn: Connection, incident: Any, route: Route, rule: StormRule, recent: int, now: float
) -> None:
    name = route_name(route.key, route.receiver)
    storm_id = storms.start(conn, incident.route_id, name, incident.id, now, rule.window_s)
    detail = {
        "storm": storm_id,
        "route": name,
        "incidents": rule.incidents,
        "window_s": rule.window_s,
        "recent": recent,
    }
    repo.add_timeline(conn, incident.id, times.to_dt(now), "storm_started", detail)
    log.warning("alert storm", extra=logs.fields(incident=incident.id, **detail))


def held(conn: Connection, incident: Any) -> bool:
    """Whether the incident is held in a storm (in one, and not its lead)."""
    lead = storms.lead_of(conn, incident)
    return lead is not None and lead != incident.id


def _cover(conn: Connection, incident_id: int, lead: Any, storm_id: int, now: float) -> bool:
    """A held incident acknowledged through its storm's lead (no message of its own: the
    digest's acknowledgement told everyone)."""
    incident = repo.get_incident(conn, incident_id)
    moved = transition(incident.status if incident is not None else None, "acknowledge")
    if isinstance(moved, Refusal) or moved == incident.status:
        return False
    repo.update_incident(
        conn,
        incident_id,
        status=moved,
        acknowledged_at=now,
        acknowledged_by=lead.acknowledged_by,
    )
    outbox.cancel(conn, ESCALATION_KINDS, incident_id)
    repo.add_timeline(
        conn,
        incident_id,
        times.to_dt(now),
        "acknowledged",
        {
            "by": lead.acknowledged_by,
            "via": f"the storm digest (incident #{lead.id})",
            "storm": storm_id,
        },
    )
    return True


def acknowledged(conn: Connection, incident_id: int, now: float) -> None:
    """The incident was acknowledged: if it leads a storm, every held incident that waits
    for an acknowledgement is acknowledged with it (recorded on each, counted on the lead)."""
    lead = repo.get_incident(conn, incident_id)
    if lead is None or storms.lead_of(conn, lead) != lead.id:
        return
    waiting = [m.id for m in storms.members(conn, lead.storm_id, ("triggered",)) if m.id != lead.id]
    covered = sum(_cover(conn, i, lead, lead.storm_id, now) for i in waiting)
    repo.add_timeline(
        conn,
        lead.id,
        times.to_dt(now),
        "storm_acknowledged",
        {"storm": lead.storm_id, "by": lead.acknowledged_by, "covered": covered},
    )


def lapsed(conn: Connection, lead: Any, now: float) -> None:
    """The acknowledgement of ``lead`` (its row before it lapsed) lapsed: if it leads a
    storm, the held incidents its acknowledgement covered (acknowledged by the same person
    since) wait again with it, and its next acknowledgement covers them again."""
    if storms.lead_of(conn, lead) != lead.id or lead.acknowledged_at is None:
        return
    when = times.to_dt(now)
    back = 0
    for member in storms.members(conn, lead.storm_id, ("acknowledged",)):
        row = repo.get_incident(conn, member.id)
        if (
            row.id == lead.id
            or row.acknowledged_by != lead.acknowledged_by
            or (row.acknowledged_at or 0) < lead.acknowledged_at
        ):
            continue
        moved = transition(row.status, "ack_timeout")
        if isinstance(moved, Refusal):
            continue
        repo.update_incident(conn, row.id, status=moved, acknowledged_at=None, acknowledged_by=None)
        detail = {"acknowledged_by": row.acknowledged_by, "storm": lead.storm_id}
        repo.add_timeline(conn, row.id, when, "ack_expired", detail)
        back += 1
    if back:
        detail = {"storm": lead.storm_id, "waiting": back}
        repo.add_timeline(conn, lead.id, when, "storm_ack_expired", detail)


def lead_resolved(s: Settings, conn: Connection, incident_id: int, now: float) -> None:
    """The incident was resolved: if it led a storm, the oldest held incident still waiting
    for an acknowledgement leads from now on (its escalation starts, its deadline is set), so
    that no page is dropped; with none waiting, the storm ends."""
    lead = repo.get_incident(conn, incident_id)
    if lead is None or storms.lead_of(conn, lead) != lead.id:
        return
    storm_id = int(lead.storm_id)
    waiting = [m.id for m in storms.members(conn, storm_id, ("triggered",)) if m.id != lead.id]
    when = times.to_dt(now)
    if not waiting:
        storms.end(conn, storm_id, now)
        outbox.cancel(conn, (STORM_UPDATE,), storm_id)
        repo.add_timeline(conn, lead.id, when, "storm_ended", {"storm": storm_id})
        return
    new = repo.get_incident(conn, waiting[0])
    storms.set_lead(conn, storm_id, new.id)
    repo.add_timeline(conn, lead.id, when, "storm_handed_over", {"storm": storm_id, "to": new.id})
    repo.add_timeline(conn, new.id, when, "storm_lead", {"storm": storm_id, "after": lead.id})
    alerts = [m.alert for m in repo.incident_members(conn, new.id)]
    firing = [a for a in alerts if not a.resolved(when)] or alerts
    _name, policy, labels = escalate.policy_for(s, new.route_id, firing, new.severity)
    if policy is not None:
        escalate.begin(s, conn, new.id, policy, labels, now, generation=1)
    deadline = s.config.paging.deadline_s(new.severity)
    if deadline is not None:
        outbox.schedule(conn, DEADLINE, [new.id], now + deadline)


def due(s: Settings, conn: Connection, item: Any, owner: str, now: float) -> None:
    """Due work ``storm_update`` (ref: a storm): the digest goes again to the lead's channels
    and everyone paged for it, when incidents joined since it last went out."""
    repo.finish(conn, item.id, owner)
    storm = storms.get(conn, item.ref)
    if storm is None or storm.ended_at is not None or storm.held == storm.told_held:
        return
    lead = repo.get_incident(conn, storm.lead_id)
    if lead is None or lead.status == "resolved":
        return
    told = messages.to_channels(
        s,
        conn,
        lead,
        UPDATE_KIND,
        messages.channels_of(lead),
        now,
        f"storm{storm.id}:u{storm.updates + 1}",
    )
    storms.told(conn, storm.id, now, int(storm.held))
    repo.add_timeline(
        conn,
        lead.id,
        times.to_dt(now),
        "storm_update",
        {"storm": storm.id, "held": storm.held, "channels": sorted(set(told))},
    )
