"""An incident's response figures, from its timeline (pure).

One definition for the incident view, the postmortem and the reports:

- **time to acknowledge**: from the first ``triggered`` event (the first page went out) to the
  first ``acknowledged`` event. An acknowledgement that later lapsed still counts: someone
  answered. None while nobody has acknowledged, or when the incident never triggered.
- **time to resolve**: from the incident's first alert (``opened``) to the last ``resolved``
  event (a reopened incident is resolved when it is resolved for good). None while open.
- **pages sent**: delivered notifications to people (``notified`` whose target is a user,
  schedule or team, not a channel; telling them of the acknowledgement or the resolution is
  not paging them); **messages sent**: every delivered notification, channel
  messages included; failed deliveries (``notify_failed``).
- **escalations**: escalation steps taken after the first (an ``escalated`` event that only
  started the policy is not one), missed acknowledgement deadlines, notes and status
  updates: counts of those events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

# Notifications that tell the people paged what became of the incident: not pages.
_TOLD = frozenset({"acknowledged", "resolved"})


@dataclass(frozen=True)
class Event:
    """One timeline entry: ``at`` in epoch seconds."""

    at: float
    kind: str
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class Figures:
    opened_at: float | None
    triggered_at: float | None
    acknowledged_at: float | None
    resolved_at: float | None
    time_to_acknowledge_s: float | None
    time_to_resolve_s: float | None
    pages_sent: int
    messages_sent: int
    pages_failed: int
    escalations: int
    deadline_misses: int
    notes: int
    status_updates: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def figures(events: Iterable[Event], opened_at: float | None = None) -> Figures:
    """The figures of one incident's timeline (events in any order)."""
    ordered = sorted(events, key=lambda e: e.at)
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    counts: dict[str, int] = {}
    pages = escalations = 0
    for event in ordered:
        first.setdefault(event.kind, event.at)
        last[event.kind] = event.at
        counts[event.kind] = counts.get(event.kind, 0) + 1
        if (
            event.kind == "notified"
            and not str(event.detail.get("target", "")).startswith("channel:")
            and event.detail.get("kind") not in _TOLD  # telling a person is not paging them
        ):
            pages += 1
        elif event.kind == "escalated" and event.detail.get("reason") != "started":
            escalations += 1
    opened = first.get("opened", opened_at)
    triggered = first.get("triggered")
    acknowledged = first.get("acknowledged")
    resolved = last.get("resolved")
    if resolved is not None and last.get("reopened", float("-inf")) > resolved:
        resolved = None  # reopened after its last resolution: open again
    return Figures(
        opened_at=opened,
        triggered_at=triggered,
        acknowledged_at=acknowledged,
        resolved_at=resolved,
        time_to_acknowledge_s=(
            acknowledged - triggered
            if acknowledged is not None and triggered is not None and acknowledged >= triggered
            else None
        ),
        time_to_resolve_s=(
            resolved - opened if resolved is not None and opened is not None else None
        ),
        pages_sent=pages,
        messages_sent=counts.get("notified", 0),
        pages_failed=counts.get("notify_failed", 0),
        escalations=escalations,
        deadline_misses=counts.get("deadline_missed", 0),
        notes=counts.get("note", 0),
        status_updates=counts.get("status_update", 0),
    )
