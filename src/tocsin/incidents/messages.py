"""What a message about an incident holds (pure): its alerts, summary, title and runbook.

Part of the notify stage: the engine (``engine/messages.py``) reads the incident and its
alerts, asks these functions what goes out, and writes the result to the outbox, where it
is stored as JSON and read back by ``notify.message.from_json``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from tocsin.alerts.model import Alert, alert_json
from tocsin.incidents.describe import incident_title
from tocsin.runbooks.model import Catalog

MAX_DIAGNOSTICS = 3
MAX_ALERTS = 50
MAX_SUMMARY_CHARS = 1000
MAX_CODE_CHARS = 1500


def shown(members: Mapping[str, Alert], when: datetime) -> list[Alert]:
    """The alerts a message is about: those firing at ``when``, else all of them."""
    firing = [a for a in members.values() if not a.resolved(when)]
    return firing or list(members.values())


def alerts_json(members: Mapping[str, Alert], when: datetime) -> list[dict[str, Any]]:
    """The alerts as a message carries them, by fingerprint, at most ``MAX_ALERTS``."""
    return [alert_json(fp, a, when=when) for fp, a in sorted(members.items())][:MAX_ALERTS]


def summary(members: Mapping[str, Alert], when: datetime) -> str:
    """The first summary (else description) among the alerts shown, else a count."""
    firing = sum(1 for a in members.values() if not a.resolved(when))
    text = next(
        (
            a.annotations.get("summary") or a.annotations.get("description", "")
            for a in shown(members, when)
            if a.annotations.get("summary") or a.annotations.get("description")
        ),
        f"{firing} alert(s) firing",
    )
    return text[:MAX_SUMMARY_CHARS]


def runbook_section(
    alerts: list[Alert], catalog: Catalog | None, link: Callable[[str, str], str]
) -> dict[str, Any]:
    """The runbook section of the first alert that has one: its link (the alert's own
    ``runbook_url`` annotation first, else ``link(source, section title)``) and its first
    diagnostic commands; {} when no alert has a runbook."""
    for alert in alerts:
        url = alert.annotations.get("runbook_url")
        found = catalog.find(alert.name) if catalog and alert.name else []
        if not found and url:
            return {"runbook_url": url, "runbook_title": alert.name}
        if not found:
            continue
        book, entry = found[0]
        diagnostics = [
            {
                "title": step.title,
                "language": cmd.language,
                "code": cmd.code[:MAX_CODE_CHARS],
                "risk": cmd.risk,
            }
            for step in entry.steps
            if step.phase == "diagnose"
            for cmd in step.commands
        ][:MAX_DIAGNOSTICS]
        return {
            "runbook_url": url or link(book.source, entry.title),
            "runbook_title": f"{book.title}: {entry.title}",
            "diagnostics": diagnostics,
        }
    return {}


def compose(
    *,
    kind: str,
    incident_id: int,
    status: str,
    severity: str | None,
    group_labels: dict[str, str],
    members: Mapping[str, Alert],
    when: datetime,
    key: str,
    url: str,
    runbook: Mapping[str, Any],
    step: int | None = None,
    recipient: dict[str, str] | None = None,
    text: str | None = None,
) -> dict[str, Any]:
    """The message of ``kind`` for an incident, as the outbox stores it, with the default
    title (a configured title template is applied over it by the engine)."""
    message: dict[str, Any] = {
        "kind": kind,
        "incident_id": incident_id,
        "title": incident_title(group_labels, shown(members, when)),
        "status": status if status != "pending" else "triggered",
        "severity": severity,
        "summary": summary(members, when),
        "group_labels": group_labels,
        "alerts": alerts_json(members, when),
        "idempotency_key": key,
        "created_at": when.isoformat(),
        "external_url": url,
        "runbook_url": None,
        "runbook_title": None,
        "diagnostics": [],
        "escalation_step": step,
        "recipient": recipient,
        "text": text,
    }
    message.update(runbook)
    return message
