"""Trigger: a group flush with news pages. A pending incident triggers (its severity fixed,
the route's escalation policy started, the acknowledgement deadline set); a more severe alert
joining raises its severity; every flush with news goes to the route's channels (as
Alertmanager's receivers).

Part of the incident stage, in the flush's transaction (``engine/flush.py``): the page and
the decision to page commit together or not at all.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import Connection

from tocsin import logs, times
from tocsin.alerts.model import Alert
from tocsin.engine import diagnose, escalate, messages, reminders, storm
from tocsin.engine.stage import Settings
from tocsin.incidents.lifecycle import RUNNING, transition
from tocsin.incidents.tally import Tally
from tocsin.oncall.severity import highest, rank
from tocsin.store import outbox, repo
from tocsin.store.kinds import DEADLINE

log = logging.getLogger("tocsin.engine")


def flushed(
    s: Settings,
    conn: Connection,
    incident: Any,
    members: dict[str, Alert],
    firing: list[str],
    all_resolved: bool,
    now: float,
    levels: list[str | None] | None = None,
    counted: Tally | None = None,
) -> int | None:
    """A group flush with news: trigger the incident if it was pending, and tell the
    route's channels. ``firing``: the firing alerts among ``members`` (those the flush
    read); ``levels``: the severities of all the firing alerts, and ``counted`` the tally
    that counts them, when the flush did not read them all (``incidents.tally``). The
    storm the incident is held in, when it told no channel (its news is the digest's), else
    None."""
    if levels is None:
        label = s.config.paging.severity_label
        levels = [members[fp].labels.get(label) for fp in firing]
    if levels and transition(incident.status, "trigger") == "triggered":
        held_in = trigger(s, conn, incident, members, firing, levels, now)
        if held_in is not None:
            return held_in  # held in a storm as it triggered: its news is the digest's
        reminders.schedule_first(conn, s.config, incident.id, now)
        incident = repo.get_incident(conn, incident.id)
    elif levels and incident.status in RUNNING and _rerate(s, conn, incident, levels, now):
        incident = repo.get_incident(conn, incident.id)
    if incident.storm_id is not None:
        if incident.status == "resolved":
            storm.lead_resolved(s, conn, incident.id, now)
        if storm.held(conn, incident):
            return int(incident.storm_id)  # held: its news is the digest's (engine/storm.py)
    channels = messages.channels_of(incident)
    if not channels:
        route = s.config.route.find(incident.route_id)
        channels = route.channels if route else []
    elif extra := _continued(s, incident, members, channels):
        # an alert that joined through a route with `continue: true`: that route's channels
        # hear of the incident from now on (its acknowledgement and resolution too)
        channels = [*channels, *extra]
        repo.update_incident(conn, incident.id, channels=json.dumps(channels))
    kind = "resolved" if all_resolved else "firing"
    event = f"flush:{now:.6f}"
    messages.to_channels(s, conn, incident, kind, channels, now, event, members, counted=counted)
    return None


def _continued(
    s: Settings, incident: Any, members: dict[str, Alert], channels: list[str]
) -> list[str]:
    """The channels of the routes that took the incident's alerts through ``continue:
    true`` (they only notify: ``Route.routed``) and are not among ``channels`` yet."""
    wanted = s.config.route.continued_channels(
        incident.route_id, [a.labels for a in members.values()]
    )
    return [c for c in wanted if c not in channels]


def _rerate(
    s: Settings, conn: Connection, incident: Any, levels: list[str | None], now: float
) -> bool:
    """An incident's severity is the highest of its alerts' (``levels``): a more severe alert
    joining raises it (never lowers it), is recorded, and a triggered incident's deadline is
    brought forward to the new level's when that is sooner."""
    paging = s.config.paging
    values = [incident.severity, *levels]
    new = highest(paging.levels, values)
    if new is None or new == incident.severity:
        return False
    if rank(paging.levels, new) >= rank(paging.levels, incident.severity):
        return False
    repo.update_incident(conn, incident.id, severity=new)
    repo.add_timeline(
        conn,
        incident.id,
        times.to_dt(now),
        "severity_raised",
        {"from": incident.severity, "to": new},
    )
    deadline = paging.deadline_s(new)
    if incident.status == "triggered" and deadline is not None and not storm.held(conn, incident):
        current = outbox.due_at(conn, DEADLINE, incident.id)
        if current is None or now + deadline < current:
            outbox.schedule(conn, DEADLINE, [incident.id], now + deadline)
    return True


def trigger(
    s: Settings,
    conn: Connection,
    incident: Any,
    members: dict[str, Alert],
    firing: list[str],
    levels: list[str | None],
    now: float,
) -> int | None:
    """A pending incident's first page: severity (the highest of ``levels``), escalation,
    deadline; or, in an alert storm, none of its own (``engine/storm.py``): the storm it is
    held in, else None."""
    paging = s.config.paging
    firing_alerts = [members[fp] for fp in firing]
    severity = highest(paging.levels, levels)
    route = s.config.route.find(incident.route_id)
    channels = route.channels if route else []
    channels = [*channels, *_continued(s, incident, members, channels)]
    policy_name, policy, labels = escalate.policy_for(s, incident.route_id, firing_alerts, severity)
    values: dict[str, Any] = {
        "status": "triggered",
        "stage": incident.stage or "investigating",
        "triggered_at": now,
        "severity": severity,
        "channels": json.dumps(channels),
    }
    repo.update_incident(conn, incident.id, **values)
    repo.add_timeline(
        conn,
        incident.id,
        times.to_dt(now),
        "triggered",
        {"severity": severity, "policy": policy_name, "channels": channels},
    )
    log.info(
        "incident triggered",
        extra=logs.fields(
            incident=incident.id,
            severity=severity,
            policy=policy_name,
            channels=channels,
            alerts=len(firing_alerts),
        ),
    )
    held_in = storm.fold(s, conn, incident, route, severity, now)
    if held_in is not None:
        return held_in  # held: the storm's lead pages for it
    if policy is not None:
        escalate.begin(s, conn, incident.id, policy, labels, now, generation=1)
    elif policy_name:
        repo.add_timeline(
            conn,
            incident.id,
            times.to_dt(now),
            "notify_failed",
            {"reason": f"escalation policy {policy_name!r} is not configured"},
        )
    deadline = paging.deadline_s(severity)
    if deadline is not None:
        outbox.schedule(conn, DEADLINE, [incident.id], now + deadline)
    # the runbook's read commands, where auto_diagnose is on: rows now, run after the commit
    diagnose.plan(s, conn, incident, firing_alerts, severity, now)
    return None
