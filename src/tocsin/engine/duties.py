"""Post-incident duties: what a resolved incident still asks of people (``duties:`` in
``tocsin.yaml``: an incident report, a postmortem, a post-mortem meeting, per severity).

Due work ``duties`` (one per incident) is scheduled when an incident is resolved
(``engine/resolution.stopped``). When it falls due, the incident's duties that are missing
become action items (``duty`` set, due that long after the resolution: ``config.duties.plan``,
pure), owned by its commander, else its assignee, else who acknowledged or resolved it. Each
open duty's owner is then reminded once, ``remind_before`` its deadline: on the person's own
contact channels when the owner is a configured user, else on the incident's channels. The
item falls due again at the next reminder, or is done. What is past due shows in
``tocsin actions list --overdue``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from tocsin import times
from tocsin.engine import messages
from tocsin.engine.escalate import pages
from tocsin.engine.stage import Settings
from tocsin.incidents.postmortem import ActionItem, utc
from tocsin.oncall.escalation import Target
from tocsin.store import actions, outbox, repo
from tocsin.store.kinds import DUTIES

BY = "tocsin"  # who adds the duties: the configuration, not a person
KIND = "duty_reminder"  # the message kind (templating.KINDS) and timeline kind of a reminder


def owner_of(incident: Any) -> str:
    """Who carries an incident's duties: its commander, else its assignee, else who
    acknowledged it, else who resolved it ("unassigned" when nobody did)."""
    for who in (
        incident.commander,
        incident.assignee,
        incident.acknowledged_by,
        incident.resolved_by,
    ):
        if who and str(who).strip():
            return str(who).strip()
    return "unassigned"


def due(s: Settings, conn: Connection, item: Any, owner: str, now: float) -> None:
    """Due work ``duties``: the incident's duties added (once), the reminders due sent; then
    again at the next reminder, or done."""
    next_at = settle(s, conn, item.ref, now)
    if next_at is None:
        repo.finish(conn, item.id, owner)
    else:
        repo.reschedule(conn, item.id, owner, next_at)


def settle(s: Settings, conn: Connection, incident_id: int, now: float) -> float | None:
    """Add the resolved incident's missing duties and send the reminders due; when the next
    reminder falls due (None: none left)."""
    incident = repo.get_incident(conn, incident_id)
    if incident is None or incident.status != "resolved":
        return None  # reopened meanwhile: its next resolution schedules this again
    have = actions.duties_of(conn, incident_id)
    kinds = {i.duty for i in have}
    resolved_at = float(incident.resolved_at) if incident.resolved_at is not None else now
    for duty in s.config.model.duties.plan(incident.severity, resolved_at):
        if duty.kind not in kinds:
            actions.add(
                conn,
                incident_id,
                duty.title,
                owner_of(incident),
                now,
                BY,
                duty.due_at,
                duty=duty.kind,
                remind_at=duty.remind_at,
            )
    upcoming: list[float] = []
    for duty_item in actions.duties_of(conn, incident_id):
        if duty_item.status != "open" or duty_item.remind_at is None:
            continue
        if duty_item.remind_at > now:
            upcoming.append(duty_item.remind_at)
            continue
        remind(s, conn, incident, duty_item, now)
        actions.reminded(conn, duty_item.id)
    return min(upcoming) if upcoming else None


def reminder_text(incident_id: int, item: ActionItem, now: float) -> str:
    """What a duty's reminder says."""
    left = item.due_at - now
    when = (
        f"is due {utc(item.due_at)} (in {times.format_duration(left, 'short')})"
        if left > 0
        else f"was due {utc(item.due_at)} ({times.format_duration(-left, 'short')} ago)"
    )
    return (
        f"{item.owner}: {item.title} for incident #{incident_id} {when}. "
        f"When it is done: tocsin actions done {item.id}"
    )


def remind(s: Settings, conn: Connection, incident: Any, item: ActionItem, now: float) -> None:
    """One reminder of ``item`` to its owner's contact channels (a configured user), else
    to the incident's channels; on the timeline, with where it went."""
    text = reminder_text(incident.id, item, now)
    found, _problems = (
        pages(s, conn, (Target("user", item.owner),), now)
        if item.owner in s.config.paging.users
        else ([], [])
    )
    if found:  # a reminder, not a page: through the person's first rules only, now
        first = min(d.after_s for d in found)
        found = [d for d in found if d.after_s == first]
        pending = []
        for d in found:
            key = f"inc{incident.id}:duty{item.id}:{d.key_part}"
            composed = messages.message(
                s, conn, incident, KIND, now, key, recipient=d.recipient, text=text
            )
            pending.append(outbox.Pending(incident.id, d.channel, d.target, KIND, composed, key))
        outbox.enqueue(conn, pending, now)
        channels = [p.channel for p in pending]
    else:
        channels = messages.to_channels(
            s,
            conn,
            incident,
            KIND,
            messages.channels_of(incident),
            now,
            f"duty{item.id}",
            text=text,
        )
    repo.add_timeline(
        conn,
        incident.id,
        times.to_dt(now),
        KIND,
        {
            "id": item.id,
            "duty": item.duty,
            "title": item.title,
            "owner": item.owner,
            "due": item.due_at,
            "channels": channels,
        },
    )


def schedule(conn: Connection, incident_id: int, now: float | None = None) -> None:
    """The incident was resolved (at ``now``): its duties are looked at as soon as the
    engine runs (without ``now``: due at once, whatever the time)."""
    outbox.schedule(conn, DUTIES, [incident_id], 0.0 if now is None else now)
