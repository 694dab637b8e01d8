"""Repositories: reading and writing alerts, incidents, due work, silences and tokens.

Each function takes an open SQLAlchemy connection inside the caller's transaction; the rules
(merge, grouping, muting) come from the pure packages.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Select, func, insert, select, text, update

from tocsin import times
from tocsin.alerts.matchers import Matcher, from_api
from tocsin.alerts.model import Alert, same_episode
from tocsin.alerts.model import update as update_alert
from tocsin.alerts.silences import Silence
from tocsin.incidents.tally import FRESH
from tocsin.routing.group import (
    Group,
    GroupRoute,
    OpenGroup,
    due_now,
    first_flush_at,
    groups_of,
    joining,
    next_flush_at,
)
from tocsin.routing.tree import Route
from tocsin.store import bulk, pending
from tocsin.store.kinds import FLUSH
from tocsin.store.schema import (
    LATEST_EPISODE_SQL,
    MAX_ROW_ID,
    alerts,
    api_tokens,
    current_episode,
    due_work,
    event_keys,
    incident_alerts,
    incidents,
    silences,
    timeline,
)
from tocsin.store.wakeup import notify


def dumps(value: object) -> str:
    """Compact JSON with sorted keys, as tocsin stores it (orjson: about five times faster
    than the standard library on the intake's path; non-ASCII text stays UTF-8)."""
    try:
        return orjson.dumps(value, option=_DUMPS).decode()
    except TypeError:  # what orjson refuses (integers beyond 64 bits, say)
        return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


_DUMPS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


@dataclass(frozen=True)
class StoredAlert:
    id: int
    fingerprint: str
    alert: Alert

    @property
    def labels(self) -> dict[str, str]:
        return self.alert.labels


def _row_to_alert(row: Any) -> StoredAlert:
    return _tuple_to_alert(tuple(getattr(row, c) for c in _ALERT_COLUMNS))


@dataclass
class IngestResult:
    stored: int = 0
    new_episodes: int = 0
    new_incidents: int = 0
    # incidents this batch touched whose flush may be due already (no group_wait)
    touched: list[int] = field(default_factory=list)
    # the earliest flush it left due later (a group_wait), for the engine's sleep
    later: float | None = None


_ALERT_COLUMNS = (
    "id",
    "fingerprint",
    "labels",
    "annotations",
    "starts_at",
    "ends_at",
    "updated_at",
    "generator_url",
    "timeout",
)
_ALERT_SELECT = ",".join(f"a.{c}" for c in _ALERT_COLUMNS)
# a VALUES table of the fingerprints: one seek each for the latest row (a plain IN list over
# alerts would read a flapping alert's thousand episodes to find the last)
_CURRENT_SQL = (
    "SELECT "
    + _ALERT_SELECT
    + " FROM alerts a WHERE a.id IN (SELECT "
    + LATEST_EPISODE_SQL.format(fp="f.column1")
    + " FROM (VALUES {in_}) AS f)"
)


def _tuple_to_alert(row: tuple[Any, ...]) -> StoredAlert:
    id_, fp, labels, annotations, starts_at, ends_at, updated_at, url, timeout = row
    episode = (labels, annotations, starts_at, ends_at, updated_at, timeout)
    return StoredAlert(id=id_, fingerprint=fp, alert=_decode_episode(episode, url))


def _decode_episode(values: tuple[Any, ...], generator_url: str) -> Alert:
    """An alert from its episode's columns (``_EPISODE_COLUMNS``) and its generator URL."""
    labels, annotations, starts_at, ends_at, updated_at, timeout = values
    return Alert(
        labels=orjson.loads(labels),
        annotations=orjson.loads(annotations),
        starts_at=times.to_dt(starts_at),
        ends_at=times.to_dt(ends_at),
        updated_at=times.to_dt(updated_at),
        generator_url=generator_url,
        timeout=bool(timeout),
    )


# the same on PostgreSQL, a seek for each fingerprint whatever the planner's statistics say
# (as ``members_of``): the semi-join on the subquery may read every alert once the table
# outgrew them, on every batch the intake stores
_CURRENT_LATERAL_SQL = (
    "SELECT "
    + _ALERT_SELECT
    + " FROM (VALUES {in_}) AS f CROSS JOIN LATERAL (SELECT * FROM alerts e"
    " WHERE e.fingerprint = f.column1 ORDER BY e.id DESC LIMIT 1) a"
)


def current_alerts(conn: Connection, fingerprints: Iterable[str]) -> dict[str, StoredAlert]:
    """The latest episode of each fingerprint that has one."""
    sql = _CURRENT_LATERAL_SQL if conn.dialect.name == "postgresql" else _CURRENT_SQL
    rows = bulk.select_in(conn, sql, list(set(fingerprints)), rows=True)
    return {row[1]: _tuple_to_alert(row) for row in rows}


_EPISODE_COLUMNS = ("labels", "annotations", "starts_at", "ends_at", "updated_at", "timeout")


def _episode(alert: Alert) -> tuple[Any, ...]:
    assert alert.starts_at and alert.ends_at and alert.updated_at
    return (
        dumps(alert.labels),
        dumps(alert.annotations),
        alert.starts_at.timestamp(),
        alert.ends_at.timestamp(),
        alert.updated_at.timestamp(),
        alert.timeout,
    )


@dataclass(frozen=True)
class Prepared:
    """A batch made ready for the database without touching it: the row values of the latest
    alert of each fingerprint (later alerts in a batch update earlier ones), and the group of
    the route its incident is on (``routing.group`` decides them). Built on the request's
    thread, so that the writer only runs statements. ``latest`` holds the alerts themselves
    where they are at hand; a batch that crossed to the writer process (``to_wire``) decodes
    one from its values when an update needs it."""

    now: datetime
    source: str
    values: dict[str, tuple[Any, ...]]  # fingerprint: the episode's columns (_EPISODE_COLUMNS)
    urls: dict[str, str]  # fingerprint: generator_url
    groups: dict[str, Group]
    latest: dict[str, Alert] | None = None

    def __len__(self) -> int:
        return len(self.values)

    def alert(self, fp: str) -> Alert:
        if self.latest is not None:
            return self.latest[fp]
        return _decode_episode(self.values[fp], self.urls[fp])

    def to_wire(self) -> tuple[Any, ...]:
        """Plain tuples, dicts, strings and numbers (cheap to pickle and to load): no alerts."""
        return (
            times.to_ts(self.now),
            self.source,
            [(fp, self.urls[fp], v) for fp, v in self.values.items()],
            [
                (k, tuple(g.route), g.labels, g.fingerprints, g.firing)
                for k, g in self.groups.items()
            ],
        )

    @classmethod
    def from_wire(cls, wire: tuple[Any, ...]) -> Prepared:
        now, source, rows, groups = wire
        return cls(
            now=times.to_dt(now),
            source=source,
            values={fp: tuple(v) for fp, _url, v in rows},
            urls={fp: url for fp, url, _v in rows},
            groups={
                key: Group(GroupRoute(*route), labels, list(fps), firing)
                for key, route, labels, fps, firing in groups
            },
        )


def prepare(batch: Sequence[Alert], now: datetime, route: Route, source: str = "api") -> Prepared:
    latest: dict[str, Alert] = {}
    for alert in batch:
        fp = alert.fingerprint
        previous = latest.get(fp)
        latest[fp] = (
            update_alert(previous, alert, now)
            if previous and same_episode(previous, alert)
            else alert
        )
    groups = groups_of(latest, route, now)
    values = {fp: _episode(alert) for fp, alert in latest.items()}
    urls = {fp: alert.generator_url for fp, alert in latest.items()}
    return Prepared(now, source, values, urls, groups, latest)


def ingest(
    conn: Connection, batch: Sequence[Alert], now: datetime, route: Route, source: str = "api"
) -> IngestResult:
    """Store a batch of validated alerts (with defaults applied): see ``store``."""
    return store(conn, prepare(batch, now, route, source))


def store(conn: Connection, batch: Prepared) -> IngestResult:
    """An update of the same episode merges into it as Alertmanager does; a later episode is
    a new row, the old one kept as history. Then each alert joins the incident of the route
    it goes to (``Route.routed``), and every incident with news gets a flush due. A fixed
    handful of bulk statements per batch, whatever its size."""
    result = IngestResult()
    if not batch.values:
        return result
    stored = current_alerts(conn, batch.values)
    updates: list[tuple[Any, ...]] = []
    inserts: list[tuple[Any, ...]] = []
    changed: set[str] = set()  # whose state a flush must look at again (``moved``)
    for fp, values in batch.values.items():
        old = stored.get(fp)
        if old is not None:
            alert = batch.alert(fp)
            if same_episode(old.alert, alert):
                merged = update_alert(old.alert, alert, batch.now)
                updates.append((*_episode(merged), merged.generator_url, old.id))
                if moved(old.alert, merged, batch.now):
                    changed.add(fp)
                continue
        inserts.append((fp, batch.source, batch.urls[fp], *values))
        changed.add(fp)
    bulk.update(conn, "alerts", (*_EPISODE_COLUMNS, "generator_url"), "id", updates)
    if inserts:
        bulk.insert(
            conn, "alerts", ("fingerprint", "source", "generator_url", *_EPISODE_COLUMNS), inserts
        )
    result.stored = len(batch.values)
    result.new_episodes = len(inserts)
    now_ts = times.to_ts(batch.now)
    result.new_incidents, due = _group(conn, batch.groups, now_ts, changed)
    result.touched, result.later = due_now(due, now_ts)
    if result.new_incidents:
        notify(conn)
    return result


_OPEN_SQL = (
    "SELECT group_key, id, last_flush_at, group_interval_s FROM incidents"
    " WHERE group_key IN ({in_}) AND status <> {p}"
)


def moved(old: Alert, new: Alert, now: datetime) -> bool:
    """Whether an update of the same episode may change what a flush says of the alert: it
    resolved or fired again, ends sooner than before (an alert that ends by itself is found by
    its end, ``ended_members``, and a sooner end would be missed), or started at another time
    (flush events name the earliest started first)."""
    assert old.ends_at and new.ends_at
    return (
        old.resolved(now) != new.resolved(now)
        or new.ends_at < old.ends_at
        or new.starts_at != old.starts_at
    )


def _group(
    conn: Connection, wanted: dict[str, Group], now_ts: float, changed: set[str]
) -> tuple[int, dict[int, float]]:
    """Put alerts into the open incident of each (route, group labels); open one with its
    first flush at group_wait; make sure every touched incident has a flush due. A member that
    joins, and one in ``changed``, is marked ``dirty``: the next flush looks at it again (the
    others it knows from the incident's tally). The count of new incidents, and when each
    touched incident's flush is due."""
    if not wanted:
        return 0, {}
    keys = list(wanted)
    # On PostgreSQL the open incidents are locked as they are found, in the engine's order
    # (``lock_incidents``): a flush resolving one of them at this moment is waited for, and
    # an incident it resolved is not found (its group gets a new one), so that a new alert
    # never joins an incident that is closing and would never page.
    found = bulk.select_in(conn, _OPEN_SQL + _locking(conn, " ORDER BY id"), keys, ["resolved"])
    open_by_key = {row[0]: OpenGroup(*row[1:]) for row in found}
    join = joining(wanted, open_by_key)
    keys, new_keys = join.keys, join.new
    incident_of = {k: open_by_key[k].incident_id for k in keys if k in open_by_key}
    due: dict[int, float] = {}
    if new_keys:
        rows = bulk.insert(
            conn,
            "incidents",
            (
                "group_key",
                "route_id",
                "receiver",
                "group_labels",
                "status",
                "opened_at",
                "first_alert_at",
                "last_alert_at",
                "group_wait_s",
                "group_interval_s",
                "repeat_interval_s",
                "tally",
            ),
            [
                (
                    k,
                    g.route.id,
                    g.route.receiver,
                    dumps(g.labels),
                    "pending",
                    now_ts,
                    now_ts,
                    now_ts,
                    g.route.group_wait_s,
                    g.route.group_interval_s,
                    g.route.repeat_interval_s,
                    FRESH,
                )
                for k in new_keys
                for g in (wanted[k],)
            ],
            returning=("group_key", "id"),
        )
        for key, incident_id in rows:
            incident_of[key] = incident_id
            due[incident_id] = first_flush_at(wanted[key].route, now_ts)
        bulk.insert(
            conn,
            "timeline",
            ("incident_id", "at", "kind", "detail"),
            [
                (
                    incident_of[k],
                    now_ts,
                    "opened",
                    dumps(
                        {
                            "group_key": k,
                            "route": wanted[k].route.id,
                            "receiver": wanted[k].route.receiver,
                        }
                    ),
                )
                for k in new_keys
            ],
        )
    existing = [k for k in keys if k in open_by_key]
    if existing:
        bulk.update(
            conn,
            "incidents",
            ("last_alert_at",),
            "id",
            [(now_ts, open_by_key[k].incident_id) for k in existing],
        )
        for k in existing:
            due[open_by_key[k].incident_id] = next_flush_at(open_by_key[k], now_ts)
    members = sorted({(incident_of[k], fp) for k in keys for fp in wanted[k].fingerprints})
    for rows, on_conflict in (
        ([m for m in members if m[1] in changed], "DO UPDATE SET dirty = excluded.dirty"),
        ([m for m in members if m[1] not in changed], "DO NOTHING"),
    ):
        bulk.insert(
            conn,
            "incident_alerts",
            ("incident_id", "fingerprint", "added_at", "dirty"),
            [(i, fp, now_ts, True) for i, fp in rows],
            on_conflict="(incident_id, fingerprint) " + on_conflict,
        )
    # a flush due for each touched incident that has none yet; one that has keeps its time.
    # Those that have one are found by a plain read first, not left to ON CONFLICT: on
    # PostgreSQL an insert that meets a flush the engine has claimed waits for the engine's
    # transaction, which itself waits for the incident row this one holds (a deadlock,
    # broken after a second by failing one side); a read waits for nobody.
    pending = {
        row[0]
        for row in bulk.select_in(
            conn,
            "SELECT ref FROM due_work WHERE ref IN ({in_}) AND kind = {p}",
            [open_by_key[k].incident_id for k in existing],
            [FLUSH],
        )
    }
    bulk.insert(
        conn,
        "due_work",
        ("kind", "ref", "due_at", "attempts"),
        [(FLUSH, i, at, 0) for i, at in due.items() if i not in pending],
        on_conflict="(kind, ref) DO NOTHING",
    )
    return len(new_keys), due


def active_alerts(
    conn: Connection,
    now: datetime,
    labels: Mapping[str, str] | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[StoredAlert]:
    """Current episodes that have not ended (what Alertmanager's API lists). With ``labels``,
    at least those that carry every one of these labels (a filter's equality matchers),
    narrowed in SQL where the stored text of a label can be searched for (``label_text``):
    the caller still checks each alert. With ``limit``, a page: at most that many, in
    fingerprint order, those above the fingerprint ``after`` (``""``: from the first)."""
    query = _active(select(alerts), now, labels, after, limit)
    return [_row_to_alert(r) for r in conn.execute(query)]


def active_labels(
    conn: Connection,
    now: datetime,
    labels: Mapping[str, str] | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> dict[str, dict[str, str]]:
    """The labels of every current episode that has not ended, by fingerprint (the sources of
    inhibition, without the rest of each alert); ``labels``, ``after`` and ``limit`` as in
    ``active_alerts``."""
    query = _active(select(alerts.c.fingerprint, alerts.c.labels), now, labels, after, limit)
    return {r.fingerprint: orjson.loads(r.labels) for r in conn.execute(query)}


def _active(
    query: Select[Any],
    now: datetime,
    labels: Mapping[str, str] | None,
    after: str | None,
    limit: int | None,
) -> Select[Any]:
    # a page walks the fingerprint index, each page costing its own rows: ``ends_at + 0``
    # keeps the planners off the ends_at index (its range, sorted again for every page)
    ends_at = alerts.c.ends_at if limit is None else alerts.c.ends_at + 0
    query = query.where(
        ends_at > times.to_ts(now),
        alerts.c.id == current_episode(alerts.c.fingerprint),
    )
    for name, value in (labels or {}).items():
        text = label_text(name, value)
        if text is not None:
            query = query.where(alerts.c.labels.like(f"%{_like_escaped(text)}%", escape="\\"))
    if limit is not None:
        query = (
            query.where(alerts.c.fingerprint > (after or ""))
            .order_by(alerts.c.fingerprint)
            .limit(limit)
        )
    return query


# label names and values whose stored JSON text is themselves between quotes, however stored
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.:/@,=+*#()[]")


def label_text(name: str, value: str) -> str | None:
    """The text a label ``name="value"`` is stored as inside an alert's labels (``"name":
    "value"``, as ``dumps`` writes it), or None when the name or value holds a character
    whose JSON spelling may vary (quotes, backslashes, control and non-ASCII characters)."""
    if not name or not _PLAIN.issuperset(name) or not _PLAIN.issuperset(value):
        return None
    return f'"{name}":"{value}"'


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def alert_history(
    conn: Connection, fingerprint: str | None = None, limit: int = 100, before: int | None = None
) -> list[StoredAlert]:
    """Stored episodes, newest first (of one alert with ``fingerprint``; those with an id
    below ``before``): read by the primary key, or the (fingerprint, id) index."""
    query = select(alerts).order_by(alerts.c.id.desc()).limit(limit)
    if fingerprint:
        query = query.where(alerts.c.fingerprint == fingerprint)
    if before is not None:
        query = query.where(alerts.c.id < before)
    return [_row_to_alert(r) for r in conn.execute(query)]


def _matchers_json(matchers: Sequence[Matcher]) -> str:
    return dumps(
        [
            {"name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal}
            for m in matchers
        ]
    )


def _row_to_silence(row: Any) -> Silence:
    return Silence(
        id=row.id,
        matchers=tuple(
            from_api(m["name"], m["value"], m["isRegex"], m.get("isEqual", True))
            for m in json.loads(row.matchers)
        ),
        starts_at=times.to_dt(row.starts_at),
        ends_at=times.to_dt(row.ends_at),
        created_by=row.created_by,
        comment=row.comment,
        updated_at=times.to_dt(row.updated_at),
    )


def get_silence(conn: Connection, silence_id: str) -> Silence | None:
    row = conn.execute(select(silences).where(silences.c.id == silence_id)).first()
    return _row_to_silence(row) if row is not None else None


def list_silences(conn: Connection) -> list[Silence]:
    return [_row_to_silence(r) for r in conn.execute(select(silences))]


def active_silences(conn: Connection, now: datetime) -> list[Silence]:
    ts = times.to_ts(now)
    return [_row_to_silence(r) for r in bulk.fetch(conn, _ACTIVE_SILENCES, [ts, ts])]


def unexpired_silence_rows(conn: Connection, now: datetime) -> list[Any]:
    """The rows of the silences active or pending at ``now`` (``silence_of_row`` reads one)."""
    return bulk.fetch(conn, _UNEXPIRED_SILENCES, [times.to_ts(now)])


def silence_of_row(row: Any) -> Silence:
    return _row_to_silence(row)


SILENCES_VERSION = "silences"


def silences_version(conn: Connection) -> int:
    """The version of the silences: bumped by every write of one (``save_silence``), in any
    process. Read it before the silences it stands for."""
    rows = bulk.fetch(conn, "SELECT version FROM versions WHERE name = {p}", [SILENCES_VERSION])
    return int(rows[0].version) if rows else 0


def _bump(conn: Connection, name: str) -> None:
    done = bulk.execute(conn, "UPDATE versions SET version = version + 1 WHERE name = {p}", [name])
    if not done:
        bulk.execute(conn, "INSERT INTO versions (name, version) VALUES ({p}, 1)", [name])


def save_silence(conn: Connection, silence: Silence) -> None:
    values = {
        "matchers": _matchers_json(silence.matchers),
        "starts_at": times.to_ts(silence.starts_at),
        "ends_at": times.to_ts(silence.ends_at),
        "created_by": silence.created_by,
        "comment": silence.comment,
        "updated_at": times.to_ts(silence.updated_at),
    }
    done = conn.execute(update(silences).where(silences.c.id == silence.id).values(**values))
    if done.rowcount == 0:
        conn.execute(insert(silences).values(id=silence.id, **values))
    _bump(conn, SILENCES_VERSION)


# --------------------------------------------------------------------------- incidents


# every flush reads them: on the driver's cursor (store/bulk.py)
_ACTIVE_SILENCES = (
    "SELECT id, matchers, starts_at, ends_at, created_by, comment, updated_at FROM silences"
    " WHERE starts_at <= {p} AND ends_at > {p}"
)
_UNEXPIRED_SILENCES = (
    "SELECT id, matchers, starts_at, ends_at, created_by, comment, updated_at FROM silences"
    " WHERE ends_at > {p}"
)


def add_timeline(
    conn: Connection, incident_id: int, at: datetime, kind: str, detail: dict[str, Any]
) -> None:
    # the statements of every flush and page run on the driver's cursor (store/bulk.py); a
    # batch of due work sends its events together (store/pending.py)
    row = (incident_id, times.to_ts(at), kind, dumps(detail))
    waiting = pending.of(conn)
    if waiting is not None:
        waiting.event(row)
        return
    bulk.execute(
        conn,
        "INSERT INTO timeline (incident_id, at, kind, detail) VALUES ({p}, {p}, {p}, {p})",
        row,
    )


_INCIDENT_COLUMNS = frozenset(incidents.c.keys()) - {"id"}


def update_incident(conn: Connection, incident_id: int, **values: Any) -> None:
    unknown = set(values) - _INCIDENT_COLUMNS
    if unknown:  # column names go into the statement: only the table's own
        raise ValueError(f"incidents has no column {sorted(unknown)}")
    if not values:
        return
    waiting = pending.of(conn)
    if waiting is not None:  # merged with the batch's other updates of it, sent together
        waiting.update(incident_id, values)
        return
    names = sorted(values)
    sets = ", ".join(f"{name} = {{p}}" for name in names)
    bulk.execute(
        conn,
        f"UPDATE incidents SET {sets} WHERE id = {{p}}",
        [*(values[n] for n in names), incident_id],
    )


def incident_events(
    conn: Connection, incident_id: int, kinds: Iterable[str] | None = None
) -> list[Any]:
    """The timeline as ``incidents.figures.Event`` values (epoch seconds), oldest first (only
    ``kinds`` when given: read by the index on (incident_id, kind, id))."""
    from tocsin.incidents.figures import Event

    query = select(timeline).where(timeline.c.incident_id == incident_id)
    if kinds is not None:
        query = query.where(timeline.c.kind.in_(sorted(kinds)))
    rows = conn.execute(query.order_by(timeline.c.id))
    return [Event(float(r.at), r.kind, json.loads(r.detail)) for r in rows]


def incident_timeline(
    conn: Connection,
    incident_id: int,
    *,
    after: int | None = None,
    limit: int | None = None,
    kinds: Iterable[str] | None = None,
    latest: bool = False,
) -> list[dict[str, Any]]:
    """The timeline's events, oldest first: those after event id ``after``, at most ``limit``
    of them (``latest``: the last ``limit``), of ``kinds`` when given. Read by the index on
    (incident_id, id): a page costs its size, not the timeline's."""
    query = select(timeline).where(timeline.c.incident_id == incident_id)
    if after is not None:
        query = query.where(timeline.c.id > after)
    if kinds is not None:
        query = query.where(timeline.c.kind.in_(sorted(kinds)))
    order = timeline.c.id.desc() if latest else timeline.c.id
    query = query.order_by(order)
    if limit is not None:
        query = query.limit(limit)
    rows = list(conn.execute(query))
    if latest:
        rows.reverse()
    return [
        {
            "id": r.id,
            "at": times.to_dt(r.at).isoformat(),
            "kind": r.kind,
            "detail": json.loads(r.detail),
        }
        for r in rows
    ]


def timeline_count(conn: Connection, incident_id: int, kinds: Iterable[str] | None = None) -> int:
    """How many events the incident's timeline holds (of ``kinds`` when given)."""
    query = select(func.count()).where(timeline.c.incident_id == incident_id)
    if kinds is not None:
        query = query.where(timeline.c.kind.in_(sorted(kinds)))
    return int(conn.execute(query).scalar_one())


def incident_members(conn: Connection, incident_id: int) -> list[StoredAlert]:
    return members_of(conn, [incident_id])[incident_id]


# Each member's alert is its fingerprint's latest episode (the row with the highest id). On
# PostgreSQL it is found by a seek for each member (LATERAL), whatever the planner's
# statistics say: with a join on the subquery, a generic plan hash-joined every alert once
# the tables outgrew their statistics (a batch's prefetch took 5 ms, then 30 ms at 50,000
# incidents in a storm of new groups), and a message's first 50 members by fingerprint read
# the whole group.
_LATEST_JOIN = {
    "sqlite": " JOIN alerts a ON a.id = " + LATEST_EPISODE_SQL.format(fp="i.fingerprint"),
    "postgresql": " CROSS JOIN LATERAL (SELECT * FROM alerts e"
    " WHERE e.fingerprint = i.fingerprint ORDER BY e.id DESC LIMIT 1) a",
}


def _latest_join(conn: Connection) -> str:
    """``incident_alerts i`` joined to each member's latest episode, as ``a``."""
    return _LATEST_JOIN["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]


_MEMBERS_OF_SQL = (
    "SELECT i.incident_id, " + _ALERT_SELECT + " FROM incident_alerts i{join}"
    " WHERE i.incident_id IN ({in_})"
)


def members_of(conn: Connection, incident_ids: Sequence[int]) -> dict[int, list[StoredAlert]]:
    """``incident_members`` for many incidents in one statement per thousand."""
    found: dict[int, list[StoredAlert]] = {i: [] for i in incident_ids}
    sql = _MEMBERS_OF_SQL.replace("{join}", _latest_join(conn))
    for row in bulk.select_in(conn, sql, list(incident_ids)):
        found[row[0]].append(_tuple_to_alert(row[1:]))
    return found


_STATES_SQL = (
    "SELECT incident_id, fingerprint, said, sent FROM incident_alerts"
    " WHERE incident_id IN ({in_}) AND (said IS NOT NULL OR sent = {p})"
)


def member_states(
    conn: Connection, incident_ids: Sequence[int]
) -> dict[int, tuple[set[str], dict[str, str]]]:
    """For each incident: the fingerprints a flush ever sent as firing, and what the
    timeline last said of each alert (fired, resolved, silenced, inhibited)."""
    found: dict[int, tuple[set[str], dict[str, str]]] = {i: (set(), {}) for i in incident_ids}
    for incident_id, fp, said, was_sent in bulk.select_in(
        conn, _STATES_SQL, list(incident_ids), extra=[True]
    ):
        sent, last = found[incident_id]
        if said:
            last[fp] = said
        if was_sent:
            sent.add(fp)
    return found


# the writes of an incident's members' states (the rows: the values set, then the keys')
_MEMBER = ("incident_id", "fingerprint")
_SAVE = bulk.Rows("incident_alerts", ("said", "sent", "dirty"), _MEMBER)
_CLEAN = bulk.Rows("incident_alerts", ("dirty",), ("incident_id", "dirty"))
_SENT_ALL = bulk.Rows("incident_alerts", ("sent",), ("incident_id", "said", "sent"))


def _write_members(
    conn: Connection, shape: bulk.Rows, incident_id: int, rows: Sequence[Sequence[Any]]
) -> None:
    """A write of the incident's members, for each row of parameters: held back in a batch of
    due work (store/pending.py), else now."""
    pending.write(conn, shape, rows, ("incident_alerts", incident_id))


_MEMBER_SELECT = (
    "SELECT i.said, i.sent, " + _ALERT_SELECT + " FROM incident_alerts i{join}"
    " WHERE i.incident_id = {p}"
)
_UNRESOLVED_SQL = "i.said IN ('fired', 'silenced', 'inhibited')"
# the dirty members, written as ``ix_incident_alerts_dirty``'s own condition: with a bound
# ``dirty = ?`` neither SQLite nor a prepared PostgreSQL plan may use that partial index, and
# each chunk of a storm's flush read the whole group (300,000 members) to find 5,000
_DIRTY_SQL = "i.dirty"


def _members(conn: Connection, where: str, params: Sequence[Any], tail: str = "") -> list[Any]:
    """(fingerprint, said, sent, StoredAlert) of the incident's members that match."""
    sql = _MEMBER_SELECT.replace("{join}", _latest_join(conn))
    rows = bulk.fetch(conn, sql + where + tail, params)
    return [(r.fingerprint, r[0], bool(r[1]), _tuple_to_alert(tuple(r[2:]))) for r in rows]


def dirty_members(conn: Connection, incident_id: int, limit: int) -> list[Any]:
    """The members the intake marked since the last flush (joined, or changed state): the
    first ``limit`` of them."""
    return _members(conn, f" AND {_DIRTY_SQL}", [incident_id, limit], " LIMIT {p}")


def mark_sent(conn: Connection, incident_id: int) -> None:
    """Every member last said to be firing has been sent as firing."""
    _write_members(conn, _SENT_ALL, incident_id, [(True, incident_id, "fired", False)])


def ended_members(conn: Connection, incident_id: int, now: float, limit: int) -> list[Any]:
    """The members last said to be firing (or muted) whose alert has ended by ``now``: the
    first ``limit`` of them."""
    return _members(
        conn,
        f" AND {_UNRESOLVED_SQL} AND a.ends_at <= {{p}}",
        [incident_id, now, limit],
        " LIMIT {p}",
    )


def next_end(conn: Connection, incident_id: int, now: float) -> float | None:
    """When the first member last said to be firing (or muted) ends, after ``now``."""
    rows = bulk.fetch(
        conn,
        "SELECT min(a.ends_at) AS next_end FROM incident_alerts i"
        + _latest_join(conn)
        + f" WHERE i.incident_id = {{p}} AND {_UNRESOLVED_SQL} AND a.ends_at > {{p}}",
        [incident_id, now],
    )
    return rows[0][0] if rows else None


_KIND_SQL = {
    "firing": "i.said = 'fired'",
    "muted": "i.said IN ('silenced', 'inhibited')",
    "resolved": "i.said = 'resolved' AND i.sent = {p}",
}


def first_members(conn: Connection, incident_id: int, kind: str, limit: int) -> list[Any]:
    """The first ``limit`` members of a kind (``incidents.tally.KINDS``) in the order flush
    events name them: earliest started, then by labels (compared byte by byte, as Python
    compares them: PostgreSQL's "C" collation), then fingerprint."""
    collate = ' COLLATE "C"' if conn.dialect.name == "postgresql" else ""
    params: list[Any] = [incident_id, True] if kind == "resolved" else [incident_id]
    return _members(
        conn,
        " AND " + _KIND_SQL[kind],
        [*params, limit],
        f" ORDER BY a.starts_at, a.labels{collate}, i.fingerprint LIMIT {{p}}",
    )


def members_by_fingerprint(conn: Connection, incident_id: int, limit: int) -> list[Any]:
    """The incident's first ``limit`` members by fingerprint (what a message lists)."""
    return _members(conn, "", [incident_id, limit], " ORDER BY i.fingerprint LIMIT {p}")


def save_changed(
    conn: Connection, incident_id: int, states: Mapping[str, tuple[str | None, bool]]
) -> None:
    """What a flush found of the members it looked at (fingerprint: said, sent); no longer
    dirty."""
    _write_members(
        conn,
        _SAVE,
        incident_id,
        [(said, sent, False, incident_id, fp) for fp, (said, sent) in sorted(states.items())],
    )


def tallies(conn: Connection, incident_ids: Sequence[int]) -> dict[int, str | None]:
    """Each incident's tally (``incidents.tally``, as stored)."""
    waiting = pending.of(conn)
    kept = waiting.rows if waiting is not None else {}
    found = {i: kept[i].tally for i in incident_ids if i in kept}
    rest = [i for i in incident_ids if i not in found]
    rows = bulk.select_in(conn, "SELECT id, tally FROM incidents WHERE id IN ({in_})", rest)
    found.update({row[0]: row[1] for row in rows})
    return found


def dirty_counts(conn: Connection, incident_ids: Sequence[int]) -> dict[int, int]:
    """How many dirty members each of these incidents has (those with none are left out)."""
    rows = bulk.select_in(
        conn,
        "SELECT incident_id, count(*) FROM incident_alerts"
        " WHERE incident_id IN ({in_}) AND dirty GROUP BY incident_id",
        list(incident_ids),
    )
    return {row[0]: row[1] for row in rows}


def clear_dirty(conn: Connection, incident_id: int) -> None:
    """A flush that read every member: none is dirty any more."""
    _write_members(conn, _CLEAN, incident_id, [(False, incident_id, True)])


def is_row_id(number: int) -> bool:
    """Whether ``number`` can name a row (``schema.MAX_ROW_ID``)."""
    return 1 <= number <= MAX_ROW_ID


def open_incident_of(conn: Connection, group_key: str) -> int | None:
    """The open incident of a group key, if any (where its new alerts go)."""
    row = conn.execute(
        select(incidents.c.id)
        .where(incidents.c.group_key == group_key, incidents.c.status != "resolved")
        .order_by(incidents.c.id.desc())
        .limit(1)
    ).first()
    return int(row.id) if row else None


def _locking(conn: Connection, order: str = "") -> str:
    """``order`` and ``FOR UPDATE`` on PostgreSQL; nothing on SQLite, whose write transaction
    holds the whole database."""
    return f"{order} FOR UPDATE" if conn.dialect.name == "postgresql" else ""


_LOCK_SQL = "SELECT id FROM incidents WHERE id IN ({in_}) ORDER BY id FOR UPDATE"


def lock_incidents(conn: Connection, incident_ids: Sequence[int]) -> None:
    """Hold these incidents' rows until the transaction ends (PostgreSQL; in id order, as the
    intake takes them, so that the two never wait on each other in a circle): a flush reads
    an incident's alerts only once no intake is adding to it. In a batch of due work
    (store/pending.py) the rows are read too, and kept for ``get_incident``."""
    ids = sorted(set(incident_ids))
    waiting = pending.of(conn)
    if not ids or (waiting is None and conn.dialect.name != "postgresql"):
        return
    if waiting is None:
        bulk.select_in(conn, _LOCK_SQL, ids)
        return
    for chunk in bulk.chunked(ids):
        sql = "SELECT * FROM incidents WHERE id IN (" + bulk.markers(conn, len(chunk)) + ")"
        for row in bulk.fetch(conn, sql + _locking(conn, " ORDER BY id"), chunk):
            waiting.rows[row.id] = row._replace(**waiting.incidents.get(row.id, {}))


def get_incident(conn: Connection, incident_id: int, lock: bool = False) -> Any:
    """The incident's row; with ``lock``, held until the transaction ends (``FOR UPDATE`` on
    PostgreSQL; on SQLite the write transaction already holds the database), so that two
    people acting at once act one after the other. In a batch of due work, a row it has read
    locked (or, on SQLite, read at all) is kept, with its updates applied."""
    waiting = pending.of(conn)
    if waiting is not None and incident_id in waiting.rows:
        return waiting.rows[incident_id]
    lock_clause = _locking(conn) if lock else ""
    rows = bulk.fetch(conn, "SELECT * FROM incidents WHERE id = {p}" + lock_clause, [incident_id])
    if not rows:
        return None
    if waiting is not None and (lock or conn.dialect.name == "sqlite"):
        waiting.rows[incident_id] = rows[0]
    return rows[0]


def claim_due(
    conn: Connection,
    now: float,
    owner: str,
    lease_s: float,
    limit: int = 100,
    kinds: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    refs: Sequence[int] | None = None,
    by_priority: bool = False,
) -> list[Any]:
    """Take up to ``limit`` due items whose lease is free or lapsed, oldest first (with
    ``by_priority``: smallest priority first, the deliveries' lanes). On PostgreSQL rows are
    locked with SKIP LOCKED so that several processes never take the same item; on SQLite the
    caller's transaction holds the write lock (``begin_write``)."""
    # one statement, the queue pattern UPDATE … WHERE id IN (SELECT … [SKIP LOCKED])
    # RETURNING, on the driver's cursor: it runs on every pass and every intake
    if refs is not None and conn.dialect.name == "postgresql":
        return _claim_refs(conn, now, owner, lease_s, limit, kinds, exclude, refs)
    where = ["due_at <= {p}", _FREE]
    params: list[Any] = [owner, now + lease_s, now, now]
    for clause, values in (("kind IN", kinds), ("kind NOT IN", exclude or None), ("ref IN", refs)):
        if values is not None:
            where.append(f"{clause} ({bulk.markers(conn, len(values))})" if values else "1=0")
            params.extend(values)
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect.name == "postgresql" else ""
    order = "priority, due_at, id" if by_priority else "due_at, id"
    rows = bulk.fetch(
        conn,
        "UPDATE due_work SET lease_owner = {p}, lease_until = {p}, attempts = attempts + 1"
        f" WHERE id IN (SELECT id FROM due_work WHERE {' AND '.join(where)}"
        f" ORDER BY {order} LIMIT {{p}}{lock}) AND {_FREE} RETURNING {_DUE_COLUMNS}",
        [*params, limit, now],
    )
    if by_priority:
        return sorted(rows, key=lambda r: (r.priority, r.due_at, r.id))
    return sorted(rows, key=lambda r: (r.due_at, r.id))


_FREE = "(lease_until IS NULL OR lease_until < {p})"


def _claim_refs(
    conn: Connection,
    now: float,
    owner: str,
    lease_s: float,
    limit: int,
    kinds: Sequence[str] | None,
    exclude: Sequence[str],
    refs: Sequence[int],
) -> list[Any]:
    """``claim_due`` of the items of these refs on PostgreSQL: each ref looked up in the (kind,
    ref) index (a lateral join, whatever the table's statistics say). With ``ref IN (...)``
    in one scan, the planner, its statistics stale or its plan made while the table was
    small, read every flush item ever made at each claim: 30 ms per claim of 250 new
    incidents after 60,000, growing with the table."""
    if not refs or (kinds is not None and not kinds):
        return []
    kind = "kind = ANY({p})" if kinds is not None else "kind <> ALL({p})"
    named = list(kinds if kinds is not None else exclude)
    rows = bulk.fetch(
        conn,
        "UPDATE due_work SET lease_owner = {p}, lease_until = {p}, attempts = attempts + 1"
        " WHERE id IN (SELECT d.id FROM unnest({p}::int[]) AS r(ref), LATERAL"
        f" (SELECT id, due_at FROM due_work WHERE {kind} AND ref = r.ref AND due_at <= {{p}}"
        f" AND {_FREE} FOR UPDATE SKIP LOCKED) AS d ORDER BY d.due_at, d.id LIMIT {{p}})"
        f" AND {_FREE} RETURNING {_DUE_COLUMNS}",
        [owner, now + lease_s, list(refs), named, now, now, limit, now],
    )
    return sorted(rows, key=lambda r: (r.due_at, r.id))


_DUE_COLUMNS = "id, kind, ref, due_at, lease_owner, lease_until, attempts, priority"


def claim_one(conn: Connection, item_id: int, now: float, owner: str, lease_s: float) -> Any:
    """Take one item by id if it is still due and free (after a batch that failed)."""
    free = (due_work.c.lease_until.is_(None)) | (due_work.c.lease_until < now)
    done = conn.execute(
        update(due_work)
        .where(due_work.c.id == item_id, due_work.c.due_at <= now, free)
        .values(lease_owner=owner, lease_until=now + lease_s, attempts=due_work.c.attempts + 1)
    )
    if done.rowcount != 1:
        return None
    return conn.execute(select(due_work).where(due_work.c.id == item_id)).first()


def reschedule(conn: Connection, item_id: int, owner: str, due_at: float) -> None:
    """The claimed item falls due again at ``due_at`` (if this owner still holds it)."""
    row = (due_at, None, None, item_id, owner)
    pending.write(conn, _RESCHEDULE, [row], ("due_work", item_id))


def finish(conn: Connection, item_id: int, owner: str) -> None:
    """The claimed item is done (if this owner still holds it)."""
    pending.write(conn, _FINISH, [(item_id, owner)], ("due_work", item_id))


_CLAIMED = ("id", "lease_owner")
_RESCHEDULE = bulk.Rows("due_work", ("due_at", "lease_owner", "lease_until"), _CLAIMED)
_FINISH = bulk.Rows("due_work", (), _CLAIMED, delete=True)


def next_due_at(
    conn: Connection, exclude: Sequence[str] = (), only: Sequence[str] = ()
) -> float | None:
    """The earliest due time of all due work (but of the kinds in ``exclude``; of those in
    ``only``, when given).

    Of some kinds only (the deliveries' next), the kinds' own rows are read (``due_at + 0``
    keeps the planner from reading the due-time index in order until it meets one of them:
    on PostgreSQL without statistics that read every item of every other kind, 23 ms at
    60,000 of a storm's flush items and growing, at each of the engine's wake-ups)."""
    where: list[str] = []
    params: list[Any] = []
    for clause, kinds in (("kind NOT IN", exclude), ("kind IN", only)):
        if kinds:
            where.append(f"{clause} ({bulk.markers(conn, len(kinds))})")
            params.extend(kinds)
    due = "due_at + 0" if only else "due_at"
    sql = f"SELECT min({due}) AS n FROM due_work" + (
        " WHERE " + " AND ".join(where) if where else ""
    )
    [row] = bulk.fetch(conn, sql, params)
    return float(row.n) if row.n is not None else None


# --------------------------------------------------------------------------- tokens


ROLES = ("viewer", "responder", "admin", "intake")


@dataclass(frozen=True)
class TokenRow:
    """A stored API token, never its secret: who acts with it (``user``), its role, what it
    is for (``name``), when it was made and revoked."""

    id: int
    user: str
    role: str
    name: str
    created_at: float
    revoked_at: float | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    conn: Connection, name: str, role: str, token: str, now: float, user: str | None = None
) -> int:
    """A token of ``role`` for ``user`` (without one, its ``name``, as before tokens had
    users); only its hash is kept."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    new_id = conn.execute(
        insert(api_tokens).values(
            name=name,
            role=role,
            token_hash=hash_token(token),
            user_name=user or name,
            created_at=now,
        )
    ).inserted_primary_key
    assert new_id is not None
    return int(new_id[0])


def _token_row(row: Any) -> TokenRow:
    return TokenRow(
        id=row.id,
        user=row.user_name,
        role=row.role,
        name=row.name,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


_TOKEN_COLUMNS = (
    api_tokens.c.id,
    api_tokens.c.user_name,
    api_tokens.c.role,
    api_tokens.c.name,
    api_tokens.c.created_at,
    api_tokens.c.revoked_at,
)


def token_identity(conn: Connection, token: str) -> TokenRow | None:
    """The valid (unrevoked) token whose secret is ``token``."""
    row = conn.execute(
        select(*_TOKEN_COLUMNS).where(
            api_tokens.c.token_hash == hash_token(token), api_tokens.c.revoked_at.is_(None)
        )
    ).first()
    return _token_row(row) if row is not None else None


def get_token(conn: Connection, token_id: int) -> TokenRow | None:
    row = conn.execute(select(*_TOKEN_COLUMNS).where(api_tokens.c.id == token_id)).first()
    return _token_row(row) if row is not None else None


def list_tokens(conn: Connection, user: str | None = None, revoked: bool = False) -> list[TokenRow]:
    """Tokens in the order they were made: ``user``'s only when given; revoked ones too
    with ``revoked``."""
    query = select(*_TOKEN_COLUMNS).order_by(api_tokens.c.id)
    if user is not None:
        query = query.where(api_tokens.c.user_name == user)
    if not revoked:
        query = query.where(api_tokens.c.revoked_at.is_(None))
    return [_token_row(r) for r in conn.execute(query)]


def revoke_token(conn: Connection, token_id: int, now: float) -> bool:
    """Revoke a token; False when it does not exist or was revoked already."""
    done = conn.execute(
        update(api_tokens)
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return done.rowcount == 1


def fingerprint_of(labels: dict[str, str]) -> str:
    from tocsin.alerts.fingerprint import fingerprint_hex

    return fingerprint_hex(labels)


def incidents_of(conn: Connection, fingerprint: str) -> list[int]:
    rows = conn.execute(
        select(incidents.c.id)
        .join(incident_alerts, incident_alerts.c.incident_id == incidents.c.id)
        .where(incident_alerts.c.fingerprint == fingerprint, incidents.c.status != "resolved")
    )
    return [r.id for r in rows]


def first_labels(conn: Connection, key: str, labels: dict[str, str], now: float) -> dict[str, str]:
    """The labels the first alert with deduplication ``key`` had (``event_keys``): ``labels``
    kept now when the key is new; when two requests bring a new key at once, the first
    committed wins."""
    conn.execute(
        text(
            "INSERT INTO event_keys (dedup_key, labels, created_at)"
            " VALUES (:key, :labels, :now) ON CONFLICT DO NOTHING"
        ),
        {"key": key, "labels": json.dumps(labels, sort_keys=True), "now": now},
    )
    found = conn.execute(
        select(event_keys.c.labels).where(event_keys.c.dedup_key == key)
    ).scalar_one()
    kept: dict[str, str] = json.loads(found)
    return kept
