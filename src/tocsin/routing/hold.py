"""Holding pages: whether an incident's news pages anybody now, or is held by its route's
time intervals or by a maintenance window.

Part of the flush's mute stage, beside silences and inhibition: those mute single alerts;
these hold a whole incident. Its alerts are kept and shown, its incident opens and records
what fires, but no channel is told and nobody is paged while it is held. Pure: the engine
(``engine/flush.py``) reads the windows (``store/maintenance.py``) and asks ``hold``.

A route is muted as Alertmanager mutes it (``routing/intervals.route_muted_by``). A
maintenance window holds an incident from its start until its end (or until it is ended), when
the incident's route has the window's ``receiver``, or when every firing alert the flush read
matches all the window's ``matchers``; a recurring window (``time_interval``) holds only while
its named interval holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from tocsin.alerts.matchers import Matcher, matches_all
from tocsin.routing.intervals import Interval, contains_any, route_muted_by

TIME_INTERVAL = "time_interval"
MAINTENANCE = "maintenance"


@dataclass(frozen=True)
class Window:
    """A maintenance window as the engine reads it (times are epoch seconds)."""

    id: int
    matchers: tuple[Matcher, ...]
    receiver: str | None
    starts_at: float
    ends_at: float | None  # None: until ended
    time_interval: str | None = None
    comment: str = ""
    created_by: str = ""

    def open_at(self, at: float) -> bool:
        """Whether ``at`` is between its start and its end."""
        return self.starts_at <= at and (self.ends_at is None or at < self.ends_at)

    def covers(self, receiver: str, firing: Sequence[Mapping[str, str]]) -> bool:
        """Whether it is for this incident: its route's receiver, or all its firing alerts
        (at least one) matching the window's matchers."""
        if self.receiver is not None and receiver != self.receiver:
            return False
        if self.matchers:
            return bool(firing) and all(matches_all(list(self.matchers), f) for f in firing)
        return self.receiver is not None


@dataclass(frozen=True)
class Hold:
    """Why an incident pages nobody now: ``reason`` is ``time_interval`` (``intervals``:
    the names that mute its route) or ``maintenance`` (``window``: its id; ``until``: when it
    ends, if it does)."""

    reason: str
    intervals: tuple[str, ...] = ()
    window: int | None = None
    until: float | None = None

    def detail(self) -> dict[str, object]:
        """As the timeline's ``paging_held`` event says it."""
        out: dict[str, object] = {"reason": self.reason}
        if self.intervals:
            out["intervals"] = list(self.intervals)
        if self.window is not None:
            out["window"] = self.window
            out["until"] = self.until
        return out


def hold(
    mute: Sequence[str],
    active_in: Sequence[str],
    receiver: str,
    firing: Sequence[Mapping[str, str]],
    windows: Sequence[Window],
    intervals: Mapping[str, Sequence[Interval]],
    at: datetime,
) -> Hold | None:
    """What holds an incident's pages at ``at`` (None: it pages). ``mute``/``active_in``:
    its route's time intervals; ``firing``: the labels of its firing alerts the flush read;
    ``windows``: the maintenance windows not ended. The route's intervals come first; among
    windows, the one that ends last."""
    muted = route_muted_by(mute, active_in, intervals, at)
    if muted:
        return Hold(TIME_INTERVAL, intervals=tuple(muted))
    ts = at.timestamp()
    found = [
        w
        for w in windows
        if w.open_at(ts)
        and w.covers(receiver, firing)
        and (w.time_interval is None or contains_any(intervals.get(w.time_interval, ()), at))
    ]
    if not found:
        return None
    last = max(found, key=lambda w: (w.ends_at is None, w.ends_at or 0.0, w.id))
    return Hold(MAINTENANCE, window=last.id, until=last.ends_at)
