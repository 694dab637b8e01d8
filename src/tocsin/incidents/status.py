"""The public status page's rules (pure): which components an incident affects, a
component's state now, and its days of history.

A component is affected by an incident when one of the incident's alerts matches all of the
component's matchers. Its state is ``outage`` while an open incident (triggered or
acknowledged) affecting it is at the most severe level, ``degraded`` while one is at another,
else ``operational``. A day of its history takes the worst state of the published incidents
(those with a public status update) that were open that day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tocsin.alerts.matchers import Matcher, matches_all
from tocsin.incidents.figures import Event

STATES = ("operational", "degraded", "outage")  # from best to worst
HISTORY_DAYS = 90


@dataclass(frozen=True)
class Component:
    name: str
    matchers: tuple[Matcher, ...]
    description: str | None = None


@dataclass(frozen=True)
class Span:
    """An incident as the status page weighs it: its state while open, from when to when
    (``end`` None: still open)."""

    state: str
    start: float
    end: float | None


@dataclass(frozen=True)
class PublicUpdate:
    at: float
    stage: str
    message: str


def public_updates(events: Iterable[Event]) -> list[PublicUpdate]:
    """The status updates a person published (``public``), oldest first, from an incident's
    ``status_update`` events (``incidents.figures.Event``): their stage and message only."""
    return [
        PublicUpdate(e.at, str(e.detail.get("stage", "")), str(e.detail.get("message", "")))
        for e in events
        if e.kind == "status_update"
        and isinstance(e.detail, Mapping)
        and e.detail.get("public") is True
    ]


def affects(component: Component, alerts: Iterable[Mapping[str, str]]) -> bool:
    return any(matches_all(list(component.matchers), labels) for labels in alerts)


def state_for(severity_rank: int | None) -> str:
    """An open incident's state for a component: ``outage`` at the most severe level (rank
    0), else ``degraded`` (an unrated severity too)."""
    return "outage" if severity_rank == 0 else "degraded"


def worst(states: Iterable[str]) -> str:
    return max(states, key=STATES.index, default="operational")


def history(spans: Sequence[Span], now: float, days: int = HISTORY_DAYS) -> list[tuple[date, str]]:
    """The last ``days`` days (UTC, oldest first, today last), each with its worst state."""
    today = datetime.fromtimestamp(now, UTC).date()
    out: list[tuple[date, str]] = []
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        end = start + 86400
        states = [
            s.state
            for s in spans
            if s.start < end and (s.end if s.end is not None else now) >= start
        ]
        out.append((day, worst(states)))
    return out
