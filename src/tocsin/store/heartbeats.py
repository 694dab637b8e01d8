"""Heartbeat monitors' state (``heartbeats``) and their due work (kind ``heartbeat``, its ref
the row's id): rows for the configured monitors (``watch``), a beat (``beat``), a row read
locked for the engine's check (``get``), the state a check leaves (``save``), the list
(``listing``). The rules are ``alerts/heartbeat.py``'s; the check is ``engine/heartbeat.py``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, select, text, update

from tocsin.alerts.heartbeat import MISSED, OK, Beats, Monitor
from tocsin.store import kinds
from tocsin.store.schema import due_work, heartbeats


@dataclass(frozen=True)
class Row:
    """One monitor's stored state."""

    id: int
    name: str
    beats: Beats
    count: int  # beats received


def _row(r: Any) -> Row:
    labels = json.loads(r.labels) if r.labels else None
    return Row(
        r.id, r.name, Beats(r.state, r.since, r.last_beat, r.missed_at, labels), r.beats or 0
    )


def get(conn: Connection, row_id: int, lock: bool = False) -> Row | None:
    """A monitor's row by id; with ``lock``, locked for the caller's transaction
    (PostgreSQL; SQLite's writer holds the whole database)."""
    query = select(heartbeats).where(heartbeats.c.id == row_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    r = conn.execute(query).first()
    return _row(r) if r is not None else None


def by_name(conn: Connection, name: str) -> Row | None:
    r = conn.execute(select(heartbeats).where(heartbeats.c.name == name)).first()
    return _row(r) if r is not None else None


def listing(conn: Connection) -> dict[str, Row]:
    """Every stored monitor's row, by name."""
    return {r.name: _row(r) for r in conn.execute(select(heartbeats).order_by(heartbeats.c.id))}


def watch(conn: Connection, monitors: Sequence[Monitor], now: float) -> None:
    """Make sure every configured monitor has its row and its due work, and check each now
    (with the configuration in force: an interval changed by a reload counts at once), the
    rows of monitors no longer configured included (their check ends them). Safe to run in
    several replicas at once: a row or a due item that another made first is kept."""
    for monitor in monitors:
        insert(conn, monitor.name, now)
    rows = conn.execute(select(heartbeats.c.id)).scalars().all()
    for row_id in rows:
        _due_now(conn, row_id, now)


def insert(conn: Connection, name: str, now: float) -> Row:
    """The monitor's row (made, watched from ``now``, if there is none) with its due work."""
    conn.execute(
        text(
            "INSERT INTO heartbeats (name, state, since, beats) VALUES (:name, :state, :now, 0)"
            " ON CONFLICT (name) DO NOTHING"
        ),
        {"name": name, "state": OK, "now": now},
    )
    row = by_name(conn, name)
    assert row is not None
    conn.execute(
        text(
            "INSERT INTO due_work (kind, ref, due_at, attempts, priority)"
            " VALUES (:kind, :ref, :due, 0, 0) ON CONFLICT (kind, ref) DO NOTHING"
        ),
        {"kind": kinds.HEARTBEAT, "ref": row.id, "due": now},
    )
    return row


def _due_now(conn: Connection, row_id: int, now: float) -> None:
    conn.execute(
        update(due_work)
        .where(
            due_work.c.kind == kinds.HEARTBEAT, due_work.c.ref == row_id, due_work.c.due_at > now
        )
        .values(due_at=now)
    )


def beat(conn: Connection, name: str, now: float) -> Row:
    """A beat of the monitor ``name`` (its row made if this is its first): its check falls
    due now, so that a missed monitor's alert resolves at once. The due work is touched
    before the row, in the order the engine's check locks them."""
    row = by_name(conn, name) or insert(conn, name, now)
    _due_now(conn, row.id, now)
    conn.execute(
        update(heartbeats)
        .where(heartbeats.c.id == row.id)
        .values(last_beat=now, beats=heartbeats.c.beats + 1)
    )
    found = by_name(conn, name)
    assert found is not None
    return found


def save(conn: Connection, row_id: int, beats: Beats) -> None:
    """The state a check leaves (the last beat is the beats', never written here)."""
    conn.execute(
        update(heartbeats)
        .where(heartbeats.c.id == row_id)
        .values(
            state=beats.state,
            missed_at=beats.missed_at if beats.state == MISSED else None,
            labels=json.dumps(dict(beats.labels), sort_keys=True)
            if beats.state == MISSED and beats.labels is not None
            else None,
        )
    )


def forget(conn: Connection, row_id: int) -> None:
    """A monitor no longer configured: its row goes (its due work is the caller's)."""
    conn.execute(delete(heartbeats).where(heartbeats.c.id == row_id))
