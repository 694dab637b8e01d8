"""The group flush: what an incident's alerts say now, recorded and sent.

Part of the mute and incident stages, in the cycle's transaction. Due work ``flush`` (one
per incident) falls due when alerts join (after ``group_wait``) and every ``group_interval``
after. A flush mutes (silences, inhibition), decides what is news (``incidents.flush``,
pure), puts what changed on the timeline (one event with counts, the
alerts' states kept on ``incident_alerts``), hands the news to ``engine/trigger.py``
(which triggers a pending incident and tells the channels) and resolves the incident when
its alerts have ended (if its route resolves automatically).

What a batch's flushes read is read once per transaction (``prefetch``; ``forget`` at the
start of each transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from tocsin import times
from tocsin.alerts.model import Alert, alert_json
from tocsin.engine import messages, resolution, trigger
from tocsin.engine.stage import Settings
from tocsin.incidents.flush import (
    ALERT_EVENT_KINDS,
    CHANGED,
    alert_events,
    changed_event,
    decide,
    first_named,
    mute,
)
from tocsin.incidents.lifecycle import Refusal, transition
from tocsin.store import repo, silence_cache
from tocsin.store.kinds import FLUSH

_SILENCES = "tocsin_silences"
_PREFETCH = "tocsin_prefetched"


def brief(fp: str, alert: Alert) -> dict[str, Any]:
    """An alert as the timeline's flush event names it (no annotations: they can be long)."""
    return alert_json(fp, alert, annotations=False)


def due(s: Settings, conn: Connection, item: Any, owner: str, now_ts: float) -> None:
    """Due work ``flush``: flushed, then due again a ``group_interval`` later while any of
    its alerts fires, else done."""
    config = s.config
    now = times.to_dt(now_ts)
    incident_id = item.ref
    # locked before its alerts are read (on PostgreSQL; see repo.lock_incidents): an
    # alert the intake is adding is waited for, and then seen
    incident = repo.get_incident(conn, incident_id, lock=True)
    if incident is None or incident.status == "resolved":
        repo.finish(conn, item.id, owner)
        return
    ahead: _Prefetched | None = conn.info.get(_PREFETCH)
    stored = ahead.members.get(incident_id) if ahead else None
    if stored is None:
        stored = repo.incident_members(conn, incident_id)
    members = {a.fingerprint: a.alert for a in stored}
    # inhibition sources are only needed when a member is the target of some rule
    rules = config.inhibit_rules
    targeted = any(rule.is_target(a.labels) for rule in rules for a in members.values())
    firing_all = (
        {a.fingerprint: a.labels for a in repo.active_alerts(conn, now)} if targeted else {}
    )
    # read once per transaction: every flush in a batch has the same now
    silences = conn.info.get(_SILENCES)
    if silences is None:
        silences = conn.info[_SILENCES] = silence_cache.active_index(conn, now)
    muting = mute(members, silences, config.inhibit_rules, firing_all, now)
    history = ahead.histories.get(incident_id) if ahead else None
    sent, last_said = history or repo.member_states(conn, [incident_id])[incident_id]
    last = times.to_dt(incident.last_flush_at) if incident.last_flush_at else None
    decision = decide(
        members, muting, now, incident.last_flush_digest, last, incident.repeat_interval_s, sent
    )
    changes = alert_events(members, muting, now, last_said)
    if changes:  # one event with counts, however many alerts changed (issue 18)
        repo.add_timeline(
            conn, incident_id, now, CHANGED, changed_event(changes, members, len(decision.firing))
        )
    repo.save_member_states(
        conn,
        incident_id,
        {fp: ALERT_EVENT_KINDS[kind] for kind, fp, _ in changes},
        [fp for fp in decision.firing if fp not in sent] if decision.send else [],
    )
    route = config.route.find(incident.route_id)
    auto_resolve = bool(route.options.get("auto_resolve", True)) if route else True
    if incident.reopened_at is not None and auto_resolve:
        # a person reopened it after its alerts had ended: only alerts that end after
        # the reopening resolve it again
        ends = [times.to_ts(a.ends_at) for a in members.values() if a.ends_at]
        auto_resolve = bool(ends) and max(ends) > incident.reopened_at
    values: dict[str, object] = {}
    if decision.all_resolved and auto_resolve:
        # resolved before the message is written: the resolution says "resolved"
        resolved = transition(incident.status, "resolve")
        assert not isinstance(resolved, Refusal)  # any open incident may resolve
        repo.update_incident(conn, incident_id, status=resolved, resolved_at=now_ts)
        incident = repo.get_incident(conn, incident_id)
    if decision.send:

        def named(fps: list[str]) -> list[str]:
            return first_named(fps, members)

        repo.add_timeline(
            conn,
            incident_id,
            now,
            "group_flushed",
            {
                # the first few of each, and how many (a storm's flush stays one small row)
                "firing": [brief(fp, members[fp]) for fp in named(decision.firing)],
                "firing_count": len(decision.firing),
                "resolved": [brief(fp, members[fp]) for fp in named(decision.resolved)],
                "resolved_count": len(decision.resolved),
                "muted": {
                    fp: {
                        "silenced_by": muting.silenced_by.get(fp, []),
                        "inhibited_by": muting.inhibited_by.get(fp, []),
                    }
                    for fp in named(decision.muted)
                },
                "muted_count": len(decision.muted),
            },
        )
        values.update(last_flush_at=now_ts, last_flush_digest=decision.digest)
        if decision.firing:
            values["title"] = messages.incident_title(s, conn, incident, members, now_ts)
        trigger.flushed(s, conn, incident, members, decision.firing, decision.all_resolved, now_ts)
    if decision.all_resolved and auto_resolve:
        repo.add_timeline(conn, incident_id, now, "resolved", {"reason": "all alerts resolved"})
        resolution.stopped(conn, incident_id, now_ts)
        repo.finish(conn, item.id, owner)
    elif decision.all_resolved:
        # the route keeps it open for a person to resolve; a new alert flushes it again
        if decision.send:
            repo.add_timeline(conn, incident_id, now, "alerts_resolved", {"auto_resolve": False})
        repo.finish(conn, item.id, owner)
    else:
        repo.reschedule(conn, item.id, owner, now_ts + incident.group_interval_s)
    if values:
        repo.update_incident(conn, incident_id, **values)


@dataclass
class _Prefetched:
    """What a batch's flushes read, read for all of them at once: members and history."""

    members: dict[int, list[Any]]
    histories: dict[int, History]


def prefetch(conn: Connection, items: list[Any]) -> None:
    """Before a batch: the members and history of every incident it flushes, in a few
    statements instead of two per flush. Nothing else in a batch changes them before its
    flush (an incident has one flush item; escalations do not touch members or history)."""
    refs = [item.ref for item in items if item.kind == FLUSH]
    if len(refs) < 2:  # a flush alone locks its incident itself (``due``)
        conn.info.pop(_PREFETCH, None)
        return
    repo.lock_incidents(conn, refs)  # before reading: no intake adds to them meanwhile
    conn.info[_PREFETCH] = _Prefetched(repo.members_of(conn, refs), repo.member_states(conn, refs))


def forget(conn: Connection) -> None:
    """At the start of a transaction: nothing cached by an earlier one on this connection."""
    conn.info.pop(_SILENCES, None)
    conn.info.pop(_PREFETCH, None)


History = tuple[set[str], dict[str, str]]  # fingerprints sent as firing; what was said of each
