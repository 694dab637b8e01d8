"""What ``tocsin replay`` compares (pure): the outcome of a window of stored history, as it
really happened and as a candidate configuration would have made it, side by side.

The history a replay plays is plain values here (``Episode``, ``Acknowledgement``), so that the
reader (``store/history.py``), the player (``simulate/replay.py``) and these rules share them.
Both sides of the comparison are read by the one reader of a window's incidents
(``store/reports.window``), from the real database and from the simulated one, and summed by
the one function here (``outcome``), so that a difference is a difference of configuration,
never of counting.

What is counted, on each side, over the incidents **opened in the window** ``[since, until)``
and their timeline events **before until** (the candidate runs until then; the real side's
later events are left out so that both see the same span):

- **incidents opened**: how many.
- **pages**: ``incidents.figures``'s pages (one person paged by one escalation step, however
  many of their channels carried it), per person; out of hours as reports count them
  (``incidents.stats``: outside the working hours, by default 08:00-18:00 Monday to Friday, in
  that person's time zone, UTC when unknown, at its first delivery).
- **page deliveries per channel**: each delivered message of a page on a channel (a page on
  Slack and email is one delivery on each); a channel's own messages are no page.
- **muted**: how many times a flush found an alert newly silenced or inhibited (the counts of
  the ``alerts_changed`` events: an alert muted, unmuted and muted again counts twice).
- **time to first page**: from the incident's first alert (``opened``) to its first
  delivered page; median and p90 as reports compute them (``stats.summarize``); incidents
  never paged are counted apart.
- **per incident**: for each real incident, the candidate incident that held the alert that
  opened it at that moment (the one opened last at or before it), and the time from that
  alert to the candidate incident's first page (0 when that incident had paged already:
  the alert joined an incident someone was paged for). Listed where it differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from tocsin import times
from tocsin.alerts.silences import Silence
from tocsin.incidents import stats
from tocsin.incidents.figures import Event, page_key
from tocsin.oncall.schedule import Override

MAX_WINDOW_S = 90 * 86_400.0  # the longest window: a simulation's longest span


@dataclass(frozen=True)
class Episode:
    """One stored firing episode of an alert, as a replay posts it again."""

    id: int
    fingerprint: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float
    ends_at: float  # beyond the window: still firing at its end


@dataclass(frozen=True)
class Acknowledgement:
    """A real acknowledgement: who, when, and the alerts the acknowledged incident held."""

    at: float
    by: str
    incident: int
    fingerprints: tuple[str, ...]


@dataclass(frozen=True)
class StoredOverride:
    """An on-call override in force during the window, with who made it and why."""

    override: Override
    created_by: str
    reason: str


@dataclass(frozen=True)
class Context:
    """What the candidate shares with what happened: the silences people set and the
    overrides they made in the window. A replay changes the configuration, not them."""

    silences: tuple[Silence, ...] = ()
    overrides: tuple[StoredOverride, ...] = ()


@dataclass(frozen=True)
class Member:
    """An alert of an incident: its fingerprint and when it joined."""

    fingerprint: str
    added_at: float


@dataclass(frozen=True)
class Incident:
    """An incident opened in the window, with its members (the first is the one that
    opened it)."""

    row: stats.IncidentRow
    members: tuple[Member, ...]
    resolved_at: float | None


@dataclass(frozen=True)
class FirstPage:
    """Time to first page of one real incident, really and under the candidate."""

    incident: int
    alertname: str
    real_s: float | None  # None: never paged
    candidate_incident: int | None  # None: the candidate opened none for its alert
    candidate_s: float | None


@dataclass(frozen=True)
class Side:
    """The outcome of the window on one side."""

    incidents: int
    pages: int
    out_of_hours: int
    people: tuple[stats.PersonPages, ...]
    channels: Mapping[str, int]
    silenced: int
    inhibited: int
    first_page: stats.Summary
    never_paged: int

    def to_json(self) -> dict[str, Any]:
        return {
            "incidents": self.incidents,
            "pages": self.pages,
            "out_of_hours": self.out_of_hours,
            "people": [asdict(p) for p in self.people],
            "channels": dict(self.channels),
            "muted": {"silenced": self.silenced, "inhibited": self.inhibited},
            "time_to_first_page": asdict(self.first_page),
            "never_paged": self.never_paged,
        }


@dataclass(frozen=True)
class Comparison:
    since: float
    until: float
    alerts: int  # episodes replayed
    acknowledgements: int  # real acknowledgements replayed
    acknowledged: int  # candidate incidents they acknowledged
    real: Side
    candidate: Side
    changed: tuple[FirstPage, ...]  # incidents whose time to first page changed
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "since": _iso(self.since),
            "until": _iso(self.until),
            "alerts": self.alerts,
            "acknowledgements": {"real": self.acknowledgements, "applied": self.acknowledged},
            "real": self.real.to_json(),
            "candidate": self.candidate.to_json(),
            "first_page_changed": [asdict(c) for c in self.changed],
            "warnings": list(self.warnings),
        }


def _iso(ts: float) -> str:
    return times.to_dt(ts).isoformat().replace("+00:00", "Z")


def check_window(since: float, until: float) -> str | None:
    """Why a window cannot be replayed, or None."""
    if since >= until:
        return "since must be before until"
    if until - since > MAX_WINDOW_S:
        return "the window is longer than 90 days (the longest simulation): replay a shorter one"
    return None


def acknowledgements(
    incidents: Iterable[Incident], since: float, until: float
) -> list[Acknowledgement]:
    """The real acknowledgements in the window, in time order, each with the alerts of the
    incident it acknowledged (what the player maps to the candidate's incidents)."""
    found = [
        Acknowledgement(
            e.at,
            str(e.detail.get("by") or "replay"),
            i.row.id,
            tuple(m.fingerprint for m in i.members),
        )
        for i in incidents
        for e in i.row.events
        if e.kind == "acknowledged" and since <= e.at < until and i.members
    ]
    return sorted(found, key=lambda a: (a.at, a.incident))


def _before(row: stats.IncidentRow, until: float) -> stats.IncidentRow:
    return replace(row, events=tuple(e for e in row.events if e.at < until))


def first_page_at(events: Iterable[Event]) -> float | None:
    """The first delivered page of a timeline (``figures``' pages), or None."""
    return min((e.at for e in events if page_key(e) is not None), default=None)


def outcome(
    since: float,
    until: float,
    incidents: Sequence[Incident],
    pages: Iterable[stats.Page],
    zones: Mapping[str, str],
    hours: stats.WorkingHours | None = None,
) -> Side:
    """One side's outcome (see the module's docstring for what each figure counts)."""
    chosen = [replace(i, row=_before(i.row, until)) for i in incidents]
    chosen = [i for i in chosen if since <= i.row.opened_at < until]
    made = stats.report(
        since,
        until,
        [i.row for i in chosen],
        (),
        [p for p in pages if p.at < until],
        zones=zones,
        hours=hours,
    )
    channels: dict[str, int] = {}
    silenced = inhibited = 0
    waits: list[float] = []
    for i in chosen:
        for e in i.row.events:
            if page_key(e) is not None:
                name = str(e.detail.get("channel") or "-")
                channels[name] = channels.get(name, 0) + 1
            elif e.kind == "alerts_changed":
                silenced += int(e.detail.get("silenced") or 0)
                inhibited += int(e.detail.get("inhibited") or 0)
        first = first_page_at(i.row.events)
        if first is not None:
            waits.append(first - i.row.opened_at)
    return Side(
        incidents=len(chosen),
        pages=made.pages_total,
        out_of_hours=sum(p.out_of_hours for p in made.out_of_hours),
        people=made.out_of_hours,
        channels=dict(sorted(channels.items())),
        silenced=silenced,
        inhibited=inhibited,
        first_page=stats.summarize(waits),
        never_paged=len(chosen) - len(waits),
    )


def _holder(candidates: Sequence[Incident], fingerprint: str, at: float) -> Incident | None:
    """The candidate incident that held ``fingerprint`` at ``at``: of those it joined at or
    before then and not resolved before then, the one it joined last."""
    best: tuple[float, int] | None = None
    found: Incident | None = None
    for c in candidates:
        for m in c.members:
            if m.fingerprint != fingerprint or m.added_at > at:
                continue
            if c.resolved_at is not None and c.resolved_at < at:
                continue
            key = (m.added_at, c.row.id)
            if best is None or key > best:
                best, found = key, c
    return found


def first_pages(
    until: float, real: Sequence[Incident], candidate: Sequence[Incident]
) -> list[FirstPage]:
    """Time to first page of each real incident, really and under the candidate."""
    out: list[FirstPage] = []
    for r in real:
        if not r.members:
            continue
        opener = r.members[0]
        at = r.row.opened_at
        real_first = first_page_at(e for e in r.row.events if e.at < until)
        held = _holder(candidate, opener.fingerprint, max(at, opener.added_at))
        cand_s: float | None = None
        if held is not None:
            first = first_page_at(e for e in held.row.events if e.at < until)
            cand_s = max(0.0, first - at) if first is not None else None
        alerts = [a for a in r.row.alerts]
        out.append(
            FirstPage(
                incident=r.row.id,
                alertname=stats.alert_name(alerts[0]) if alerts else stats.NONE,
                real_s=real_first - at if real_first is not None else None,
                candidate_incident=held.row.id if held is not None else None,
                candidate_s=cand_s,
            )
        )
    return out


def compare(
    since: float,
    until: float,
    real: Sequence[Incident],
    real_pages: Iterable[stats.Page],
    candidate: Sequence[Incident],
    candidate_pages: Iterable[stats.Page],
    zones: Mapping[str, str],
    *,
    alerts: int,
    acknowledgements: int,
    acknowledged: int,
    hours: stats.WorkingHours | None = None,
    warnings: Sequence[str] = (),
) -> Comparison:
    """The two sides of the window and the incidents whose time to first page changed."""
    in_window = [r for r in real if since <= r.row.opened_at < until]
    changed = tuple(
        f
        for f in first_pages(until, in_window, candidate)
        if (f.real_s is None) != (f.candidate_s is None)
        or (
            f.real_s is not None
            and f.candidate_s is not None
            and abs(f.real_s - f.candidate_s) >= 0.5
        )
    )
    return Comparison(
        since=since,
        until=until,
        alerts=alerts,
        acknowledgements=acknowledgements,
        acknowledged=acknowledged,
        real=outcome(since, until, real, real_pages, zones, hours),
        candidate=outcome(since, until, candidate, candidate_pages, zones, hours),
        changed=changed,
        warnings=tuple(warnings),
    )
