"""What a message about an incident holds (pure): its alerts, summary, title and runbook.

Part of the notify stage: the engine (``engine/messages.py``) reads the incident and its
alerts, asks these functions what goes out, and writes the result to the outbox, where it
is stored as JSON and read back by ``notify.message.from_json``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from tocsin.alerts.model import Alert, alert_json
from tocsin.incidents.describe import incident_title
from tocsin.runbooks.fill import fill
from tocsin.runbooks.model import RISK_ORDER, Catalog, Step
from tocsin.runbooks.model import Alert as RunbookAlert

MAX_DIAGNOSTICS = 3
MAX_ALERTS = 50
MAX_SUMMARY_CHARS = 1000
MAX_CODE_CHARS = 1500
MAX_OTHER_STEPS = 12
MAX_LINK_CHARS = 2000


def shown(members: Mapping[str, Alert], when: datetime) -> list[Alert]:
    """The alerts a message is about: those firing at ``when``, else all of them."""
    firing = [a for a in members.values() if not a.resolved(when)]
    return firing or list(members.values())


def alerts_json(members: Mapping[str, Alert], when: datetime) -> list[dict[str, Any]]:
    """The alerts as a message carries them, by fingerprint, at most ``MAX_ALERTS``; a
    ``runbook_url`` annotation that is no http(s) link (``own_link``) is left out."""
    out = [alert_json(fp, a, when=when) for fp, a in sorted(members.items())][:MAX_ALERTS]
    for item in out:
        annotations = item.get("annotations") or {}
        if "runbook_url" in annotations and own_link(annotations["runbook_url"]) is None:
            item["annotations"] = {k: v for k, v in annotations.items() if k != "runbook_url"}
    return out


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


def own_link(url: str | None) -> dict[str, str] | None:
    """An alert's own ``runbook_url`` annotation as a link a person may follow: only an
    http(s) URL with a host (``javascript:``, ``data:``, ``file:`` are dropped), with its host
    shown beside it. It never stands in for the catalog's link."""
    if not url or len(url) > MAX_LINK_CHARS:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        return None
    return {"url": url, "host": host}


def _risk(step: Step) -> str:
    return max((c.risk for c in step.commands), key=RISK_ORDER.__getitem__, default="read")


def _checks(entry: RunbookAlert, labels: Mapping[str, str]) -> dict[str, Any]:
    """The first checks (commands of diagnosis steps that only read, their placeholders
    filled from the labels) and the other steps with commands, named with their risk."""
    diagnostics: list[dict[str, str]] = []
    others: list[dict[str, str]] = []
    for step in entry.steps:
        if not step.commands:
            continue
        first = step.phase == "diagnose" and all(c.risk == "read" for c in step.commands)
        if first and len(diagnostics) < MAX_DIAGNOSTICS:
            for cmd in step.commands[: MAX_DIAGNOSTICS - len(diagnostics)]:
                filled = fill(cmd.code[:MAX_CODE_CHARS], cmd.language, labels)
                diagnostics.append(
                    {
                        "title": step.title,
                        "language": cmd.language,
                        "code": filled.text,
                        "risk": cmd.risk,
                        "unfilled": ", ".join(filled.unfilled),
                    }
                )
            continue
        others.append({"title": step.title, "phase": step.phase, "risk": _risk(step)})
    return {"diagnostics": diagnostics, "other_steps": others[:MAX_OTHER_STEPS]}


def runbook_section(
    alerts: list[Alert], catalog: Catalog | None, link: Callable[[str, str], str]
) -> dict[str, Any]:
    """The runbook section of the first alert the catalog documents: its link
    (``link(source, section title)``), its first checks (read-only commands, filled from that
    alert's labels) and its other steps, named with their risk. An alert's own
    ``runbook_url`` annotation is ``alert_link`` beside it (http(s) only), never the catalog's
    link; {} when there is neither."""
    own = next((o for a in alerts if (o := own_link(a.annotations.get("runbook_url")))), None)
    section: dict[str, Any] = {"alert_link": own} if own else {}
    for alert in alerts:
        found = catalog.find(alert.name) if catalog and alert.name else []
        if not found:
            continue
        book, entry = found[0]
        return {
            **section,
            "runbook_url": link(book.source, entry.title),
            "runbook_title": f"{book.title}: {entry.title}",
            **_checks(entry, alert.labels),
        }
    return section


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
