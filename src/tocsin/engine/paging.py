"""Paging: what an incident's events send, to whom, and the escalation that follows.

Every function here runs inside the caller's transaction and writes its notifications to the
outbox in that same transaction (``store.outbox.enqueue``), so a decision to page and the page
itself commit together or not at all; the engine delivers the outbox afterwards.

- When an incident triggers, its severity is fixed (the highest of its alerts), the route's
  escalation policy is snapshotted with its first step fired, and the severity's
  acknowledgement deadline is set.
- Every group flush with news goes to the route's channels (as Alertmanager's receivers).
- A due step fires the next one; a missed deadline is recorded and escalates at once.
- Acknowledging stops escalation (an acknowledgement may time out and re-trigger); resolving
  stops it and tells the channels.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection

from tocsin.alerts.model import Alert
from tocsin.config import Config
from tocsin.engine import updates as status_updates
from tocsin.incidents.describe import common, incident_title
from tocsin.notify.message import from_json, message_context
from tocsin.oncall.escalation import Page, Policy, State, Target, advance, start
from tocsin.oncall.schedule import on_call
from tocsin.oncall.severity import highest, rank
from tocsin.runbooks.model import Catalog
from tocsin.runbooks.text import slugify
from tocsin.store import outbox, repo
from tocsin.templating import TemplateError, compile_template, one_line, render

log = logging.getLogger("tocsin.paging")
MAX_DIAGNOSTICS = 3


@dataclass(frozen=True)
class Delivery:
    target: str  # what the policy named: schedule:primary, user:alice, channel:slack
    channel: str
    recipient: dict[str, str] | None  # the person paged, if any


class Pager:
    def __init__(self, config: Config, catalog: Catalog | None = None) -> None:
        self.config = config
        self.catalog = catalog

    # ------------------------------------------------------------------ messages

    def message(
        self,
        conn: Connection,
        incident: Any,
        kind: str,
        now: float,
        key: str,
        *,
        members: dict[str, Alert] | None = None,
        step: int | None = None,
        recipient: dict[str, str] | None = None,
        text: str | None = None,
    ) -> dict[str, Any]:
        """The message (as the outbox stores it) for an incident event."""
        if members is None:
            members = {a.fingerprint: a.alert for a in repo.incident_members(conn, incident.id)}
        when = repo.to_dt(now)
        alerts = [
            {
                "fingerprint": fp,
                "status": "resolved" if a.resolved(when) else "firing",
                "labels": a.labels,
                "annotations": a.annotations,
                "starts_at": a.starts_at.isoformat() if a.starts_at else None,
                "ends_at": a.ends_at.isoformat() if a.ends_at else None,
            }
            for fp, a in sorted(members.items())
        ]
        firing = [a for a in members.values() if not a.resolved(when)]
        shown = firing or list(members.values())
        group_labels = json.loads(incident.group_labels)
        summary = next(
            (
                a.annotations.get("summary") or a.annotations.get("description", "")
                for a in shown
                if a.annotations.get("summary") or a.annotations.get("description")
            ),
            f"{len(firing)} alert(s) firing",
        )
        status = incident.status if incident.status != "pending" else "triggered"
        message: dict[str, Any] = {
            "kind": kind,
            "incident_id": incident.id,
            "title": incident_title(group_labels, shown),
            "status": status,
            "severity": incident.severity,
            "summary": summary[:1000],
            "group_labels": group_labels,
            "alerts": alerts[:50],
            "idempotency_key": key,
            "created_at": when.isoformat(),
            "external_url": self.incident_url(incident.id),
            "runbook_url": None,
            "runbook_title": None,
            "diagnostics": [],
            "escalation_step": step,
            "recipient": recipient,
            "text": text,
        }
        message.update(self._runbook(shown))
        message["title"] = self.title(message)
        return message

    def incident_title(
        self, conn: Connection, incident: Any, members: dict[str, Alert], now: float
    ) -> str:
        """The title an incident carries, from its alerts now."""
        if self.config.model.incident_title:
            return str(
                self.message(conn, incident, "firing", now, "title", members=members)["title"]
            )
        when = repo.to_dt(now)
        firing = [a for a in members.values() if not a.resolved(when)]
        return incident_title(json.loads(incident.group_labels), firing or list(members.values()))

    def title(self, message: dict[str, Any]) -> str:
        """The incident's title for a message: the configured ``incident_title`` template
        rendered over it (one line, at most 200 characters), else the default."""
        source = self.config.model.incident_title
        if not source:
            return str(message["title"])
        template = compile_template(source, "incident_title")
        try:
            rendered = one_line(render(template, message_context(from_json(message))), 200)
        except TemplateError:  # checked at load; never lose a page over a title
            log.exception("incident_title failed to render; using the default title")
            return str(message["title"])
        return rendered or str(message["title"])

    def incident_url(self, incident_id: int) -> str:
        base = self.config.model.global_.external_url.rstrip("/")
        return f"{base}/api/v1/incidents/{incident_id}"

    def _runbook(self, alerts: list[Alert]) -> dict[str, Any]:
        """The runbook section of the first alert that has one: its link (the alert's own
        ``runbook_url`` annotation first) and its first diagnostic commands."""
        for alert in alerts:
            url = alert.annotations.get("runbook_url")
            found = self.catalog.find(alert.name) if self.catalog and alert.name else []
            if not found and url:
                return {"runbook_url": url, "runbook_title": alert.name}
            if not found:
                continue
            book, entry = found[0]
            diagnostics = [
                {
                    "title": step.title,
                    "language": cmd.language,
                    "code": cmd.code[:1500],
                    "risk": cmd.risk,
                }
                for step in entry.steps
                if step.phase == "diagnose"
                for cmd in step.commands
            ][:MAX_DIAGNOSTICS]
            return {
                "runbook_url": url or self._runbook_link(book.source, entry.title),
                "runbook_title": f"{book.title}: {entry.title}",
                "diagnostics": diagnostics,
            }
        return {}

    def _runbook_link(self, source: str, title: str) -> str:
        """The section's web address under ``runbooks_url`` (else its file and anchor)."""
        anchor = f"#{slugify(title)}"
        base = self.config.model.runbooks_url
        if not base:
            return source + anchor
        path = Path(source)
        with contextlib.suppress(ValueError):
            path = path.resolve().relative_to(self.config.base_dir.resolve())
        return base.rstrip("/") + "/" + quote(path.as_posix()) + anchor

    # ------------------------------------------------------------------ targets

    def deliveries(
        self, conn: Connection, targets: tuple[Target, ...], now: float
    ) -> tuple[list[Delivery], list[str]]:
        """Who and where a step pages, and the problems found (nobody on call, a user
        without contact methods): problems go on the timeline, never silently."""
        paging = self.config.paging
        out: list[Delivery] = []
        problems: list[str] = []
        when = repo.to_dt(now)
        overrides = None

        def person(name: str, via: str) -> None:
            user = paging.users.get(name)
            if user is None:
                problems.append(f"{via}: unknown user {name!r}")
                return
            if not user.contact:
                problems.append(f"{via}: user {name!r} has no contact methods")
                return
            recipient = {"name": user.name, "email": user.email or "", "slack": user.slack or ""}
            for channel in user.contact:
                out.append(Delivery(via, channel, recipient))

        def scheduled(name: str, via: str) -> None:
            nonlocal overrides
            schedule = paging.schedules.get(name)
            if schedule is None:
                problems.append(f"{via}: unknown schedule {name!r}")
                return
            if overrides is None:
                overrides = outbox.overrides_at(conn, when)
            users = on_call(schedule, when, [o for o in overrides if o.schedule == name])
            if not users:
                problems.append(f"{via}: nobody is on call in schedule {name!r}")
            for user in users:
                person(user, via)

        for target in targets:
            via = str(target)
            if target.kind == "user":
                person(target.name, via)
            elif target.kind == "schedule":
                scheduled(target.name, via)
            elif target.kind == "team":
                team = paging.teams.get(target.name)
                if team is None:
                    problems.append(f"{via}: unknown team {target.name!r}")
                elif team.schedule:
                    scheduled(team.schedule, via)
                else:
                    for member in team.members:
                        person(member, via)
            elif target.name in paging.channels:
                out.append(Delivery(via, target.name, None))
            else:
                problems.append(f"{via}: unknown channel {target.name!r}")
        return out, problems

    # ------------------------------------------------------------------ events

    def flushed(
        self,
        conn: Connection,
        incident: Any,
        members: dict[str, Alert],
        firing: list[str],
        all_resolved: bool,
        now: float,
    ) -> None:
        """A group flush with news: trigger the incident if it was pending, and tell the
        route's channels."""
        if firing and incident.status == "pending":
            self.trigger(conn, incident, members, firing, now)
            status_updates.schedule_first(conn, self.config, incident.id, now)
            incident = repo.get_incident(conn, incident.id)
        elif (
            firing
            and incident.status in ("triggered", "acknowledged")
            and self._rerate(conn, incident, [members[fp] for fp in firing], now)
        ):
            incident = repo.get_incident(conn, incident.id)
        channels = json.loads(incident.channels) if incident.channels else []
        if not channels:
            route = self.config.route.find(incident.route_id)
            channels = route.channels if route else []
        kind = "resolved" if all_resolved else "firing"
        self.to_channels(conn, incident, kind, channels, now, f"flush:{now:.6f}", members)

    def _rerate(self, conn: Connection, incident: Any, firing: list[Alert], now: float) -> bool:
        """An incident's severity is the highest of its alerts: a more severe alert joining
        raises it (never lowers it), is recorded, and a triggered incident's deadline is
        brought forward to the new level's when that is sooner."""
        paging = self.config.paging
        values = [incident.severity] + [a.labels.get(paging.severity_label) for a in firing]
        new = highest(paging.levels, values)
        if new is None or new == incident.severity:
            return False
        if rank(paging.levels, new) >= rank(paging.levels, incident.severity):
            return False
        repo.update_incident(conn, incident.id, severity=new)
        repo.add_timeline(
            conn,
            incident.id,
            repo.to_dt(now),
            "severity_raised",
            {"from": incident.severity, "to": new},
        )
        deadline = paging.deadline_s(new)
        if incident.status == "triggered" and deadline is not None:
            current = outbox.due_at(conn, outbox.DEADLINE, incident.id)
            if current is None or now + deadline < current:
                outbox.schedule(conn, outbox.DEADLINE, [incident.id], now + deadline)
        return True

    def trigger(
        self,
        conn: Connection,
        incident: Any,
        members: dict[str, Alert],
        firing: list[str],
        now: float,
    ) -> None:
        paging = self.config.paging
        firing_alerts = [members[fp] for fp in firing]
        severity = highest(
            paging.levels, [a.labels.get(paging.severity_label) for a in firing_alerts]
        )
        route = self.config.route.find(incident.route_id)
        channels = route.channels if route else []
        policy_name = route.escalation_policy if route else None
        policy = paging.policies.get(policy_name) if policy_name else None
        labels = common([a.labels for a in firing_alerts])
        if severity:
            labels[paging.severity_label] = severity
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
            repo.to_dt(now),
            "triggered",
            {"severity": severity, "policy": policy_name, "channels": channels},
        )
        if policy is not None:
            self._start_escalation(conn, incident.id, policy, labels, now, generation=1)
        elif policy_name:
            repo.add_timeline(
                conn,
                incident.id,
                repo.to_dt(now),
                "notify_failed",
                {"reason": f"escalation policy {policy_name!r} is not configured"},
            )
        deadline = paging.deadline_s(severity)
        if deadline is not None:
            outbox.schedule(conn, outbox.DEADLINE, [incident.id], now + deadline)

    def _start_escalation(
        self,
        conn: Connection,
        incident_id: int,
        policy: Policy,
        labels: dict[str, str],
        now: float,
        generation: int,
    ) -> None:
        state, page = start(policy, labels, now)
        snapshot = {
            "policy": policy.to_json(),
            "labels": labels,
            "generation": generation,
            "started_at": now,
        }
        self._fired(conn, incident_id, snapshot, state, page, now, reason="started")

    def _fired(
        self,
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
        when = repo.to_dt(now)
        if page is None:
            repo.add_timeline(
                conn,
                incident_id,
                when,
                "escalation_exhausted",
                {"policy": snapshot["policy"]["name"], "reason": reason},
            )
            outbox.cancel(conn, (outbox.ESCALATE,), incident_id)
            return
        incident = repo.get_incident(conn, incident_id)
        deliveries, problems = self.deliveries(conn, page.targets, now)
        detail: dict[str, Any] = {
            "policy": snapshot["policy"]["name"],
            "step": page.step + 1,
            "round": page.round + 1,
            "targets": [str(t) for t in page.targets],
            "reason": reason,
        }
        if by:
            detail["by"] = by
        repo.add_timeline(conn, incident_id, when, "escalated", detail)
        for problem in problems:
            repo.add_timeline(conn, incident_id, when, "notify_failed", {"reason": problem})
        generation = snapshot.get("generation", 1)
        pending = []
        members = {a.fingerprint: a.alert for a in repo.incident_members(conn, incident_id)}
        for d in deliveries:
            who = d.recipient["name"] if d.recipient else "-"
            key = (
                f"inc{incident_id}:g{generation}:r{page.round}:s{page.step}:"
                f"{d.target}:{who}:{d.channel}"
            )
            message = self.message(
                conn,
                incident,
                "escalation",
                now,
                key,
                members=members,
                step=page.step + 1,
                recipient=d.recipient,
            )
            pending.append(
                outbox.Pending(incident_id, d.channel, d.target, "escalation", message, key)
            )
        outbox.enqueue(conn, pending, now)
        if state.next_at is not None:
            outbox.schedule(conn, outbox.ESCALATE, [incident_id], state.next_at)
        if not deliveries and state.next_at is not None:
            # nobody could be paged at this step: do not wait for an acknowledgement
            # that cannot come; move on now (bounded by the policy's length)
            self.escalate(conn, incident_id, now, reason="nobody paged at the previous step")

    def escalate(
        self,
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
        if incident is None or incident.status not in ("triggered",) or not incident.escalation:
            return False
        snapshot = json.loads(incident.escalation)
        policy = Policy.from_json(snapshot["policy"])
        state = State.from_json(snapshot.get("state", {}))
        if state.exhausted:
            return False
        if when_due and (state.next_at is None or state.next_at > now):
            return True  # rescheduled meanwhile: the due item already points at next_at
        state, page = advance(policy, state, snapshot.get("labels", {}), now)
        self._fired(conn, incident_id, snapshot, state, page, now, reason=reason, by=by)
        return True

    def deadline(self, conn: Connection, incident_id: int, now: float) -> None:
        """A missed acknowledgement deadline: recorded, and the next step is brought forward
        to now (unless a step fired this very instant: that one is the escalation)."""
        incident = repo.get_incident(conn, incident_id)
        if incident is None or incident.status != "triggered":
            return
        deadline = self.config.paging.deadline_s(incident.severity)
        repo.add_timeline(
            conn,
            incident_id,
            repo.to_dt(now),
            "deadline_missed",
            {
                "severity": incident.severity,
                "deadline_s": deadline,
                "triggered_at": repo.to_dt(incident.triggered_at).isoformat()
                if incident.triggered_at
                else None,
            },
        )
        fired_at = None
        if incident.escalation:
            fired_at = json.loads(incident.escalation).get("state", {}).get("fired_at")
        if fired_at is not None and fired_at >= now:
            return
        self.escalate(conn, incident_id, now, reason="acknowledgement deadline missed")

    def acknowledge(self, conn: Connection, incident_id: int, by: str, now: float) -> str | None:
        """Stop escalation; None when done, else why not."""
        incident = repo.get_incident(conn, incident_id, lock=True)
        if incident is None:
            return "no such incident"
        if incident.status == "resolved":
            return "the incident is resolved"
        if incident.status == "acknowledged":
            return None  # idempotent
        repo.update_incident(
            conn, incident_id, status="acknowledged", acknowledged_at=now, acknowledged_by=by
        )
        outbox.cancel(conn, outbox.ESCALATION_KINDS, incident_id)
        repo.add_timeline(conn, incident_id, repo.to_dt(now), "acknowledged", {"by": by})
        snapshot = json.loads(incident.escalation) if incident.escalation else None
        timeout = snapshot["policy"].get("ack_timeout_s") if snapshot else None
        if timeout:
            outbox.schedule(conn, outbox.ACK_TIMEOUT, [incident_id], now + float(timeout))
        incident = repo.get_incident(conn, incident_id)
        self.to_channels(
            conn, incident, "acknowledged", self._channels(incident), now, f"ack:{now:.6f}"
        )
        return None

    def ack_timeout(self, conn: Connection, incident_id: int, now: float) -> None:
        """An acknowledgement that lapsed: the incident triggers again and escalation restarts
        from its first step with the same snapshot."""
        incident = repo.get_incident(conn, incident_id)
        if incident is None or incident.status != "acknowledged" or not incident.escalation:
            return
        snapshot = json.loads(incident.escalation)
        repo.update_incident(
            conn, incident_id, status="triggered", acknowledged_at=None, acknowledged_by=None
        )
        repo.add_timeline(
            conn,
            incident_id,
            repo.to_dt(now),
            "ack_expired",
            {"acknowledged_by": incident.acknowledged_by},
        )
        policy = Policy.from_json(snapshot["policy"])
        self._start_escalation(
            conn,
            incident_id,
            policy,
            snapshot.get("labels", {}),
            now,
            generation=int(snapshot.get("generation", 1)) + 1,
        )

    def resolve(self, conn: Connection, incident_id: int, by: str, now: float) -> str | None:
        incident = repo.get_incident(conn, incident_id, lock=True)
        if incident is None:
            return "no such incident"
        if incident.status == "resolved":
            return None
        repo.update_incident(conn, incident_id, status="resolved", resolved_at=now, resolved_by=by)
        outbox.cancel(conn, (*outbox.ESCALATION_KINDS, outbox.ACK_TIMEOUT), incident_id)
        repo.add_timeline(conn, incident_id, repo.to_dt(now), "resolved", {"by": by})
        incident = repo.get_incident(conn, incident_id)
        self.to_channels(conn, incident, "resolved", self._channels(incident), now, "resolved")
        return None

    def stopped(self, conn: Connection, incident_id: int) -> None:
        """The incident resolved by its alerts: no more escalation."""
        outbox.cancel(conn, (*outbox.ESCALATION_KINDS, outbox.ACK_TIMEOUT), incident_id)

    def _channels(self, incident: Any) -> list[str]:
        return json.loads(incident.channels) if incident.channels else []

    def to_channels(
        self,
        conn: Connection,
        incident: Any,
        kind: str,
        channels: list[str],
        now: float,
        event: str,
        members: dict[str, Alert] | None = None,
        text: str | None = None,
    ) -> list[str]:
        """The message of ``kind`` to each channel, in the outbox (a channel that is not
        configured is a ``notify_failed`` on the timeline); the channels it went to."""
        pending = []
        for channel in channels:
            if channel not in self.config.paging.channels:
                repo.add_timeline(
                    conn,
                    incident.id,
                    repo.to_dt(now),
                    "notify_failed",
                    {"reason": f"channel {channel!r} is not configured"},
                )
                continue
            key = f"inc{incident.id}:{event}:{channel}"
            message = self.message(conn, incident, kind, now, key, members=members, text=text)
            pending.append(
                outbox.Pending(incident.id, channel, f"channel:{channel}", kind, message, key)
            )
        outbox.enqueue(conn, pending, now)
        return [p.channel for p in pending]
