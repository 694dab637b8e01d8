"""Messages for notification tests: realistic by default, any field overridable."""

from __future__ import annotations

from typing import Any

from tocsin.notify.message import Message
from tocsin.templating import sample_context


def make_message(**overrides: Any) -> Message:
    """The sample incident (two alerts firing, one resolved, a runbook, two diagnostics) as a
    Message paging Ada, with ``overrides`` applied."""
    ctx = sample_context()
    fields: dict[str, Any] = {
        "kind": "firing",
        "incident_id": 42,
        "title": ctx["title"],
        "status": "triggered",
        "severity": "critical",
        "summary": ctx["summary"],
        "group_labels": dict(ctx["group_labels"]),
        "alerts": tuple(
            {k: a[k] for k in ("fingerprint", "status", "labels", "annotations", "starts_at")}
            | {"ends_at": a["ends_at"] or None}
            for a in ctx["alerts"]
        ),
        "idempotency_key": "incident-42-firing-1",
        "created_at": "2024-05-14T03:05:00Z",
        "external_url": ctx["external_url"],
        "runbook_url": ctx["runbook_url"],
        "runbook_title": ctx["runbook_title"],
        "diagnostics": tuple(ctx["diagnostics"]),
        "recipient": {"name": "Ada Lovelace", "email": "ada@example.com", "slack": "U024BE7LH"},
    }
    fields.update(overrides)
    return Message(**fields)


def alert(labels: dict[str, str], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "fingerprint": "0000000000000001",
        "status": "firing",
        "labels": labels,
        "annotations": annotations or {},
        "starts_at": "2024-05-14T02:58:10Z",
        "ends_at": None,
    }
