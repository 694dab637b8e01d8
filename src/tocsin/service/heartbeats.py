"""Heartbeats' use cases: a beat by name (``beat``: ``POST /api/v1/heartbeats/{name}``,
``tocsin heartbeats beat``), the beats that received alerts give (``seen``: Prometheus's
``Watchdog`` through the intakes), and the monitors with their state (``listing``). A beat
makes the monitor's check due now; the engine's check (``engine/heartbeat.py``) fires or
resolves its alert."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tocsin import times
from tocsin.alerts.heartbeat import OK, Beats, Monitor, beaten, deadline
from tocsin.alerts.model import Alert
from tocsin.errors import NotFound
from tocsin.service.context import Context
from tocsin.store import heartbeats
from tocsin.store.db import begin_write


def _monitor(ctx: Context, name: str) -> Monitor:
    found = next((m for m in ctx.config.heartbeats if m.name == name), None)
    if found is None:
        raise NotFound(f"no heartbeat named {name[:100]!r} in the configuration (heartbeats:)")
    return found


def beat(ctx: Context, name: str) -> dict[str, Any]:
    """A beat of the configured monitor ``name``; what it is now (as ``listing`` shows)."""
    monitor = _monitor(ctx, name)
    now = ctx.now()
    with begin_write(ctx.db) as conn:
        row = heartbeats.beat(conn, name, now)
    ctx.wake()
    return view(monitor, row.beats, row.count, now)


def seen(ctx: Context, alerts: Sequence[Alert]) -> list[str]:
    """Received alerts as beats: every monitor whose ``from_alert`` matchers a firing alert
    matches is beaten once. The names beaten."""
    now = ctx.now()
    names = beaten(ctx.config.heartbeats, alerts, now)
    if names:
        with begin_write(ctx.db) as conn:
            for name in names:
                heartbeats.beat(conn, name, now)
        ctx.wake()
    return names


def listing(ctx: Context) -> list[dict[str, Any]]:
    """Every configured monitor with its state, in the configuration's order. One not yet
    watched by an engine counts from now."""
    now = ctx.now()
    with ctx.db.connect() as conn:
        rows = heartbeats.listing(conn)
    out = []
    for monitor in ctx.config.heartbeats:
        row = rows.get(monitor.name)
        beats = row.beats if row is not None else Beats(OK, now)
        out.append(view(monitor, beats, row.count if row is not None else 0, now))
    return out


def view(monitor: Monitor, beats: Beats, count: int, now: float) -> dict[str, Any]:
    """A monitor's JSON: its settings, state, last beat, when it is (or was) missed."""

    def iso(ts: float | None) -> str | None:
        return times.to_dt(ts).isoformat() if ts is not None else None

    return {
        "name": monitor.name,
        "state": beats.state,
        "interval_s": monitor.interval_s,
        "grace_s": monitor.grace_s,
        "last_beat": iso(beats.last_beat),
        "beats": count,
        "deadline": iso(deadline(monitor, beats)),
        "missed_since": iso(beats.missed_at) if beats.state != OK else None,
        "from_alert": [str(m) for m in monitor.matchers],
        "labels": monitor.alert_labels(),
        "watched_since": iso(beats.since),
    }
