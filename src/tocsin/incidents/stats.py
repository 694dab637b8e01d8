"""Reports over a window of time (pure): how fast incidents were acknowledged and resolved,
how many pages they took, which alerts are noisiest, missed deadlines, who was paged out of
hours, and which alerts have no runbook.

The window ``[since, until)`` selects **the incidents opened in it**; everything on their
timelines counts (a page sent after ``until`` for an incident opened before it is that
incident's page). Alert episodes count when they **started** in the window. Time to
acknowledge and to resolve and the page counts are ``incidents.figures``'s, the one
definition.

- An incident counts once under each distinct alert name and service among its alerts
  (``service`` label, else ``job``, else ``-``), and under its severity (``-`` when none).
- Median: the middle value (the mean of the two middle ones for an even count). p90: the
  nearest rank, the ``ceil(0.9 n)``-th smallest value.
- A page is ``incidents.figures``'s: one person paged by one escalation step, however many
  of their channels carried it (the deliveries to the recipient its message named, or to a
  ``user:NAME`` target). It is out of hours outside the working hours (by default
  08:00–18:00, Monday to Friday) in that person's time zone (UTC when unknown), at its first
  delivery.
- Runbook coverage compares alert names case-insensitively, as the catalog's lookup does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from tocsin.incidents.figures import TOLD, Event, Figures, figures, page_key

NONE = "-"
TOP_NOISY = 10


@dataclass(frozen=True)
class IncidentRow:
    """An incident opened in the window, with its timeline and its alerts' label sets."""

    id: int
    severity: str | None
    opened_at: float
    events: tuple[Event, ...] = ()
    alerts: tuple[Mapping[str, str], ...] = ()  # the labels of each alert in it
    group_labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Episode:
    """One firing episode of an alert (a row of the alerts table)."""

    labels: Mapping[str, str]
    starts_at: float


@dataclass(frozen=True)
class Page:
    """A delivered notification to a person."""

    incident_id: int
    at: float
    person: str


@dataclass(frozen=True)
class WorkingHours:
    """When people work, in their own time zone: ``start`` ≤ local time < ``end`` on
    ``days`` (0 is Monday)."""

    start: time = time(8, 0)
    end: time = time(18, 0)
    days: frozenset[int] = frozenset(range(5))

    def contains(self, at: float, zone: str) -> bool:
        try:
            tz: Any = ZoneInfo(zone)
        except (KeyError, ValueError):  # an unknown zone is UTC (config check rejects them)
            tz = UTC
        local = datetime.fromtimestamp(at, tz)
        return local.weekday() in self.days and self.start <= local.time() < self.end


@dataclass(frozen=True)
class Summary:
    """count, median, p90 and mean of some durations in seconds (None when there are none)."""

    count: int
    median_s: float | None
    p90_s: float | None
    mean_s: float | None


def summarize(values: Iterable[float]) -> Summary:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return Summary(0, None, None, None)
    middle = n // 2
    median = ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    p90 = ordered[max(1, math.ceil(0.9 * n)) - 1]
    return Summary(n, median, p90, sum(ordered) / n)


@dataclass(frozen=True)
class ResponseRow:
    """Response times of the incidents under one key (an alert name, service or severity)."""

    key: str
    incidents: int
    time_to_acknowledge: Summary
    time_to_resolve: Summary


@dataclass(frozen=True)
class NoisyAlert:
    alert: str
    episodes: int
    incidents: int


@dataclass(frozen=True)
class PersonPages:
    person: str
    timezone: str
    pages: int
    out_of_hours: int


@dataclass(frozen=True)
class Report:
    since: float
    until: float
    incidents: int
    overall: ResponseRow
    by_alert: tuple[ResponseRow, ...]
    by_service: tuple[ResponseRow, ...]
    by_severity: tuple[ResponseRow, ...]
    pages_total: int
    pages_mean: float | None
    pages_max: int
    noisiest: tuple[NoisyAlert, ...]
    deadline_misses: int
    deadline_misses_by_severity: Mapping[str, int]
    out_of_hours: tuple[PersonPages, ...]
    without_runbook: tuple[str, ...]
    runbooks_not_seen: tuple[str, ...]
    # action items (post-incident duties among them) open past their due time when the
    # report was made, of any incident: ``ActionItem.to_json`` each (service/reports.py)
    overdue_action_items: tuple[Mapping[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        def iso(ts: float) -> str:
            return datetime.fromtimestamp(ts, UTC).isoformat()

        def rows(items: Sequence[ResponseRow]) -> list[dict[str, Any]]:
            return [asdict(r) for r in items]

        return {
            "since": iso(self.since),
            "until": iso(self.until),
            "incidents": self.incidents,
            "response": {
                "overall": asdict(self.overall),
                "by_alert": rows(self.by_alert),
                "by_service": rows(self.by_service),
                "by_severity": rows(self.by_severity),
            },
            "pages_per_incident": {
                "total": self.pages_total,
                "mean": self.pages_mean,
                "max": self.pages_max,
            },
            "noisiest_alerts": [asdict(n) for n in self.noisiest],
            "deadline_misses": {
                "count": self.deadline_misses,
                "by_severity": dict(self.deadline_misses_by_severity),
            },
            "out_of_hours_pages": [asdict(p) for p in self.out_of_hours],
            "runbook_coverage": {
                "without_runbook": list(self.without_runbook),
                "runbooks_not_seen": list(self.runbooks_not_seen),
            },
            "overdue_action_items": [dict(i) for i in self.overdue_action_items],
        }


def alert_name(labels: Mapping[str, str]) -> str:
    return labels.get("alertname") or NONE


def service(labels: Mapping[str, str]) -> str:
    return labels.get("service") or labels.get("job") or NONE


def _keys(incident: IncidentRow, key: Any) -> set[str]:
    """The distinct keys of an incident's alerts (its group labels when it has none)."""
    sets = incident.alerts or (incident.group_labels,)
    return {key(labels) for labels in sets}


def _response(key: str, items: Sequence[Figures]) -> ResponseRow:
    return ResponseRow(
        key=key,
        incidents=len(items),
        time_to_acknowledge=summarize(
            f.time_to_acknowledge_s for f in items if f.time_to_acknowledge_s is not None
        ),
        time_to_resolve=summarize(
            f.time_to_resolve_s for f in items if f.time_to_resolve_s is not None
        ),
    )


def _grouped(pairs: Iterable[tuple[str, Figures]]) -> tuple[ResponseRow, ...]:
    groups: dict[str, list[Figures]] = {}
    for key, fig in pairs:
        groups.setdefault(key, []).append(fig)
    return tuple(_response(k, groups[k]) for k in sorted(groups))


def report(
    since: float,
    until: float,
    incidents: Iterable[IncidentRow],
    episodes: Iterable[Episode],
    pages: Iterable[Page],
    runbook_alerts: Iterable[str] = (),
    zones: Mapping[str, str] | None = None,
    hours: WorkingHours | None = None,
) -> Report:
    """The report of the window ``[since, until)``. ``incidents`` are those opened in it (the
    caller selects them; others are skipped here too), ``episodes`` any alert episodes (those
    that started in the window count), ``pages`` the pages of those incidents,
    ``runbook_alerts`` the alert names the runbook catalog documents and ``zones`` each
    person's time zone."""
    chosen = [i for i in incidents if since <= i.opened_at < until]
    figs = {i.id: figures(i.events, i.opened_at) for i in chosen}
    by_alert = _grouped((k, figs[i.id]) for i in chosen for k in _keys(i, alert_name))
    by_service = _grouped((k, figs[i.id]) for i in chosen for k in _keys(i, service))
    by_severity = _grouped((i.severity or NONE, figs[i.id]) for i in chosen)

    page_counts = [f.pages_sent for f in figs.values()]
    misses: dict[str, int] = {}
    for i in chosen:
        if figs[i.id].deadline_misses:
            sev = i.severity or NONE
            misses[sev] = misses.get(sev, 0) + figs[i.id].deadline_misses

    fired: dict[str, int] = {}
    for episode in episodes:
        if since <= episode.starts_at < until:
            name = alert_name(episode.labels)
            fired[name] = fired.get(name, 0) + 1
    incident_counts: dict[str, int] = {}
    for i in chosen:
        for name in _keys(i, alert_name):
            incident_counts[name] = incident_counts.get(name, 0) + 1
    noisiest = tuple(
        NoisyAlert(name, count, incident_counts.get(name, 0))
        for name, count in sorted(fired.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_NOISY]
    )

    zones = zones or {}
    hours = hours or WorkingHours()
    known = {i.id for i in chosen}
    # the page each delivery belongs to: deliveries of one page on two channels count once
    keyed: dict[tuple[int, float, str], tuple[str, ...]] = {}
    told: set[tuple[int, float, str]] = set()  # telling a person is not paging them
    for i in chosen:
        for event in i.events:
            key = page_key(event)
            if key is not None and key[0] == "page" and key[2]:
                keyed[(i.id, event.at, key[2])] = key
            elif event.kind == "notified" and event.detail.get("kind") in TOLD:
                told.add((i.id, event.at, str(event.detail.get("recipient") or "")))
    counted: set[tuple[int, str, tuple[str, ...]]] = set()
    people: dict[str, list[int]] = {}
    for page in sorted(pages, key=lambda p: p.at):
        if page.incident_id not in known or (page.incident_id, page.at, page.person) in told:
            continue
        one = keyed.get((page.incident_id, page.at, page.person), ("at", str(page.at)))
        if (page.incident_id, page.person, one) in counted:
            continue
        counted.add((page.incident_id, page.person, one))
        tally = people.setdefault(page.person, [0, 0])
        tally[0] += 1
        if not hours.contains(page.at, zones.get(page.person, "UTC")):
            tally[1] += 1
    out_of_hours = tuple(
        PersonPages(name, zones.get(name, "UTC"), total, late)
        for name, (total, late) in sorted(people.items(), key=lambda kv: (-kv[1][1], kv[0]))
    )

    documented: dict[str, str] = {}
    for name in runbook_alerts:
        documented.setdefault(name.lower(), name)
    seen = {name.lower() for name in fired}
    return Report(
        since=since,
        until=until,
        incidents=len(chosen),
        overall=_response("all", list(figs.values())),
        by_alert=by_alert,
        by_service=by_service,
        by_severity=by_severity,
        pages_total=sum(page_counts),
        pages_mean=sum(page_counts) / len(page_counts) if page_counts else None,
        pages_max=max(page_counts, default=0),
        noisiest=noisiest,
        deadline_misses=sum(misses.values()),
        deadline_misses_by_severity=dict(sorted(misses.items())),
        out_of_hours=out_of_hours,
        without_runbook=tuple(
            sorted(n for n in fired if n != NONE and n.lower() not in documented)
        ),
        runbooks_not_seen=tuple(sorted(v for k, v in documented.items() if k not in seen)),
    )
