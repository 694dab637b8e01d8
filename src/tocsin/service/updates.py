"""Status updates: a person's word to everyone following an incident.

``post`` validates the update (the stage rule of ``incidents.updates``), renders it (a
default template or a runbook's), records it on the timeline (``status_update``), sets the
incident's ``stage`` and ``last_update_at``, sends the text to the incident's channels through
the outbox (message kind ``status_update``) and moves the update reminder, all in one
transaction. Posting the ``resolved`` stage tells everyone the incident is over; it does not
resolve the paging (acknowledge/resolve do that), it only stops the reminders. The reminders
themselves are the engine's (``engine.reminders``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from tocsin import times
from tocsin.engine.paging import Pager
from tocsin.errors import Conflict, Invalid
from tocsin.incidents.describe import incident_title
from tocsin.incidents.lifecycle import RUNNING
from tocsin.incidents.updates import (
    MAX_MESSAGE_CHARS,
    STAGES,
    Fields,
    render_update,
    stage_of,
    update_problem,
)
from tocsin.oncall.severity import level_of, rank
from tocsin.runbooks.model import Catalog
from tocsin.service.context import Context
from tocsin.service.record import incident_row
from tocsin.store import outbox, repo
from tocsin.store.db import begin_write
from tocsin.store.kinds import REMINDER

MAX_IMPACT_CHARS = 1000


@dataclass(frozen=True)
class Posted:
    incident_id: int
    stage: str
    previous_stage: str
    template: str
    message: str
    text: str
    by: str
    at: float
    channels: list[str]
    public: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "stage": self.stage,
            "previous_stage": self.previous_stage,
            "template": self.template,
            "message": self.message,
            "text": self.text,
            "by": self.by,
            "at": times.to_dt(self.at).isoformat(),
            "channels": self.channels,
            "public": self.public,
        }


def runbook_templates(catalog: Catalog | None, alert_names: list[str]) -> dict[str, str]:
    """The catalog's communication templates by name, those of the incident's alerts and
    their runbooks first (the first of a name wins)."""
    if catalog is None:
        return {}
    names = {n.lower() for n in alert_names}
    ranked: list[tuple[int, str, str]] = []
    for book in catalog.runbooks:
        ours = any(a.name.lower() in names for a in book.alerts)
        for t in book.templates:
            score = 0 if t.alert and t.alert.lower() in names else (1 if ours else 2)
            ranked.append((score, t.name, t.text))
    out: dict[str, str] = {}
    for _score, name, text in sorted(ranked, key=lambda r: r[0]):
        out.setdefault(name, text)
    return out


def _impact(catalog: Catalog | None, alerts: list[Any]) -> str | None:
    """What the runbook (else an alert's ``impact`` annotation) says the impact is."""
    for alert in alerts:
        if catalog is not None and alert.name:
            for _book, entry in catalog.find(alert.name):
                if entry.impact:
                    return str(entry.impact)[:MAX_IMPACT_CHARS]
    for alert in alerts:
        if alert.annotations.get("impact"):
            return str(alert.annotations["impact"])[:MAX_IMPACT_CHARS]
    return None


def _fields(
    pager: Pager,
    conn: Connection,
    incident: Any,
    stage: str,
    message: str | None,
    by: str | None,
    now: float,
    impact: str | None = None,
) -> tuple[Fields, list[str]]:
    """The fields of an update and the incident's alert names."""
    paging = pager.config.paging
    members = [m.alert for m in repo.incident_members(conn, incident.id)]
    when = times.to_dt(now)
    firing = [a for a in members if not a.resolved(when)]
    shown = firing or members
    group_labels = json.loads(incident.group_labels) if incident.group_labels else {}
    title = getattr(incident, "title", None) or incident_title(group_labels, shown)
    level = level_of(paging.levels, incident.severity)
    interval = paging.update_interval_s(incident.severity)
    started = incident.triggered_at or incident.opened_at
    service = group_labels.get("service") or next(
        (a.labels["service"] for a in shown if a.labels.get("service")), None
    )
    fields = Fields(
        incident_id=incident.id,
        title=title,
        stage=stage,
        now=when,
        severity=incident.severity,
        priority=rank(paging.levels, incident.severity) + 1 if level is not None else None,
        service=service,
        started_at=times.to_dt(started) if started else None,
        impact=impact or _impact(pager.catalog, shown),
        message=message,
        next_update_at=times.to_dt(now + interval) if interval and stage != "resolved" else None,
        by=by,
        url=pager.incident_url(incident.id, conn, now),
    )
    return fields, [a.name for a in members if a.name]


def _check(stage: str, message: str, impact: str | None) -> None:
    if stage not in STAGES:
        raise Invalid(f"unknown stage {stage!r} (expected one of {', '.join(STAGES)})")
    if not message:
        raise Invalid("a status update needs a message")
    if len(message) > MAX_MESSAGE_CHARS:
        raise Invalid(f"the message is longer than {MAX_MESSAGE_CHARS} characters")
    if impact is not None and len(impact) > MAX_IMPACT_CHARS:
        raise Invalid(f"the impact is longer than {MAX_IMPACT_CHARS} characters")


def post(
    ctx: Context,
    incident_id: int,
    stage: str,
    message: str,
    by: str,
    template: str | None = None,
    impact: str | None = None,
    public: bool = False,
) -> Posted:
    """Post a status update (Invalid, NotFound or Conflict when it cannot be). ``public``:
    its message is published on the status page too (``service.status``)."""
    message = message.strip()
    _check(stage, message, impact)
    pager, now = ctx.pager(), ctx.now()
    with begin_write(ctx.db) as conn:
        incident = _updatable(conn, incident_id, stage, lock=True)
        previous = stage_of(incident.stage)
        name, text = _render(pager, conn, incident, stage, message, by, now, template, impact)
        repo.update_incident(conn, incident_id, stage=stage, last_update_at=now)
        number = len(_history(conn, incident_id)) + 1
        incident = repo.get_incident(conn, incident_id)
        event = f"update{number}:{now:.6f}"
        to = json.loads(incident.channels) if incident.channels else []
        channels = pager.to_channels(conn, incident, "status_update", to, now, event, text=text)
        repo.add_timeline(
            conn,
            incident_id,
            times.to_dt(now),
            "status_update",
            {
                "stage": stage,
                "previous_stage": previous,
                "template": name,
                "message": message,
                "text": text,
                "by": by,
                "channels": channels,
                "public": public,
            },
        )
        interval = pager.config.paging.update_interval_s(incident.severity)
        if incident.status in RUNNING and stage != "resolved" and interval:
            outbox.schedule(conn, REMINDER, [incident_id], now + interval)
        else:
            outbox.cancel(conn, (REMINDER,), incident_id)
    ctx.wake()
    return Posted(incident_id, stage, previous, name, message, text, by, now, channels, public)


def _updatable(conn: Connection, incident_id: int, stage: str, lock: bool = False) -> Any:
    """The incident's row, when an update to ``stage`` may be posted now (the stage rule of
    ``incidents.updates``); Conflict saying why not."""
    incident = incident_row(conn, incident_id, lock=lock)
    problem = update_problem(incident.status, incident.stage, stage)
    if problem is not None:
        raise Conflict(problem)
    return incident


def _render(
    pager: Pager,
    conn: Connection,
    incident: Any,
    stage: str,
    message: str,
    by: str,
    now: float,
    template: str | None,
    impact: str | None,
) -> tuple[str, str]:
    """The update's template name and text, as it would be sent now."""
    fields, alert_names = _fields(pager, conn, incident, stage, message, by, now, impact)
    books = runbook_templates(pager.catalog, alert_names)
    first = incident.last_update_at is None
    try:
        return render_update(template, fields, first, books)
    except KeyError:
        known = ", ".join(["initial", "update", "resolution", *books])
        raise Invalid(f"unknown template {template!r} (known: {known})") from None


def preview(
    ctx: Context,
    incident_id: int,
    stage: str,
    message: str,
    by: str,
    template: str | None = None,
    impact: str | None = None,
) -> tuple[str, str]:
    """What ``post`` would send (its template's name and text), without sending or
    recording anything; the same refusals."""
    message = message.strip()
    _check(stage, message, impact)
    pager, now = ctx.pager(), ctx.now()
    with ctx.db.connect() as conn:
        incident = _updatable(conn, incident_id, stage)
        return _render(pager, conn, incident, stage, message, by, now, template, impact)


def templates(ctx: Context, incident_id: int) -> list[str]:
    """The names of the templates an update of this incident may use: the defaults, then
    its runbooks' (``runbook_templates``)."""
    with ctx.db.connect() as conn:
        incident_row(conn, incident_id)
        names = [m.alert.name for m in repo.incident_members(conn, incident_id) if m.alert.name]
    return ["initial", "update", "resolution", *runbook_templates(ctx.pager().catalog, names)]


def _history(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    return [
        {"id": e["id"], "at": e["at"], **e["detail"]}
        for e in repo.incident_timeline(conn, incident_id, kinds={"status_update"})
    ]


def history(ctx: Context, incident_id: int) -> list[dict[str, Any]]:
    """The incident's status updates, oldest first."""
    with ctx.db.connect() as conn:
        incident_row(conn, incident_id)
        return _history(conn, incident_id)
