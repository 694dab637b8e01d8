"""Escalation: a policy's steps fired in turn, each paging its targets through the outbox.

Part of the escalate stage, in the caller's transaction. The policy in force is snapshotted
on the incident when escalation starts (a reload never changes a running escalation); the
state machine is ``oncall.escalation`` (pure), who a step pages is ``oncall.targets`` (pure).
Due work ``escalate`` (one per incident) falls due when the fired step's delay is over.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import Connection

from tocsin import logs, times
from tocsin.alerts.model import Alert
from tocsin.engine import messages
from tocsin.engine.stage import Settings
from tocsin.incidents.describe import common
from tocsin.incidents.lifecycle import transition
from tocsin.oncall.contacts import said
from tocsin.oncall.escalation import Page, Policy, State, Target, advance, start
from tocsin.oncall.targets import Delivery, Directory, Skip, deliveries, through_schedule
from tocsin.store import contacts, outbox, repo
from tocsin.store.kinds import ESCALATE

log = logging.getLogger("tocsin.engine")


def due(s: Settings, conn: Connection, item: Any, owner: str, now: float) -> None:
    """Due work ``escalate``: the step's delay is over. Fired steps schedule the next (the
    same item, moved); when there is nothing to fire, the item is done."""
    if not fire(s, conn, item.ref, now, reason="not acknowledged in time", when_due=True):
        repo.finish(conn, item.id, owner)


def pages(
    s: Settings,
    conn: Connection,
    targets: tuple[Target, ...],
    now: float,
    skips: list[Skip] | None = None,
) -> tuple[list[Delivery], list[str]]:
    """Who and where a step pages, and the problems found (nobody on call, a user
    without contact methods): problems go on the timeline, never silently. Each person is
    paged by their notification rules: their own (``store.contacts``) over the
    configuration's; the rules skipped (a method not verified) go to ``skips``."""
    paging = s.config.paging
    profiles = {**paging.profiles, **contacts.profiles(conn)}
    directory = Directory(
        paging.users,
        paging.teams,
        paging.schedules,
        paging.channels,
        profiles,
        paging.channel_types,
    )
    when = times.to_dt(now)
    overrides = outbox.overrides_at(conn, when) if through_schedule(targets, directory) else []
    return deliveries(targets, directory, when, overrides, skips)


def cancel_later(conn: Connection, incident_id: int, now: float, why: str) -> None:
    """The incident is acknowledged or resolved (``why``): the notifications its people's
    rules still had due later are cancelled, and the timeline says once which
    (``notifications_cancelled``: "2 later notifications cancelled: alice by phone, alice by
    call")."""
    cancelled = outbox.cancel_later(conn, incident_id, now)
    if not cancelled:
        return
    repo.add_timeline(
        conn,
        incident_id,
        times.to_dt(now),
        "notifications_cancelled",
        {
            "count": len(cancelled),
            "reason": why,
            "cancelled": [
                {
                    "person": c.person,
                    "contact": c.contact,
                    "channel": c.channel,
                    "due_at": times.to_dt(c.due_at).isoformat(),
                    "notification": c.notification_id,
                }
                for c in cancelled
            ],
            "said": said([(c.person, c.contact) for c in cancelled]),
        },
    )
    log.info(
        "later notifications cancelled",
        extra=logs.fields(incident=incident_id, count=len(cancelled), reason=why),
    )


def policy_for(
    s: Settings, route_id: str, alerts: list[Alert], severity: str | None
) -> tuple[str | None, Policy | None, dict[str, str]]:
    """The escalation policy an incident of route ``route_id`` runs for these firing alerts:
    its name (None: the route names none), the policy (None: not configured) and the labels
    it is run for (the alerts' common labels and the severity)."""
    route = s.config.route.find(route_id)
    policy_name = route.escalation_policy if route else None
    policy = s.config.paging.policies.get(policy_name) if policy_name else None
    labels = common([a.labels for a in alerts])
    if severity:
        labels[s.config.paging.severity_label] = severity
    if policy is not None:
        policy = policy.for_labels(labels)  # an alert's own path from the runbook, if any
    return policy_name, policy, labels


def begin(
    s: Settings,
    conn: Connection,
    incident_id: int,
    policy: Policy,
    labels: dict[str, str],
    now: float,
    generation: int,
) -> None:
    """Start escalation (again, with a new ``generation``) from the policy's first step."""
    state, page = start(policy, labels, now)
    snapshot = {
        "policy": policy.to_json(),
        "labels": labels,
        "generation": generation,
        "started_at": now,
    }
    _fired(s, conn, incident_id, snapshot, state, page, now, reason="started")


def fire(
    s: Settings,
    conn: Connection,
    incident_id: int,
    now: float,
    reason: str,
    by: str | None = None,
    when_due: bool = False,
) -> bool:
    """Fire the next step now (a due step, a missed deadline, or "escalate now"). With
    ``when_due`` (the step timer), only when the stored state says a step is due: a
    deadline or a person may have fired it already, which moved the timer on."""
    incident = repo.get_incident(conn, incident_id)
    if incident is None or transition(incident.status, "escalate") != "triggered":
        return False
    if not incident.escalation:
        return False
    snapshot = json.loads(incident.escalation)
    policy = Policy.from_json(snapshot["policy"])
    state = State.from_json(snapshot.get("state", {}))
    if state.exhausted:
        return False
    if when_due and (state.next_at is None or state.next_at > now):
        return True  # rescheduled meanwhile: the due item already points at next_at
    state, page = advance(policy, state, snapshot.get("labels", {}), now)
    _fired(s, conn, incident_id, snapshot, state, page, now, reason=reason, by=by)
    return True


def _fired(
    s: Settings,
    conn: Connection,
    incident_id: int,
    snapshot: dict[str, Any],
    state: State,
    page: Page | None,
    now: float,
    reason: str,
    by: str | None = None,
) -> None:
    """Store the escalation's new state, page the fired step, and schedule the next."""
    snapshot = {
        **snapshot,
        "state": {**state.to_json(), "fired_at": now},
    }
    repo.update_incident(conn, incident_id, escalation=json.dumps(snapshot))
    when = times.to_dt(now)
    if page is None:
        repo.add_timeline(
            conn,
            incident_id,
            when,
            "escalation_exhausted",
            {"policy": snapshot["policy"]["name"], "reason": reason},
        )
        outbox.cancel(conn, (ESCALATE,), incident_id)
        log.warning(
            "escalation exhausted",
            extra=logs.fields(
                incident=incident_id, policy=snapshot["policy"]["name"], reason=reason
            ),
        )
        return
    incident = repo.get_incident(conn, incident_id)
    skips: list[Skip] = []
    found, problems = pages(s, conn, page.targets, now, skips)
    log.info(
        "escalated",
        extra=logs.fields(
            incident=incident_id,
            policy=snapshot["policy"]["name"],
            step=page.step + 1,
            round=page.round + 1,
            targets=[str(t) for t in page.targets],
            reason=reason,
            recipients=sorted({d.recipient["name"] for d in found if d.recipient}),
        ),
    )
    for problem in problems:
        log.warning("cannot page a target", extra=logs.fields(incident=incident_id, reason=problem))
    detail: dict[str, Any] = {
        "policy": snapshot["policy"]["name"],
        "step": page.step + 1,
        "round": page.round + 1,
        "targets": [str(t) for t in page.targets],
        "reason": reason,
    }
    if by:
        detail["by"] = by
    paged: dict[str, list[str]] = {}  # who the step pages, on which channels (the timeline's)
    later: dict[str, list[str]] = {}  # who their rules page later, how and when
    for d in found:
        who_paged = d.recipient["name"] if d.recipient else d.target
        if d.after_s > 0 and d.recipient:
            how = d.recipient.get("contact", d.channel)
            later.setdefault(who_paged, []).append(
                f"{how} after {times.format_duration(d.after_s, 'prometheus')}"
            )
            continue
        paged.setdefault(who_paged, []).append(d.channel)
    detail["paged"] = paged
    if later:
        detail["later"] = later
    repo.add_timeline(conn, incident_id, when, "escalated", detail)
    for problem in problems:
        repo.add_timeline(conn, incident_id, when, "notify_failed", {"reason": problem})
    for skip in skips:
        repo.add_timeline(
            conn,
            incident_id,
            when,
            "contact_skipped",
            {
                "person": skip.person,
                "contact": skip.skipped.contact,
                "channel": skip.skipped.channel,
                "reason": skip.skipped.reason,
                "target": skip.target,
            },
        )
    generation = snapshot.get("generation", 1)
    pending = []
    members = {a.fingerprint: a.alert for a in repo.incident_members(conn, incident_id)}
    for d in found:
        who = d.recipient["name"] if d.recipient else "-"
        key = (
            f"inc{incident_id}:g{generation}:r{page.round}:s{page.step}:"
            f"{d.target}:{who}:{d.key_part}"
        )
        message = messages.message(
            s,
            conn,
            incident,
            page.kind,  # the first page reads as a new page, a later step as an escalation
            now,
            key,
            members=members,
            step=page.step + 1,
            recipient=d.recipient,
        )
        due = now + d.after_s if d.after_s > 0 else None  # a person's later rule
        pending.append(
            outbox.Pending(incident_id, d.channel, d.target, page.kind, message, key, due_at=due)
        )
    outbox.enqueue(conn, pending, now, s.config.paging.levels)
    if state.next_at is not None:
        outbox.schedule(conn, ESCALATE, [incident_id], state.next_at)
    if not found and state.next_at is not None:
        # nobody could be paged at this step: do not wait for an acknowledgement
        # that cannot come; move on now (bounded by the policy's length)
        fire(s, conn, incident_id, now, reason="nobody paged at the previous step")
