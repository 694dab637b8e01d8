"""The heartbeat stage (kind ``heartbeat``): a monitor's check, due at its deadline, and at
once after each beat. Past the deadline its alert fires; after a beat it resolves. The alert
goes into the store as any intake's alert does (``repo.ingest``: routed by the tree, grouped
into an incident with its flush due), so routing, grouping, silences, escalation and runbooks
apply to it unchanged. As due work, one replica checks each monitor at a time (the claim),
on whatever clock the engine runs on.

``watch`` (at the engine's first pass and after each reload) gives every configured monitor
its row and due work; a monitor removed from the configuration is ended by its next check
(its alert resolved if it fired)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection

from tocsin import logs, times
from tocsin.alerts.heartbeat import MISSED, Monitor, check, resolved
from tocsin.alerts.model import Alert
from tocsin.config import Config
from tocsin.engine import flush
from tocsin.engine.stage import Settings
from tocsin.store import heartbeats, repo

log = logging.getLogger("tocsin.engine.heartbeat")
SOURCE = "heartbeat"  # the alerts' source (alerts.source)


def watch(conn: Connection, config: Config, now: float) -> None:
    """Rows and due work for the configured monitors, every monitor checked now."""
    heartbeats.watch(conn, config.heartbeats, now)


def monitor_of(config: Config, name: str) -> Monitor | None:
    return next((m for m in config.heartbeats if m.name == name), None)


def due(settings: Settings, conn: Connection, item: Any, owner: str, now: float) -> None:
    """Check one monitor: fire, send again, resolve or wait, and fall due again when the
    decision says (``alerts.heartbeat.check``)."""
    config = settings.config
    row = heartbeats.get(conn, item.ref, lock=True)
    if row is None:
        repo.finish(conn, item.id, owner)
        return
    monitor = monitor_of(config, row.name)
    if monitor is None:  # no longer configured: it ends, and its alert with it
        if row.beats.state == MISSED:
            gone = resolved(Monitor(row.name, 1.0), row.beats, now)
            _send(conn, config, [gone], now)
        heartbeats.forget(conn, row.id)
        repo.finish(conn, item.id, owner)
        return
    decided = check(monitor, row.beats, now)
    if decided.alerts:
        _send(conn, config, decided.alerts, now)
    if decided.state.state != row.beats.state:
        if decided.state.state == MISSED:
            log.warning("heartbeat missed", extra=logs.fields(heartbeat=row.name))
        else:
            log.info("heartbeat back", extra=logs.fields(heartbeat=row.name))
    if decided.state != row.beats:
        heartbeats.save(conn, row.id, decided.state)
    repo.reschedule(conn, item.id, owner, decided.next_at)


def _send(conn: Connection, config: Config, alerts: list[Alert], now: float) -> None:
    """The alerts stored as the intake stores them: routed, grouped, their incidents' flushes
    due (carried out by the engine's next pass, at once). What the batch read ahead for its
    flushes (``flush.prefetch``) is dropped: an incident it holds may have just changed, and
    the flushes after this one read their own."""
    repo.ingest(conn, alerts, times.to_dt(now), config.route, SOURCE)
    flush.forget(conn)
