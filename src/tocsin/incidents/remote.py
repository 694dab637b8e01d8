"""What another paging tool says a person did to an incident (pure): PagerDuty's v3 webhooks.

A team that forwards pages to PagerDuty acknowledges wherever it was paged. tocsin's
PagerDuty channel opens each PagerDuty alert with ``dedup_key`` ``tocsin-<incident id>``
(``notify.pagerduty``), which PagerDuty keeps as the incident's ``incident_key``; a v3 webhook
``incident.acknowledged`` or ``incident.resolved`` naming that key acts on the tocsin incident.

The signature: ``X-PagerDuty-Signature`` holds one or more ``v1=<hex>`` (more than one while a
secret is being rotated), each an HMAC-SHA256 of the raw body under a subscription's signing
secret; one match is enough. PagerDuty signs no timestamp, so an event is refused when its
``occurred_at`` is older than ``MAX_AGE_S`` (what the replay memory keeps), or missing, and a
second delivery of one event id is a replay.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tocsin.errors import Invalid

MAX_AGE_S = 86400.0  # a day: events older than the replay memory are refused
MAX_SIGNATURE_HEADER = 2000
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_KEY = re.compile(r"^tocsin-([1-9][0-9]{0,17})$")
ACTIONS = {"incident.acknowledged": "acknowledge", "incident.resolved": "resolve"}


def signed(body: bytes, header: str | None, secrets: Iterable[str]) -> bool:
    """Whether one of the header's ``v1=`` signatures is the body's HMAC-SHA256 under one of
    ``secrets`` (compared in constant time)."""
    if not header or len(header) > MAX_SIGNATURE_HEADER:
        return False
    # 64 hex digits only: a server reads header bytes as Latin-1, and compare_digest raises
    # on a str that is not ASCII (a 500 instead of a 403)
    given = [
        part.strip()[3:]
        for part in header.split(",")
        if part.strip().startswith("v1=") and _HEX64.fullmatch(part.strip()[3:])
    ]
    for secret in secrets:
        expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, sig.lower()) for sig in given):
            return True
    return False


@dataclass(frozen=True)
class RemoteAct:
    """A v3 webhook event read: what happened in PagerDuty, and to which tocsin incident."""

    event_id: str
    event_type: str
    action: str | None  # "acknowledge" | "resolve"; None: nothing tocsin acts on
    incident_id: int | None  # the tocsin incident its incident_key names (None: not ours)
    agent: str  # who did it in PagerDuty, as PagerDuty names them ("" when not said)
    agent_id: str  # their PagerDuty user ID (P…; "" when not said)
    pagerduty_incident: str  # PagerDuty's own incident id ("" when not said)
    occurred_at: datetime  # required: an undated event could be replayed once its id is forgotten


def _text(value: Any, limit: int = 200) -> str:
    return "".join(ch for ch in value if ch.isprintable())[:limit] if isinstance(value, str) else ""


def read_pagerduty(doc: Any) -> RemoteAct:
    """A v3 webhook body (``{"event": {...}}``) read; Invalid when it is not one."""
    event = doc.get("event") if isinstance(doc, Mapping) else None
    if not isinstance(event, Mapping):
        raise Invalid('not a PagerDuty v3 webhook: the body has no "event" object')
    event_id = _text(event.get("id"))
    event_type = _text(event.get("event_type"), 100)
    if not event_id or not event_type:
        raise Invalid("not a PagerDuty v3 webhook: its event has no id or event_type")
    raw_time = event.get("occurred_at")
    if not isinstance(raw_time, str):
        # undated, it could never be stale: replayed once the replay memory forgot its id
        raise Invalid(f"event {event_id}: occurred_at is missing (PagerDuty dates every event)")
    try:
        occurred = datetime.fromisoformat(raw_time.replace("Z", "+00:00"))
    except ValueError:
        shown = raw_time[:40]
        raise Invalid(f"event {event_id}: occurred_at is not a time: {shown!r}") from None
    if occurred.tzinfo is None:
        raise Invalid(f"event {event_id}: occurred_at has no time zone")
    data = event.get("data") if isinstance(event.get("data"), Mapping) else {}
    agent = event.get("agent") if isinstance(event.get("agent"), Mapping) else {}
    found = _KEY.match(_text(data.get("incident_key"))) if data else None
    return RemoteAct(
        event_id=event_id,
        event_type=event_type,
        action=ACTIONS.get(event_type),
        incident_id=int(found.group(1)) if found else None,
        agent=_text(agent.get("summary")) if agent else "",
        agent_id=_text(agent.get("id"), 40) if agent else "",
        pagerduty_incident=_text(data.get("id"), 40) if data else "",
        occurred_at=occurred,
    )


def stale(act: RemoteAct, now: float) -> bool:
    """Older than the replay memory (or from more than five minutes ahead): refused."""
    at = act.occurred_at.timestamp()
    return at < now - MAX_AGE_S or at > now + 300


def actor(act: RemoteAct, people: Iterable[tuple[str, str | None]]) -> str:
    """Who acted, as tocsin names them: the user whose ``pagerduty:`` is the PagerDuty user ID
    of the event's agent, else ``pagerduty:<their name>``. Never by name: PagerDuty users can
    rename themselves. ``people``: (name, PagerDuty user ID) pairs."""
    if act.agent_id:
        for name, pagerduty_id in people:
            if pagerduty_id and pagerduty_id == act.agent_id:
                return name
    return f"pagerduty:{act.agent.strip() or act.agent_id or 'unknown'}"
