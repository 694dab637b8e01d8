"""A notification as the outbox keeps it: what one channel must tell about one incident.

The engine builds a ``Message`` when an incident fires, escalates, is acknowledged, resolved
or updated; the outbox stores it as JSON (``to_json``/``from_json`` round-trip exactly) and a
channel (``notify.slack``, ``notify.email``, ...) renders and delivers it;
``message_context`` is what its templates see. Pure: values only, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from tocsin.templating import KINDS, template_context

__all__ = [
    "KINDS",
    "NEWS_KINDS",
    "STATUSES",
    "Message",
    "from_json",
    "message_context",
    "to_json",
]

STATUSES = ("triggered", "acknowledged", "resolved")
# Kinds that bring news (a status update a person wrote, the reminder that one is due, a
# storm's digest updated, what a person's limit held back) in ``text``, rather than a change
# of the incident's state.
NEWS_KINDS = frozenset(
    {
        "status_update",
        "update_reminder",
        "duty_reminder",
        "storm_update",
        "held_summary",
        "diagnostics",
    }
)


@dataclass(frozen=True)
class Message:
    kind: str  # one of KINDS
    incident_id: int
    title: str  # the incident title (already a string)
    status: str  # one of STATUSES
    severity: str | None
    summary: str
    group_labels: dict[str, str]
    # {"fingerprint", "status": "firing"|"resolved", "labels", "annotations",
    #  "starts_at" (ISO 8601), "ends_at"}
    alerts: tuple[dict[str, Any], ...]
    idempotency_key: str
    created_at: str  # ISO 8601 UTC
    external_url: str = ""  # link to the incident in tocsin
    runbook_url: str | None = None
    runbook_title: str | None = None
    # the first checks: read-only commands, placeholders filled from the alert's labels
    # {"title", "language", "code", "risk", "unfilled" (placeholders no label filled)}
    diagnostics: tuple[dict[str, str], ...] = ()
    escalation_step: int | None = None
    # {"name", "email", "slack", and "phone" when the user has one} when paging a person
    recipient: dict[str, str] | None = None
    text: str | None = None  # status_update: the body a human wrote
    # the runbook's other steps, named with their risk: {"title", "phase", "risk"}
    other_steps: tuple[dict[str, str], ...] = ()
    # the alert's own runbook_url annotation (http(s) only), never the catalog's link:
    # {"url", "host"}
    alert_link: dict[str, str] | None = None
    # acknowledged, resolved: who did it (None: tocsin itself) and when, as a person reads it
    actor: str | None = None
    acted_at: str | None = None
    # messages with the same update key are versions of one message (a storm's digest,
    # engine/storm.py): a channel that can edit a message it sent edits it
    update_key: str | None = None
    # how many of the incident's alerts fire (muted ones included) and are resolved; the
    # alerts above are at most 50 of them (None: a message stored before the
    # totals, whose alerts are counted instead)
    firing_total: int | None = None
    resolved_total: int | None = None
    # a message to a person: its signed, single-use links {"acknowledge": url, "resolve": url}
    actions: dict[str, str] | None = None
    # runs of the incident's runbook commands awaiting an approval that one press may give
    # (a ``change``): {"id", "step", "section"}; a Slack app shows an Approve button for each
    awaiting_runs: tuple[dict[str, str], ...] = ()
    # the receiver of the incident's route (Alertmanager's name; "": not known)
    receiver: str = ""

    def __post_init__(self) -> None:
        # A wrong kind or status is a programming error upstream; catch it where it is made,
        # not when a template renders it at 3 a.m.
        if self.kind not in KINDS:
            raise ValueError(f"unknown message kind {self.kind!r} (expected one of {KINDS})")
        if self.status not in STATUSES:
            raise ValueError(f"unknown incident status {self.status!r} (expected {STATUSES})")
        if not self.idempotency_key:
            raise ValueError("a message needs an idempotency key")


_REQUIRED = (
    "kind",
    "incident_id",
    "title",
    "status",
    "severity",
    "summary",
    "group_labels",
    "alerts",
    "idempotency_key",
    "created_at",
)


def to_json(message: Message) -> dict[str, Any]:
    """A JSON-ready dict (tuples become lists); ``from_json`` reads it back unchanged."""
    out: dict[str, Any] = {}
    for f in fields(message):
        value = getattr(message, f.name)
        if f.name in ("group_labels", "recipient", "alert_link", "actions"):
            value = dict(value) if value is not None else None
        elif f.name in ("alerts", "diagnostics", "other_steps", "awaiting_runs"):
            value = [dict(item) for item in value]
        out[f.name] = value
    return out


def from_json(data: dict[str, Any]) -> Message:
    """The message stored by ``to_json``. Unknown keys are ignored (a webhook body carries
    ``version`` too), missing required keys raise ValueError."""
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise ValueError(f"message JSON lacks {', '.join(missing)}")
    recipient = data.get("recipient")
    link = data.get("alert_link")
    return Message(
        kind=data["kind"],
        incident_id=int(data["incident_id"]),
        title=data["title"],
        status=data["status"],
        severity=data["severity"],
        summary=data["summary"],
        group_labels=dict(data["group_labels"]),
        alerts=tuple(dict(a) for a in data["alerts"]),
        idempotency_key=data["idempotency_key"],
        created_at=data["created_at"],
        external_url=data.get("external_url", ""),
        runbook_url=data.get("runbook_url"),
        runbook_title=data.get("runbook_title"),
        diagnostics=tuple(dict(d) for d in data.get("diagnostics", ())),
        escalation_step=data.get("escalation_step"),
        recipient=dict(recipient) if recipient is not None else None,
        text=data.get("text"),
        other_steps=tuple(dict(o) for o in data.get("other_steps", ())),
        alert_link=dict(link) if isinstance(link, dict) else None,
        actor=data.get("actor"),
        acted_at=data.get("acted_at"),
        update_key=data.get("update_key"),
        firing_total=_count(data.get("firing_total")),
        resolved_total=_count(data.get("resolved_total")),
        actions=dict(data["actions"]) if isinstance(data.get("actions"), dict) else None,
        awaiting_runs=tuple(dict(r) for r in data.get("awaiting_runs") or ()),
        receiver=str(data.get("receiver") or ""),
    )


def _count(value: Any) -> int | None:
    return int(value) if value is not None else None


def message_context(message: Message) -> dict[str, Any]:
    """What a template sees for a real message (the keys are in ``tocsin.templating``)."""
    return template_context(
        kind=message.kind,
        incident_id=message.incident_id,
        title=message.title,
        status=message.status,
        severity=message.severity,
        summary=message.summary,
        group_labels=message.group_labels,
        alerts=message.alerts,
        idempotency_key=message.idempotency_key,
        created_at=message.created_at,
        external_url=message.external_url,
        runbook_url=message.runbook_url,
        runbook_title=message.runbook_title,
        diagnostics=message.diagnostics,
        escalation_step=message.escalation_step,
        recipient=message.recipient,
        text=message.text,
        other_steps=message.other_steps,
        alert_link=message.alert_link,
        actor=message.actor,
        acted_at=message.acted_at,
        firing_total=message.firing_total,
        resolved_total=message.resolved_total,
        actions=message.actions,
        receiver=message.receiver,
    )
