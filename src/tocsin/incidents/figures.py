"""An incident's response figures, from its timeline (pure).

One definition for the incident view, the postmortem and the reports:

- **time to acknowledge**: from the first ``triggered`` event (the first page went out) to the
  first ``acknowledged`` event. An acknowledgement that later lapsed still counts: someone
  answered. None while nobody has acknowledged, or when the incident never triggered.
- **time to resolve**: from the incident's first alert (``opened``) to the last ``resolved``
  event (a reopened incident is resolved when it is resolved for good). None while open.
- **pages sent**: people paged: one person paged by one step of the escalation (one round of
  it) is **one page**, however many of their channels carried it (Slack and email are one
  page). A page counts when at least one of its messages was delivered (``notified`` whose
  target is a user, schedule or team, not a channel; its ``page`` names the page, see
  ``page_of``; an event without one is a page of its own). Telling a person paged of the
  acknowledgement or the resolution is not paging them. **messages sent**: every
  delivered notification, channel messages included; failed deliveries (``notify_failed``).
- **escalations**: escalation steps taken after the first page (an ``escalated`` event that
  only started the policy is not one; a step of a later round, a missed deadline's step and
  "escalate now" are). With steps 1 and 2 fired, escalations is 1.
- missed acknowledgement deadlines, notes and status updates: counts of those events.

``incident show``, the postmortem, the reports and ``tocsin simulate`` all read these.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from tocsin.incidents.messages import TOLD_KINDS
from tocsin.oncall.escalation import ESCALATED, FIRST_PAGE

# Notifications to people that are not pages: telling those paged what became of the
# incident, and reminding an owner of a post-incident duty.
TOLD = TOLD_KINDS | {"duty_reminder"}


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


def page_of(kind: str, idempotency_key: str, message: str | Mapping[str, Any]) -> dict[str, Any]:
    """What a delivery's ``notified`` event says of the page it belongs to: ``recipient``
    (the person its message named) and, for a step's page (``PAGE_KINDS``: the first page,
    ``firing``, or a later step's, ``escalation``), ``page``: its idempotency key without the
    channel (``inc1:g1:r0:s1:schedule:primary:bob``, as ``engine/escalate`` writes it, a
    fallback's ``:fallback`` removed), the same for every channel of that person at that
    step. A channel's own ``firing`` message names no recipient, and is no page."""
    if isinstance(message, str):
        try:
            message = json.loads(message)
        except ValueError:
            message = {}
    recipient = message.get("recipient") if isinstance(message, Mapping) else None
    out: dict[str, Any] = {}
    if isinstance(recipient, Mapping) and recipient.get("name"):
        out["recipient"] = str(recipient["name"])
    if kind == ESCALATED or (kind == FIRST_PAGE and "recipient" in out):
        out["page"] = idempotency_key.removesuffix(":fallback").rpartition(":")[0]
    return out


def is_escalation(event: Event) -> bool:
    """An escalation step taken after the first page (the policy's start is not one)."""
    return event.kind == "escalated" and event.detail.get("reason") != "started"


def page_key(event: Event) -> tuple[str, ...] | None:
    """The page a ``notified`` event delivered, or None when it paged nobody (a message to
    a channel). Deliveries of one page on several channels have one key."""
    if event.kind != "notified":
        return None
    target = str(event.detail.get("target") or "")
    if target.startswith("channel:") or event.detail.get("kind") in TOLD:
        return None
    page = event.detail.get("page")
    if page:
        return ("page", str(page), str(event.detail.get("recipient") or ""))
    notification = event.detail.get("notification")
    if notification is not None:  # written before pages were named: each delivery a page
        return ("delivery", target, str(notification))
    return ("event", str(id(event)))


# The kinds the figures are worked out from: ``figures`` of these alone says what it says of
# the whole timeline (a timeline of a storm need not be read whole).
FIGURE_KINDS = frozenset(
    (
        "opened",
        "triggered",
        "acknowledged",
        "resolved",
        "reopened",
        "notified",
        "notify_failed",
        "escalated",
        "deadline_missed",
        "note",
        "status_update",
    )
)


def figures(events: Iterable[Event], opened_at: float | None = None) -> Figures:
    """The figures of one incident's timeline (events in any order)."""
    ordered = sorted(events, key=lambda e: e.at)
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    counts: dict[str, int] = {}
    pages: set[tuple[str, ...]] = set()
    escalations = 0
    for event in ordered:
        first.setdefault(event.kind, event.at)
        last[event.kind] = event.at
        counts[event.kind] = counts.get(event.kind, 0) + 1
        key = page_key(event)
        if key is not None:
            pages.add(key)
        elif is_escalation(event):
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
        pages_sent=len(pages),
        messages_sent=counts.get("notified", 0),
        pages_failed=counts.get("notify_failed", 0),
        escalations=escalations,
        deadline_misses=counts.get("deadline_missed", 0),
        notes=counts.get("note", 0),
        status_updates=counts.get("status_update", 0),
    )
