"""The notification outbox, its delivery attempts, schedule overrides, and the due work of
paging (its kinds are ``store.kinds``). Each function runs inside the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, update

from tocsin.oncall import throttle
from tocsin.oncall.schedule import Override
from tocsin.oncall.severity import DEFAULT_LEVELS, Level
from tocsin.store import bulk
from tocsin.store.kinds import DELIVER
from tocsin.store.repo import dumps
from tocsin.store.schema import (
    contact_buckets,
    due_work,
    held_back,
    notification_attempts,
    notifications,
    overrides,
)
from tocsin.store.wakeup import notify
from tocsin.times import to_dt


@dataclass(frozen=True)
class Pending:
    """A notification to write: the outbox row, delivered by the engine."""

    incident_id: int
    channel: str
    target: str
    kind: str
    message: dict[str, Any]
    key: str
    fallback_of: int | None = None
    priority: int | None = None  # its lane (None: from its kind and severity)
    # a person's later notification (a rule "SMS after 2m"): due then, not now; cancelled if
    # the incident is acknowledged or resolved first (``cancel_later``)
    due_at: float | None = None


def _identity(p: Pending) -> tuple[Any, ...]:
    return (p.incident_id, p.channel, p.target, p.kind, dumps(p.message), p.key)


def enqueue(
    conn: Connection, items: list[Pending], now: float, levels: Sequence[Level] = DEFAULT_LEVELS
) -> list[int]:
    """Write notifications and their delivery due now, each in its lane (``levels``: the
    configured severity levels, which rank the messages' severities). A notification whose
    idempotency key is already in the outbox is not written again (the same decision taken
    twice, by a retried transaction or a second process, sends once). A notification with a
    later ``due_at`` (a person's rule) is due then, and stands outside its group's order (no
    message of the group waits for it, nor is it moved up when an earlier one is sent).
    Returns the new ids."""
    if not items:
        return []
    later = {p.key: p.due_at for p in items if p.due_at is not None and p.due_at > now}
    lanes = {
        p.key: p.priority
        if p.priority is not None
        else throttle.priority(p.kind, p.message.get("severity"), levels)
        for p in items
    }
    rows = bulk.insert(
        conn,
        "notifications",
        (
            "incident_id",
            "channel",
            "target",
            "kind",
            "message",
            "idempotency_key",
            "status",
            "attempts",
            "created_at",
            "fallback_of",
            "not_before",
        ),
        [(*_identity(p), "pending", 0, now, p.fallback_of, later.get(p.key)) for p in items],
        returning=("id", "idempotency_key"),
        on_conflict="(idempotency_key) DO NOTHING",
    )
    ids = [r[0] for r in rows]
    now_rows = [r for r in rows if r[1] not in later]
    schedule(conn, DELIVER, [r[0] for r in now_rows], now, [lanes[r[1]] for r in now_rows])
    for r in rows:
        if r[1] in later:
            schedule(conn, DELIVER, [r[0]], later[r[1]], [lanes[r[1]]])
    # the engine that commits this transaction may send those due now at once (``take_new``)
    conn.info.setdefault(_NEW, []).extend(r[0] for r in now_rows)
    return ids


_NEW = "tocsin_new_notifications"


def take_new(conn: Connection, owner: str, now: float, lease_s: float) -> list[tuple[Any, Any]]:
    """The deliveries this transaction created, leased to ``owner`` so that it can send them
    right after the commit; (due item, notification row) pairs. If the owner dies first,
    the lease lapses and another engine sends them."""
    ids = conn.info.pop(_NEW, [])
    if not ids:
        return []
    items: dict[int, Any] = {}
    for chunk in bulk.chunked(ids):
        taken = bulk.fetch(
            conn,
            "UPDATE due_work SET lease_owner = {p}, lease_until = {p}, attempts = attempts + 1"
            f" WHERE kind = {{p}} AND ref IN ({bulk.markers(conn, len(chunk))})"
            " AND (lease_until IS NULL OR lease_until < {p})"
            " RETURNING id, kind, ref, due_at, lease_owner, lease_until, attempts, priority",
            [owner, now + lease_s, DELIVER, *chunk, now],
        )
        items.update((r.ref, r) for r in taken)
    rows = to_send(conn, ids)
    return [(items[i], rows[i]) for i in ids if i in items and i in rows]


def to_send(conn: Connection, notification_ids: list[int]) -> dict[int, Any]:
    """Notification rows by id (those that exist), for a batch about to be sent, each with
    its place in the order of its group, decided in the transaction that created or claimed
    the batch (the sender asks the database nothing more before it sends):
    ``order_group``, the incident's group key (messages of one group and channel go out in
    the order they were decided: the resolution of one incident before the page of the
    next), and ``order_waits``, whether an earlier notification of the same group and
    channel, not in the batch, is still to be sent (this one waits for it). The earlier
    messages of a group are written before the later ones, so asking here finds those that
    asking after the commit would (and perhaps one that is sent meanwhile)."""
    found: dict[int, Any] = {}
    for chunk in bulk.chunked(notification_ids):
        rows = bulk.fetch(
            conn,
            "SELECT n.*, i.group_key AS order_group FROM notifications n"
            " LEFT JOIN incidents i ON i.id = n.incident_id"
            f" WHERE n.id IN ({bulk.markers(conn, len(chunk))})",
            chunk,
        )
        found.update((r.id, r) for r in rows)
    if not found:
        return found
    earliest = _earliest_pending(conn, {r.order_group for r in found.values()}, found)
    return {
        n: bulk.record(
            (*row._fields, "order_waits"),
            (*row, earliest.get((row.order_group, row.channel), n) < n),
        )
        for n, row in found.items()
    }


def _earliest_pending(
    conn: Connection, group_keys: set[str | None], batch: dict[int, Any]
) -> dict[tuple[str, str], int]:
    """The earliest notification still to be sent of each (group key, channel) of these
    groups, leaving out those in ``batch``."""
    keys = sorted(k for k in group_keys if k is not None)
    earliest: dict[tuple[str, str], int] = {}
    for chunk in bulk.chunked(keys):
        rows = bulk.fetch(
            conn,
            "SELECT p.id, p.channel, q.group_key FROM due_work d"
            " JOIN notifications p ON p.id = d.ref JOIN incidents q ON q.id = p.incident_id"
            " WHERE d.kind = {p} AND p.status = 'pending' AND p.not_before IS NULL"
            f" AND q.group_key IN ({bulk.markers(conn, len(chunk))})",
            [DELIVER, *chunk],
        )
        for r in rows:
            if r.id in batch:
                continue
            place = (r.group_key, r.channel)
            earliest[place] = min(r.id, earliest.get(place, r.id))
    return earliest


def forget_new(conn: Connection) -> None:
    """At the start of a transaction: what an earlier one on this connection created is
    not this one's to send."""
    conn.info.pop(_NEW, None)


def schedule(
    conn: Connection, kind: str, refs: list[int], at: float, priorities: list[int] | None = None
) -> None:
    """Due work of ``kind`` for each ref at ``at`` (in the lane of its ``priorities``); an
    existing item is moved to ``at`` and its lease cleared."""
    if not refs:
        return
    lanes = priorities if priorities is not None else [0] * len(refs)
    bulk.insert(
        conn,
        "due_work",
        ("kind", "ref", "due_at", "attempts", "priority"),
        [(kind, ref, at, 0, lane) for ref, lane in zip(refs, lanes, strict=True)],
        on_conflict="(kind, ref) DO UPDATE SET due_at = excluded.due_at, "
        "lease_owner = NULL, lease_until = NULL",
    )
    notify(conn)


def due_at(conn: Connection, kind: str, ref: int) -> float | None:
    row = conn.execute(
        select(due_work.c.due_at).where(due_work.c.kind == kind, due_work.c.ref == ref)
    ).first()
    return float(row.due_at) if row is not None else None


def cancel(conn: Connection, kinds: tuple[str, ...], ref: int) -> None:
    conn.execute(delete(due_work).where(due_work.c.kind.in_(kinds), due_work.c.ref == ref))


def get(conn: Connection, notification_id: int) -> Any:
    return conn.execute(select(notifications).where(notifications.c.id == notification_id)).first()


def record_attempt(
    conn: Connection,
    notification_id: int,
    at: float,
    ok: bool,
    status: int | None,
    error: str,
    duration_ms: float,
    owner: str,
) -> None:
    conn.execute(
        insert(notification_attempts).values(
            notification_id=notification_id,
            at=at,
            ok=ok,
            status=status,
            error=error[:2000],
            duration_ms=duration_ms,
            owner=owner,
        )
    )
    values: dict[str, Any] = {
        "attempts": notifications.c.attempts + 1,
        "last_error": None if ok else error[:2000],
    }
    if ok:
        values.update(status="sent", sent_at=at)
    conn.execute(update(notifications).where(notifications.c.id == notification_id).values(values))


CANCELLED = "cancelled"  # a person's later notification, no longer needed (acknowledged)


@dataclass(frozen=True)
class Cancelled:
    """A person's later notification cancelled: to whom, through which method and channel,
    when it would have gone."""

    notification_id: int
    person: str
    contact: str
    channel: str
    due_at: float


def cancel_later(conn: Connection, incident_id: int, now: float) -> list[Cancelled]:
    """The incident is acknowledged or resolved: its people's notifications still due later
    (``not_before`` after now, never tried) are cancelled, their delivery removed."""
    rows = list(
        conn.execute(
            select(
                notifications.c.id,
                notifications.c.channel,
                notifications.c.message,
                notifications.c.not_before,
            )
            .where(
                notifications.c.incident_id == incident_id,
                notifications.c.status == "pending",
                notifications.c.attempts == 0,
                notifications.c.not_before > now,
            )
            .order_by(notifications.c.not_before, notifications.c.id)
        )
    )
    if not rows:
        return []
    ids = [r.id for r in rows]
    for chunk in bulk.chunked(ids):
        conn.execute(
            update(notifications).where(notifications.c.id.in_(chunk)).values(status=CANCELLED)
        )
        conn.execute(delete(due_work).where(due_work.c.kind == DELIVER, due_work.c.ref.in_(chunk)))
    out = []
    for r in rows:
        recipient = json.loads(r.message).get("recipient") or {}
        out.append(
            Cancelled(
                r.id,
                str(recipient.get("name", "")),
                str(recipient.get("contact", r.channel)),
                r.channel,
                float(r.not_before),
            )
        )
    return out


def paged(conn: Connection, incident_id: int) -> list[tuple[str, str, dict[str, str]]]:
    """Who was paged for an incident, oldest first: (channel, target, recipient) of each
    notification to a person that was not dead-lettered (its fallback counts instead)."""
    rows = conn.execute(
        select(notifications.c.channel, notifications.c.target, notifications.c.message)
        .where(
            notifications.c.incident_id == incident_id,
            notifications.c.status.not_in(("dead", CANCELLED)),
        )
        .order_by(notifications.c.id)
    )
    out = []
    for row in rows:
        recipient = json.loads(row.message).get("recipient")
        if recipient:
            out.append((row.channel, row.target, dict(recipient)))
    return out


def renew(conn: Connection, item_ids: list[int], owner: str, until: float) -> int:
    """Extend ``owner``'s lease of these due items (deliveries still being sent) to ``until``;
    how many it still held."""
    renewed = 0
    for chunk in bulk.chunked(item_ids):
        renewed += bulk.execute(
            conn,
            "UPDATE due_work SET lease_until = {p}"
            f" WHERE id IN ({bulk.markers(conn, len(chunk))}) AND lease_owner = {{p}}",
            [until, *chunk, owner],
        )
    return renewed


def release_next(conn: Connection, row: Any, now: float) -> None:
    """A notification is settled (sent or dead): the later ones of its group and channel
    that waited for it and were never tried are due now."""
    moved = bulk.execute(
        conn,
        "UPDATE due_work SET due_at = {p} WHERE kind = {p} AND due_at > {p}"
        " AND (lease_until IS NULL OR lease_until < {p}) AND ref IN ("
        "SELECT p.id FROM notifications p JOIN incidents q ON q.id = p.incident_id"
        " WHERE p.id > {p} AND p.channel = {p} AND p.status = 'pending' AND p.attempts = 0"
        " AND p.not_before IS NULL"
        " AND q.group_key = (SELECT group_key FROM incidents WHERE id = {p}))",
        [now, DELIVER, now, now, row.id, row.channel, row.incident_id],
    )
    if moved:
        notify(conn)


def mark_dead(conn: Connection, notification_id: int) -> None:
    conn.execute(
        update(notifications).where(notifications.c.id == notification_id).values(status="dead")
    )


def for_incident(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    """Every notification of an incident with every attempt, oldest first."""
    rows = list(
        conn.execute(
            select(notifications)
            .where(notifications.c.incident_id == incident_id)
            .order_by(notifications.c.id)
        )
    )
    attempts: dict[int, list[dict[str, Any]]] = {}
    if rows:
        for a in conn.execute(
            select(notification_attempts)
            .where(notification_attempts.c.notification_id.in_([r.id for r in rows]))
            .order_by(notification_attempts.c.id)
        ):
            attempts.setdefault(a.notification_id, []).append(
                {
                    "at": to_dt(a.at).isoformat(),
                    "ok": bool(a.ok),
                    "status": a.status,
                    "error": a.error,
                    "duration_ms": round(a.duration_ms, 1),
                    "worker": a.owner,
                }
            )
    return [
        {
            "id": r.id,
            "channel": r.channel,
            "target": r.target,
            "kind": r.kind,
            "status": r.status,
            "idempotency_key": r.idempotency_key,
            "created_at": to_dt(r.created_at).isoformat(),
            "sent_at": to_dt(r.sent_at).isoformat() if r.sent_at else None,
            "last_error": r.last_error,
            "fallback_of": r.fallback_of,
            "attempts": attempts.get(r.id, []),
        }
        for r in rows
    ]


def queued_by_lane(conn: Connection) -> dict[int, int]:
    """Deliveries still to be sent, by lane (``/metrics``)."""
    rows = conn.execute(
        select(due_work.c.priority, func.count())
        .where(due_work.c.kind == DELIVER)
        .group_by(due_work.c.priority)
    )
    return {int(r[0]): int(r[1]) for r in rows}


# ------------------------------------------------------------------ per-person limits


def buckets(conn: Connection, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """The contact buckets of these (person, channel) pairs that exist (rows with ``id``,
    ``tokens``, ``at``), locked for this transaction on PostgreSQL."""
    people = sorted({p for p, _c in pairs})
    found: dict[tuple[str, str], Any] = {}
    if not people:
        return found
    lock = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
    for chunk in bulk.chunked(people):
        rows = bulk.fetch(
            conn,
            "SELECT id, person, channel, tokens, at FROM contact_buckets"
            f" WHERE person IN ({bulk.markers(conn, len(chunk))}) ORDER BY id{lock}",
            chunk,
        )
        found.update(((r.person, r.channel), r) for r in rows if (r.person, r.channel) in pairs)
    return found


def save_bucket(
    conn: Connection,
    person: str,
    channel: str,
    bucket: throttle.Bucket,
    target: str,
    recipient: dict[str, str],
) -> int:
    """Keep a contact bucket's state (and whom its summary goes to); its id."""
    rows = bulk.insert(
        conn,
        "contact_buckets",
        ("person", "channel", "tokens", "at", "target", "recipient"),
        [(person, channel, bucket.tokens, bucket.at, target, dumps(recipient))],
        returning=("id",),
        on_conflict="(person, channel) DO UPDATE SET tokens = excluded.tokens,"
        " at = excluded.at, target = excluded.target, recipient = excluded.recipient",
    )
    return int(rows[0][0])


def bucket(conn: Connection, bucket_id: int) -> Any:
    return conn.execute(select(contact_buckets).where(contact_buckets.c.id == bucket_id)).first()


def hold(conn: Connection, bucket_id: int, row: Any, now: float) -> None:
    """A notification held back by its person's limit: settled (never sent on its own) and
    kept for the summary."""
    conn.execute(
        insert(held_back).values(
            bucket_id=bucket_id,
            notification_id=row.id,
            incident_id=row.incident_id,
            kind=row.kind,
            at=now,
        )
    )
    conn.execute(update(notifications).where(notifications.c.id == row.id).values(status="held"))


def held(conn: Connection, bucket_id: int) -> list[Any]:
    """What a bucket held back that no summary told yet, oldest first, with each
    notification's message."""
    return list(
        conn.execute(
            select(held_back, notifications.c.message)
            .join(notifications, notifications.c.id == held_back.c.notification_id)
            .where(held_back.c.bucket_id == bucket_id, held_back.c.summary_id.is_(None))
            .order_by(held_back.c.id)
        )
    )


def summarized(conn: Connection, held_ids: list[int], summary_id: int) -> None:
    for chunk in bulk.chunked(held_ids):
        conn.execute(
            update(held_back).where(held_back.c.id.in_(chunk)).values(summary_id=summary_id)
        )


# --------------------------------------------------------------------------- overrides


def add_override(
    conn: Connection, override: Override, created_by: str, now: float, reason: str = ""
) -> int:
    row = conn.execute(
        insert(overrides)
        .values(
            schedule=override.schedule,
            user_name=override.user,
            replaces=override.replaces,
            starts_at=override.start.timestamp(),
            ends_at=override.end.timestamp(),
            created_by=created_by,
            created_at=now,
            reason=reason,
        )
        .returning(overrides.c.id)
    ).first()
    assert row is not None
    return int(row.id)


def delete_override(conn: Connection, override_id: int) -> bool:
    return bool(conn.execute(delete(overrides).where(overrides.c.id == override_id)).rowcount)


def overrides_between(
    conn: Connection, start: float, end: float, schedule: str | None = None
) -> list[tuple[int, Override]]:
    """Overrides that overlap [start, end), by start time."""
    query = (
        select(overrides)
        .where(and_(overrides.c.ends_at > start, overrides.c.starts_at < end))
        .order_by(overrides.c.starts_at, overrides.c.id)
    )
    if schedule is not None:
        query = query.where(overrides.c.schedule == schedule)
    return [
        (
            r.id,
            Override(
                schedule=r.schedule,
                start=to_dt(r.starts_at),
                end=to_dt(r.ends_at),
                user=r.user_name,
                replaces=r.replaces,
            ),
        )
        for r in conn.execute(query)
    ]


def overrides_at(conn: Connection, at: datetime) -> list[Override]:
    ts = at.timestamp()
    return [o for _id, o in overrides_between(conn, ts, ts + 1e-6)]
