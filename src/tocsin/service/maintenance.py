"""Maintenance windows: ``add``, ``windows`` (list), ``window`` (one), ``end``.

A window holds the pages of a route's incidents (by its ``receiver``) or of those whose firing
alerts all match its ``matchers`` (a service: ``service="api"``), from its start until its
end; a recurring one (``time_interval``, a configured name) only while that interval holds.
Alerts are kept and shown, incidents open and record what fires; nobody is paged, and the
timeline says so (``paging_held``). When the window ends, an incident still firing pages
(``paging_resumed``, then its page): the engine flushes it at the window's end
(``engine/flush.py``), and ``end`` flushes the incidents it held at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tocsin import times
from tocsin.alerts.matchers import MatcherError, parse_matcher
from tocsin.errors import Conflict, Invalid, NotFound
from tocsin.service.context import Context
from tocsin.store import maintenance
from tocsin.store.db import begin_write
from tocsin.store.kinds import FLUSH
from tocsin.store.outbox import schedule

MAX_MATCHERS = 20
MAX_TEXT = 1000
MAX_LIST = 500
MAX_LENGTH_S = 366 * 86400.0  # a one-off window longer than a year is a mistake
# windows not over at once: every flush reads them all (the engine reads at most 10,000, so
# one made beyond that would silently hold nothing), and each is matched per incident
MAX_OPEN = 1000


@dataclass(frozen=True)
class Window:
    """A maintenance window as every door shows it (times: epoch seconds)."""

    id: int
    matchers: list[str]
    receiver: str | None
    starts_at: float
    ends_at: float | None
    time_interval: str | None
    comment: str
    created_by: str
    created_at: float
    ended_at: float | None
    ended_by: str | None
    state: str  # pending | active | ended

    def json(self) -> dict[str, Any]:
        """The API's shape: times in ISO 8601."""

        def iso(ts: float | None) -> str | None:
            return None if ts is None else times.to_dt(ts).isoformat().replace("+00:00", "Z")

        return {
            "id": self.id,
            "matchers": self.matchers,
            "receiver": self.receiver,
            "startsAt": iso(self.starts_at),
            "endsAt": iso(self.ends_at),
            "timeInterval": self.time_interval,
            "comment": self.comment,
            "createdBy": self.created_by,
            "createdAt": iso(self.created_at),
            "endedAt": iso(self.ended_at),
            "endedBy": self.ended_by,
            "state": self.state,
        }


def _of(row: Any, now: float) -> Window:
    ended = row.ended_at is not None or (row.ends_at is not None and row.ends_at <= now)
    state = "ended" if ended else ("pending" if row.starts_at > now else "active")
    return Window(
        id=int(row.id),
        matchers=list(json.loads(row.matchers)),
        receiver=row.receiver,
        starts_at=float(row.starts_at),
        ends_at=None if row.ends_at is None else float(row.ends_at),
        time_interval=row.time_interval,
        comment=row.comment,
        created_by=row.created_by,
        created_at=float(row.created_at),
        ended_at=None if row.ended_at is None else float(row.ended_at),
        ended_by=row.ended_by,
        state=state,
    )


def add(
    ctx: Context,
    *,
    matchers: list[str],
    receiver: str | None,
    ends_at: float | None,
    starts_at: float | None,
    time_interval: str | None,
    comment: str,
    created_by: str,
) -> Window:
    """A new window, checked: at least a receiver or a matcher; matchers in Alertmanager's
    syntax; a configured receiver and time interval; an end after the start (a one-off
    window must end, within a year; a recurring one may run until ended)."""
    now = ctx.now()
    if len(matchers) > MAX_MATCHERS:
        raise Invalid(f"at most {MAX_MATCHERS} matchers", field="matchers")
    for text in matchers:
        if len(text) > MAX_TEXT:
            raise Invalid("a matcher is too long", field="matchers")
        try:
            parse_matcher(text)
        except (MatcherError, ValueError) as exc:
            raise Invalid(f"bad matcher {text!r}: {exc}", field="matchers") from None
    if receiver is not None and receiver not in ctx.config.receivers:
        raise Invalid(f"no receiver {receiver!r} in the configuration", field="receiver")
    if not matchers and receiver is None:
        raise Invalid(
            "a maintenance window needs a receiver (a route) or matchers (a service)",
            field="matchers",
        )
    if time_interval is not None and time_interval not in ctx.config.intervals:
        raise Invalid(
            f"no time interval {time_interval!r} in the configuration", field="time_interval"
        )
    start = now if starts_at is None else starts_at
    if ends_at is None and time_interval is None:
        raise Invalid("a maintenance window needs an end (or a time interval)", field="ends_at")
    if ends_at is not None and ends_at <= max(start, now):
        raise Invalid("the end must be after the start and in the future", field="ends_at")
    if ends_at is not None and time_interval is None and ends_at - start > MAX_LENGTH_S:
        raise Invalid("a one-off maintenance window lasts a year at most", field="ends_at")
    if len(comment) > MAX_TEXT:
        raise Invalid("the comment is too long", field="comment")
    with begin_write(ctx.db) as conn:
        if len(maintenance.open_windows(conn, now)) >= MAX_OPEN:
            raise Conflict(f"{MAX_OPEN} maintenance windows are not over already: end some first")
        window_id = maintenance.add(
            conn,
            matchers=list(matchers),
            receiver=receiver,
            starts_at=start,
            ends_at=ends_at,
            time_interval=time_interval,
            comment=comment,
            created_by=created_by,
            now=now,
        )
        row = maintenance.get(conn, window_id)
    return _of(row, now)


def windows(ctx: Context, include_past: bool = False) -> list[Window]:
    """The windows not over, newest first (with ``include_past``, the last ``MAX_LIST``)."""
    now = ctx.now()
    with ctx.db.connect() as conn:
        found = maintenance.rows(conn, now, include_past, MAX_LIST)
    return [_of(r, now) for r in found]


def window(ctx: Context, window_id: int) -> Window:
    with ctx.db.connect() as conn:
        row = maintenance.get(conn, window_id) if 0 < window_id < 2**31 else None
    if row is None:
        raise NotFound(f"no maintenance window {window_id}")
    return _of(row, ctx.now())


def end(ctx: Context, window_id: int, by: str) -> Window:
    """End a window now (Conflict when it is over already); the incidents it held are
    flushed at once, so that one still firing pages now."""
    now = ctx.now()
    with begin_write(ctx.db) as conn:
        row = maintenance.get(conn, window_id) if 0 < window_id < 2**31 else None
        if row is None:
            raise NotFound(f"no maintenance window {window_id}")
        if not maintenance.end(conn, window_id, by, now):
            raise Conflict(f"maintenance window {window_id} is over already")
        schedule(conn, FLUSH, maintenance.held_by(conn, window_id), now)
        row = maintenance.get(conn, window_id)
    ctx.wake()
    return _of(row, now)
