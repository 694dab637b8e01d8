"""Rows of alert storms (``incidents.storm`` decides, ``engine/storm.py`` acts): the storms
table, the incidents folded into each, and what a digest and ``/metrics`` read. Each function
runs inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from tocsin.incidents.storm import Running
from tocsin.oncall.severity import Level, rank
from tocsin.store import bulk, pending, repo
from tocsin.store.schema import incidents, storms

# a digest's top alert names and labels are counted over at most this many of the storm's
# incidents, the latest first (it says so when it does): a digest of 200,000 incidents stays
# one small read per update
SAMPLE = 500


# every incident that triggers over a route's threshold runs these: on the driver's cursor
# (store/bulk.py), as the flush's own statements do
_RECENT_SQL = (
    "SELECT count(*) AS n FROM (SELECT 1 AS one FROM incidents WHERE route_id = {p}"
    " AND triggered_at > {p} AND id != {p} LIMIT {p}) AS found"
)
_RUNNING_SQL = (
    "SELECT s.id, s.lead_id, s.last_held_at, i.severity FROM storms s"
    " JOIN incidents i ON i.id = s.lead_id"
    " WHERE s.route_id = {p} AND s.ended_at IS NULL ORDER BY s.id DESC LIMIT 1"
)


def recent(conn: Connection, route_id: str, since: float, me: int, limit: int) -> int:
    """How many of the route's incidents (other than ``me``) triggered after ``since``,
    counted up to ``limit`` (the decision needs no more).

    In a batch of due work (store/pending.py) a count that reached ``limit`` is kept for the
    batch's later incidents of the route: they see every incident it counted, and the one
    that asked too, triggered since, so they reach it as well (and its reading would send
    every update of the batch's incidents waiting)."""
    waiting = pending.of(conn)
    reached = waiting.cache("incidents", "storm_recent") if waiting is not None else {}
    if (route_id, since, limit) in reached:
        return limit
    n = int(bulk.fetch(conn, _RECENT_SQL, [route_id, since, me, limit])[0].n)
    if waiting is not None and n >= limit:
        waiting.cache("incidents", "storm_recent")[(route_id, since, limit)] = True
    return n


def running(conn: Connection, route_id: str, levels: Sequence[Level]) -> Running | None:
    """The route's latest storm that has not ended (its lead's severity ranked among
    ``levels``). Kept for a batch of due work (store/pending.py), its lead's severity as the
    batch has it."""
    waiting = pending.of(conn)
    kept = waiting.cache("storms", "running") if waiting is not None else {}
    if route_id in kept:
        found: tuple[Running, str | None] | None = kept[route_id]
        if found is None:
            return None
        storm, severity = found
        lead = waiting.rows.get(storm.lead_id) if waiting is not None else None
        # built directly (dataclasses.replace costs a few microseconds, per held incident)
        return Running(
            storm.storm_id,
            storm.lead_id,
            storm.last_held_at,
            rank(levels, lead.severity if lead else severity),
        )
    rows = bulk.fetch(conn, _RUNNING_SQL, [route_id])
    if not rows:
        if waiting is not None:
            waiting.cache("storms", "running")[route_id] = None
        return None
    row = rows[0]
    found_now = Running(
        int(row.id), int(row.lead_id), float(row.last_held_at), rank(levels, row.severity)
    )
    if waiting is not None:
        waiting.cache("storms", "running")[route_id] = (found_now, row.severity)
    return found_now


def start(
    conn: Connection, route_id: str, route_name: str, lead_id: int, now: float, window_s: float
) -> int:
    """A new storm led by ``lead_id`` (held: 1); a storm of the route still marked running
    (its last incident a window ago) ends now."""
    conn.execute(
        update(storms)
        .where(storms.c.route_id == route_id, storms.c.ended_at.is_(None))
        .values(ended_at=now)
    )
    row = conn.execute(
        insert(storms)
        .values(
            route_id=route_id,
            route_name=route_name,
            lead_id=lead_id,
            started_at=now,
            window_s=window_s,
            last_held_at=now,
            held=1,
            last_update_at=now,
            told_held=1,
            updates=0,
        )
        .returning(storms.c.id)
    ).first()
    assert row is not None
    repo.update_incident(conn, lead_id, storm_id=int(row.id))
    return int(row.id)


_HELD = bulk.Rows("storms", ("held", "last_held_at"), ("id",))


@dataclass(frozen=True)
class Held:
    """A storm after an incident joined it: how many it holds, and what its digest last
    said and when."""

    held: int
    told_held: int
    last_update_at: float


def hold(conn: Connection, storm_id: int, incident_id: int, now: float) -> Held:
    """The incident joins the storm. In a batch of due work (store/pending.py) the storm's
    count is read once and kept; the batch writes what it came to at its end."""
    repo.update_incident(conn, incident_id, storm_id=storm_id)
    waiting = pending.of(conn)
    kept = waiting.cache("storms", "held") if waiting is not None else {}
    before: Held | None = kept.get(storm_id)
    if before is None:
        row = bulk.fetch(
            conn,
            "UPDATE storms SET held = held + 1, last_held_at = {p} WHERE id = {p}"
            " RETURNING held, told_held, last_update_at",
            [now, storm_id],
        )[0]
        joined = Held(int(row.held), int(row.told_held), float(row.last_update_at))
    else:
        joined = Held(before.held + 1, before.told_held, before.last_update_at)
        pending.write(
            conn,
            _HELD,
            [(joined.held, now, storm_id)],
            ("storms", storm_id),
            key=("storms.held", storm_id),
        )
    if waiting is not None:
        waiting.cache("storms", "held")[storm_id] = joined
        running = waiting.cache("storms", "running")
        for route_id, found in running.items():
            if found is not None and found[0].storm_id == storm_id:
                storm = found[0]
                running[route_id] = (
                    Running(storm.storm_id, storm.lead_id, now, storm.lead_rank),
                    found[1],
                )
    return joined


def get(conn: Connection, storm_id: int) -> Any:
    return conn.execute(select(storms).where(storms.c.id == storm_id)).first()


def lead_of(conn: Connection, incident: Any) -> int | None:
    """The lead of the storm the incident was folded into (None: in no storm)."""
    if getattr(incident, "storm_id", None) is None:
        return None
    rows = bulk.fetch(conn, "SELECT lead_id FROM storms WHERE id = {p}", [incident.storm_id])
    return int(rows[0].lead_id) if rows else None


def members(conn: Connection, storm_id: int, statuses: tuple[str, ...]) -> list[Any]:
    """The storm's incidents in these statuses, oldest first (id, status)."""
    return list(
        conn.execute(
            select(incidents.c.id, incidents.c.status)
            .where(incidents.c.storm_id == storm_id, incidents.c.status.in_(statuses))
            .order_by(incidents.c.id)
        )
    )


def set_lead(conn: Connection, storm_id: int, lead_id: int) -> None:
    conn.execute(update(storms).where(storms.c.id == storm_id).values(lead_id=lead_id))


def end(conn: Connection, storm_id: int, now: float) -> None:
    conn.execute(
        update(storms)
        .where(storms.c.id == storm_id, storms.c.ended_at.is_(None))
        .values(ended_at=now)
    )


def told(conn: Connection, storm_id: int, now: float, held: int) -> None:
    """The digest went out now, saying ``held``."""
    conn.execute(
        update(storms)
        .where(storms.c.id == storm_id)
        .values(last_update_at=now, told_held=held, updates=storms.c.updates + 1)
    )


@dataclass(frozen=True)
class Read:
    """What a digest says of a storm, as stored (``incidents.storm.Facts`` is built on it)."""

    new_in_window: int
    open: int
    sample: list[list[Mapping[str, str]]]


def read(conn: Connection, storm: Any, now: float) -> Read:
    """The route's incidents triggered in the last window, the storm's open incidents and
    the labels of its latest ``SAMPLE`` incidents' alerts."""
    new = conn.execute(
        select(func.count())
        .select_from(incidents)
        .where(
            incidents.c.route_id == storm.route_id,
            incidents.c.triggered_at > now - storm.window_s,
        )
    ).scalar_one()
    still = conn.execute(
        select(func.count())
        .select_from(incidents)
        .where(incidents.c.storm_id == storm.id, incidents.c.status != "resolved")
    ).scalar_one()
    ids = [
        int(r.id)
        for r in conn.execute(
            select(incidents.c.id)
            .where(incidents.c.storm_id == storm.id)
            .order_by(incidents.c.id.desc())
            .limit(SAMPLE)
        )
    ]
    found = repo.members_of(conn, ids) if ids else {}
    sample: list[list[Mapping[str, str]]] = [[dict(a.labels) for a in found[i]] for i in ids]
    return Read(int(new), int(still), sample)


@dataclass(frozen=True)
class RouteFigures:
    route: str
    held: int  # incidents ever held in the route's storms
    active: int  # storms running now


def figures(conn: Connection, now: float) -> list[RouteFigures]:
    """For ``/metrics``, by route name: incidents held in storm digests, and storms running
    (not ended, an incident held within the last window, the lead open)."""
    lead = incidents.alias("lead")
    rows = conn.execute(
        select(
            storms.c.route_name,
            storms.c.held,
            storms.c.ended_at,
            storms.c.last_held_at,
            storms.c.window_s,
            lead.c.status,
        ).join(lead, lead.c.id == storms.c.lead_id)
    )
    held: dict[str, int] = {}
    active: dict[str, int] = {}
    for r in rows:
        held[r.route_name] = held.get(r.route_name, 0) + int(r.held)
        live = r.ended_at is None and r.last_held_at > now - r.window_s and r.status != "resolved"
        active[r.route_name] = active.get(r.route_name, 0) + int(live)
    return [RouteFigures(name, held[name], active[name]) for name in sorted(held)]
