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


def _count(n: int, noun: str = "alert") -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def when_text(at: datetime) -> str:
    """A time as a person reads it in a message: to the second, with its zone."""
    return at.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if at.tzinfo else at.isoformat()


def _alerts_summary(members: Mapping[str, Alert], when: datetime) -> str:
    """The first summary (else description) among the alerts shown; "" when none has one."""
    return next(
        (
            a.annotations.get("summary") or a.annotations.get("description", "")
            for a in shown(members, when)
            if a.annotations.get("summary") or a.annotations.get("description")
        ),
        "",
    )


def state_line(
    kind: str,
    status: str,
    members: Mapping[str, Alert],
    when: datetime,
    actor: str | None = None,
    acted_at: datetime | None = None,
) -> str:
    """What happened to the incident, said as it is: who resolved or acknowledged it and
    when, and how many of its alerts still fire; "" for the kinds that page (their summary
    is the alerts')."""
    firing = [a for a in members.values() if not a.resolved(when)]
    ended = len(members) - len(firing)
    at = when_text(acted_at or when)
    names = sorted({a.name or "alert" for a in firing})
    still = (
        f"{_count(len(firing))} still firing ({', '.join(names[:5])}"
        + (", …" if len(names) > 5 else "")
        + ")"
    )
    if kind == "resolved":
        if status != "resolved":  # the route keeps it open for a person
            return (
                f"All {_count(len(members))} ended at {at}; the incident stays open until"
                " a person resolves it."
            )
        if actor is None:
            every = "the alert" if len(members) == 1 else f"all {_count(len(members))}"
            return f"Resolved automatically at {at}: {every} ended."
        line = f"Resolved by {actor} at {at}."
        if firing:
            return (
                f"{line} {still}: the incident is closed, but a new one opens when"
                " the alerts are sent again."
            )
        return f"{line} {'The alert' if ended == 1 else f'All {_count(ended)}'} had ended."
    if kind == "acknowledged":
        by = f" by {actor}" if actor else ""
        line = f"Acknowledged{by} at {at}; "
        line += f"{_count(len(firing))} firing." if firing else "no alert fires now."
        return line
    return ""


def summary(
    members: Mapping[str, Alert],
    when: datetime,
    kind: str = "firing",
    status: str = "triggered",
    actor: str | None = None,
    acted_at: datetime | None = None,
) -> str:
    """What the message says in one place: for a resolution or an acknowledgement, the state
    line (``state_line``), then, while alerts fire, their first summary; for the rest, the
    first summary (else description) among the alerts shown, else a count."""
    firing = sum(1 for a in members.values() if not a.resolved(when))
    line = state_line(kind, status, members, when, actor, acted_at)
    own = _alerts_summary(members, when)
    if line:
        text = f"{line}\n{own}" if own and firing and kind != "resolved" else line
    else:
        text = own or f"{_count(firing)} firing"
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
    actor: str | None = None,
    acted_at: datetime | None = None,
) -> dict[str, Any]:
    """The message of ``kind`` for an incident, as the outbox stores it, with the default
    title (a configured title template is applied over it by the engine). A resolution or an
    acknowledgement says who did it (``actor``; None: tocsin itself) and when; a resolution
    carries no first checks (nothing is left to check)."""
    shown_status = status if status != "pending" else "triggered"
    message: dict[str, Any] = {
        "kind": kind,
        "incident_id": incident_id,
        "title": incident_title(group_labels, shown(members, when)),
        "status": shown_status,
        "severity": severity,
        "summary": summary(members, when, kind, shown_status, actor, acted_at),
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
        "actor": actor,
        "acted_at": when_text(acted_at) if acted_at is not None else None,
    }
    message.update(runbook)
    if kind == "resolved":
        message["diagnostics"] = []
    return message
