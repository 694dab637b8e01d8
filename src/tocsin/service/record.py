"""The incident record and what is read around it: an incident as every door shows it, the
whole record (alerts, response figures, runbook sections), the list of incidents, the
timeline, the notifications with their delivery attempts, and the alert history.

``incident_json`` is the one place an incident's shape is built; an alert's is
``alerts.model.alert_json`` here as in messages and on the timeline (the Alertmanager
``/api/v2`` shape is a compatibility contract and stays in ``api.alertmanager``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, func, select

from tocsin import times
from tocsin.alerts import model
from tocsin.alerts.payloads import format_time
from tocsin.engine import messages
from tocsin.engine.diagnose import labels_by_name as labels_by_name
from tocsin.errors import Invalid, NotFound
from tocsin.incidents.figures import FIGURE_KINDS, figures
from tocsin.incidents.lifecycle import STATUSES
from tocsin.incidents.sections import sections
from tocsin.oncall.escalation import progress
from tocsin.runbooks.fill import fill
from tocsin.runbooks.links import relative_path
from tocsin.service.context import Context
from tocsin.store import outbox, repo
from tocsin.store.repo import StoredAlert
from tocsin.store.schema import incidents
from tocsin.store.schema import timeline as timeline_table

# A timeline is read a page at a time (``GET /api/v1/incidents/{id}/timeline``: ``limit``,
# ``after``); the record and ``tocsin incident show`` carry the latest ``RECORD_EVENTS``.
TIMELINE_PAGE = 500
MAX_TIMELINE_PAGE = 5000
RECORD_EVENTS = 500


def _at(ts: float | None) -> str | None:
    return format_time(times.to_dt(ts)) if ts is not None else None


def incident_json(row: Any) -> dict[str, Any]:
    """An incident as the doors show it (lists and the record share these fields)."""
    return {
        "id": row.id,
        "number": row.id,
        "title": row.title,
        "group_key": row.group_key,
        "route": row.route_id,
        "receiver": row.receiver,
        "group_labels": json.loads(row.group_labels),
        "status": row.status,
        "stage": row.stage,
        "severity": row.severity,
        "assignee": row.assignee,
        "commander": row.commander,
        "opened_at": _at(row.opened_at),
        "triggered_at": _at(row.triggered_at),
        "acknowledged_at": _at(row.acknowledged_at),
        "acknowledged_by": row.acknowledged_by,
        "resolved_at": _at(row.resolved_at),
        "resolved_by": row.resolved_by,
        "reopened_at": _at(row.reopened_at),
        "last_alert_at": _at(row.last_alert_at),
        "last_flush_at": _at(row.last_flush_at),
        "last_update_at": _at(row.last_update_at),
    }


def alert_json(
    stored: StoredAlert, now: datetime | None = None, with_id: bool = False
) -> dict[str, Any]:
    """A stored alert: with ``now`` its status then (firing or resolved), with ``with_id``
    the episode's row id (the alert history)."""
    shape = model.alert_json(stored.fingerprint, stored.alert, when=now, time=format_time)
    return {"id": stored.id, **shape} if with_id else shape


def incident_row(conn: Connection, incident_id: int, lock: bool = False) -> Any:
    """The incident's row, or NotFound."""
    row = repo.get_incident(conn, incident_id, lock=lock) if repo.is_row_id(incident_id) else None
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    return row


def incident(ctx: Context, incident_id: int) -> dict[str, Any]:
    """The incident's fields (what acknowledge, resolve and the lists answer)."""
    with ctx.db.connect() as conn:
        return incident_json(incident_row(conn, incident_id))


def sections_of(
    ctx: Context, names: list[str], row: Any, labels: Mapping[str, Mapping[str, str]] | None = None
) -> list[dict[str, Any]]:
    """The runbook sections for the alerts ``names`` at the incident's severity; with
    ``labels`` (an alert name's labels), every command carries ``filled``: its text with the
    placeholders filled from those labels (``runbooks.fill``), and ``unfilled``."""
    return runbook_sections(ctx, names, row.severity, labels)


def runbook_sections(
    ctx: Context,
    names: list[str],
    severity: str | None,
    labels: Mapping[str, Mapping[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """The runbook sections for the alerts ``names``, the variant for ``severity`` first;
    every command ``filled`` from ``labels`` where given (else as written) and its
    ``unfilled`` placeholders."""
    link: Callable[[str, str], str] = partial(messages.runbook_link, ctx.pager())
    found = sections(ctx.catalog, sorted(names), severity, link)
    roots = ctx.config.runbook_paths()
    for section in found:  # never the server's own paths: relative to the runbook directory
        source, url = section["source"], section["url"]
        section["source"] = relative_path(source, roots)
        if url and url.startswith(source):  # a file, not a web address
            section["url"] = section["source"] + url.removeprefix(source)
        given = next((labels[n] for n in section["alerts"] if labels and n in labels), {})
        for step in section["steps"]:
            for command in step["commands"]:
                filled = fill(command["code"], command["language"], given)
                command["filled"] = filled.text
                command["unfilled"] = filled.unfilled
    return found


def record(
    ctx: Context,
    incident_id: int,
    with_timeline: bool = False,
    typed: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The whole record: the incident, its alerts, response figures, where its escalation
    stands (``oncall.escalation.progress``) and runbook sections
    (and, ``with_timeline``, the latest ``RECORD_EVENTS`` events of its timeline, oldest
    first, and ``timeline_total``: how many it holds). ``typed``: values a person gave for
    placeholders no label fills (by ``placeholder_key``), filled the same way, quoted; an
    alert's own labels come first."""
    with ctx.db.connect() as conn:
        row = incident_row(conn, incident_id)
        members = repo.incident_members(conn, row.id)
        body = incident_json(row)
        now = times.to_dt(ctx.now())
        body["alerts"] = [alert_json(m, now) for m in members]
        events = repo.incident_events(conn, row.id, FIGURE_KINDS)
        body["figures"] = figures(events, row.opened_at).to_json()
        body["escalation"] = (
            progress(json.loads(row.escalation), row.status) if row.escalation else None
        )
        names = [m.labels.get("alertname", "") for m in members]
        labels = labels_by_name(members)
        if typed:
            labels = {name: {**typed, **own} for name, own in labels.items()}
        body["runbooks"] = sections_of(ctx, names, row, labels)
    if with_timeline:  # the latest events, and how many there are in all
        body["timeline"], body["timeline_total"] = latest_timeline(ctx, incident_id)
    return body


def change_mark(ctx: Context, incident_id: int | None = None) -> int:
    """The id of the newest timeline event (of the incident, given one), 0 without any:
    every change a person sees of incidents (one opened, alerts fired or resolved,
    acknowledged, assigned, noted) writes an event, so the mark grows with each. What the
    console's live pages watch; one seek of an index."""
    query = select(func.max(timeline_table.c.id))
    if incident_id is not None:
        query = query.where(timeline_table.c.incident_id == incident_id)
    with ctx.db.connect() as conn:
        return int(conn.execute(query).scalar_one() or 0)


def check_statuses(statuses: list[str]) -> None:
    """Invalid unless every one is an incident status."""
    if any(s not in STATUSES for s in statuses):
        raise Invalid("status must be among " + ", ".join(STATUSES))


def list_incidents(
    ctx: Context,
    statuses: list[str] | None = None,
    severities: list[str] | None = None,
    route: str | None = None,
    assignee: str | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """One page of incidents, newest first, and the number of all that match."""
    if statuses:
        check_statuses(statuses)
    query = _matching(select(incidents), statuses, severities, route, assignee, since, until)
    with ctx.db.connect() as conn:
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = list(conn.execute(query.order_by(incidents.c.id.desc()).limit(limit).offset(offset)))
    return [incident_json(r) for r in rows], int(total)


def status_counts(
    ctx: Context,
    severities: list[str] | None = None,
    route: str | None = None,
    assignee: str | None = None,
) -> dict[str, int]:
    """How many incidents of each status match (every status named, 0 for none)."""
    query = _matching(
        select(incidents.c.status, func.count()), None, severities, route, assignee, None, None
    ).group_by(incidents.c.status)
    with ctx.db.connect() as conn:
        found = {str(row[0]): int(row[1]) for row in conn.execute(query)}
    return {status: found.get(status, 0) for status in STATUSES}


def _matching(
    query: Any,
    statuses: list[str] | None,
    severities: list[str] | None,
    route: str | None,
    assignee: str | None,
    since: float | None,
    until: float | None,
) -> Any:
    """``query`` narrowed to the incidents the filters select (``list_incidents``'s)."""
    if statuses:
        query = query.where(incidents.c.status.in_(statuses))
    if severities:
        query = query.where(incidents.c.severity.in_(severities))
    if route:
        query = query.where(incidents.c.route_id == route)
    if assignee:
        query = query.where(incidents.c.assignee == assignee)
    if since is not None:
        query = query.where(incidents.c.opened_at >= since)
    if until is not None:
        query = query.where(incidents.c.opened_at < until)
    return query


def timeline(
    ctx: Context,
    incident_id: int,
    kinds: set[str] | None = None,
    after: int | None = None,
    limit: int = TIMELINE_PAGE,
) -> tuple[list[dict[str, Any]], bool]:
    """One page of the incident's typed events, oldest first: those after event id ``after``
    (only ``kinds`` when given), at most ``limit``; and whether more follow."""
    if not 1 <= limit <= MAX_TIMELINE_PAGE:
        raise Invalid(f"limit must be from 1 to {MAX_TIMELINE_PAGE}")
    with ctx.db.connect() as conn:
        incident_row(conn, incident_id)
        events = repo.incident_timeline(
            conn, incident_id, after=after, limit=limit + 1, kinds=kinds
        )
    return events[:limit], len(events) > limit


def latest_timeline(
    ctx: Context, incident_id: int, kinds: set[str] | None = None, limit: int = RECORD_EVENTS
) -> tuple[list[dict[str, Any]], int]:
    """The last ``limit`` events of the incident (only ``kinds`` when given), oldest first,
    and how many there are."""
    if not 1 <= limit <= MAX_TIMELINE_PAGE:
        raise Invalid(f"limit must be from 1 to {MAX_TIMELINE_PAGE}")
    with ctx.db.connect() as conn:
        incident_row(conn, incident_id)
        found = repo.incident_timeline(conn, incident_id, limit=limit, kinds=kinds, latest=True)
        return found, repo.timeline_count(conn, incident_id, kinds)


def notifications(ctx: Context, incident_id: int) -> list[dict[str, Any]]:
    """Every notification of the incident with every delivery attempt."""
    with ctx.db.connect() as conn:
        incident_row(conn, incident_id)
        return outbox.for_incident(conn, incident_id)


def alert_history(
    ctx: Context, fingerprint: str | None, limit: int, before: int | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """One page of stored episodes (of one alert, with ``fingerprint``), newest first: at
    most ``limit`` with an id below ``before``; and whether more follow."""
    with ctx.db.connect() as conn:
        found = repo.alert_history(conn, fingerprint, limit + 1, before)
    return [alert_json(a, with_id=True) for a in found[:limit]], len(found) > limit
