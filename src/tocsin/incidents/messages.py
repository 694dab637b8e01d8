"""What a message about an incident holds (pure): its alerts, summary, title and runbook.

Part of the notify stage: the engine (``engine/messages.py``) reads the incident and its
alerts, asks these functions what goes out, and writes the result to the outbox, where it
is stored as JSON and read back by ``notify.message.from_json``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from tocsin.alerts.model import Alert, alert_json
from tocsin.incidents.describe import exit_said, incident_title, seconds_said, title_of
from tocsin.incidents.tally import Tally
from tocsin.runbooks.fill import fill
from tocsin.runbooks.model import RISK_ORDER, Catalog, Step
from tocsin.runbooks.model import Alert as RunbookAlert
from tocsin.times import format_time
from tocsin.words import count

# What everyone paged for an incident hears, on the channel that paged them.
TOLD_KINDS = frozenset({"acknowledged", "resolved"})
# Kinds that name the incident's runs awaiting an approval one press may give (a ``change``
# run: a ``destructive`` one needs a typed confirmation): a Slack app shows Approve buttons.
# Not ``firing``: no run is asked for before the incident triggers.
APPROVAL_KINDS = frozenset(
    {"escalation", "deadline", "reminder", "acknowledged", "status_update", "diagnostics"}
)
APPROVABLE_RISK = "change"
# The runbook's diagnostics that ran by themselves, after the page (engine/diagnose.py).
DIAGNOSTICS_KIND = "diagnostics"
# How a channel reaches the people it pages (``reach``): "person", each person paged through
# it apart (an email to them, a webhook body naming them, a Slack app's direct message);
# "phone", each person apart on their phone (SMS, a call), where a message costs them an
# interruption: they are not told what they did themselves (the gateway's answer to their
# reply said so) nor sent commands' output; "channel", once whoever it paged (a Slack
# webhook's channel, the console, PagerDuty).
PER_PERSON = frozenset({"email", "webhook"})
PHONE = frozenset({"sms", "voice"})

Paged = tuple[str, str, dict[str, str]]  # channel, target, recipient


def reach(channel_type: str, app: bool = False) -> str:
    """How a channel of ``channel_type`` reaches people (``app``: a Slack app, whose pages to a
    person are their direct messages): "person", "phone" or "channel"."""
    if channel_type in PHONE:
        return "phone"
    if channel_type in PER_PERSON or (channel_type == "slack" and app):
        return "person"
    return "channel"


def audience(
    paged: Iterable[Paged],
    reaches: Mapping[str, str],
    told: list[str],
    kind: str = "",
    actor: str | None = None,
) -> list[Paged]:
    """Of everyone paged (``paged``, in order; ``reaches``: each configured channel's
    ``reach``), who is told a message of ``kind`` that is not told through ``told`` (the
    incident's channels) already: once per person on a channel that addresses people, once
    per channel on the others; on a phone, not the person who did it (``actor``) and no
    commands' output; a channel no longer configured is left out."""
    out: list[Paged] = []
    seen: set[tuple[str, str]] = {(channel, "") for channel in told}
    for channel, target, recipient in paged:
        how = reaches.get(channel)
        if how is None:
            continue
        person = recipient.get("name", "") if how != "channel" else ""
        if how == "phone" and (kind == DIAGNOSTICS_KIND or (actor and person == actor)):
            continue
        if (channel, person) in seen:
            continue
        seen.add((channel, person))
        out.append((channel, target, recipient))
    return out


MAX_DIAGNOSTICS = 3
MAX_ALERTS = 50
MAX_SUMMARY_CHARS = 1000
MAX_CODE_CHARS = 1500
MAX_OTHER_STEPS = 12
MAX_LINK_CHARS = 2000


@dataclass(frozen=True)
class Totals:
    """How many of an incident's alerts fire (muted ones included, as a message lists them)
    and how many are resolved, whatever the message lists (at most ``MAX_ALERTS``)."""

    firing: int
    resolved: int


def totals(members: Mapping[str, Alert], when: datetime, counted: Tally | None = None) -> Totals:
    """The one counting rule of a message. ``members`` are all the incident's alerts, or,
    when a flush went by the incident's tally (``counted``, ``incidents.tally``), only a view
    of them (the first by fingerprint, those named and those that changed): then the tally
    counts them all. With a tally, firing is every unresolved alert (firing or muted) and
    resolved those resolved after a flush sent them as firing (an alert that ended before any
    flush saw it is in no count of the tally); never fewer than the view itself holds."""
    firing = sum(1 for a in members.values() if not a.resolved(when))
    resolved = len(members) - firing
    if counted is None:
        return Totals(firing, resolved)
    return Totals(max(counted.unresolved, firing), max(counted.resolved, resolved))


def shown(members: Mapping[str, Alert], when: datetime) -> list[Alert]:
    """The alerts a message is about: those firing at ``when``, else all of them."""
    firing = [a for a in members.values() if not a.resolved(when)]
    return firing or list(members.values())


# Labels a person tells a group's alerts apart by, first: Alertmanager sorts a group's alerts
# so (``types.AlertSlice``) before it notifies.
_FIRST_LABELS = ("job", "instance")


def listing_order(labels: Mapping[str, str]) -> tuple[Any, ...]:
    """The order a message lists alerts in, Alertmanager's: by ``job``, then ``instance``
    (an alert without one after those with it), then by all the labels (fewer labels first,
    then label by label in name order, values compared as text)."""
    first = tuple((0, labels[n]) if n in labels else (1, "") for n in _FIRST_LABELS)
    return (*first, len(labels), sorted(labels.items()))


def listed(members: Mapping[str, Alert], view: bool = False) -> list[tuple[str, Alert]]:
    """The alerts a message lists (at most ``MAX_ALERTS``), in ``listing_order``. Of all the
    incident's alerts, the first in that order; of a ``view`` (a big group's flush read only
    some, ``engine/flush._by_tally``), its first by fingerprint, which are the group's: the
    store reads them by its index without reading the group (``repo.members_by_fingerprint``;
    a group's first by labels would need all of its labels read and sorted), put in order."""
    items: Iterable[tuple[str, Alert]] = members.items()
    if view:
        items = sorted(items)[:MAX_ALERTS]
    return heapq.nsmallest(MAX_ALERTS, items, key=lambda i: (listing_order(i[1].labels), i[0]))


def alerts_json(
    members: Mapping[str, Alert], when: datetime, view: bool = False
) -> list[dict[str, Any]]:
    """The alerts as a message carries them (``listed``); a ``runbook_url`` annotation that
    is no http(s) link (``own_link``) is left out."""
    out = []
    for fp, a in listed(members, view):
        item = alert_json(fp, a, when=when)
        if a.generator_url:  # what a Go template's .GeneratorURL reads
            item["generator_url"] = a.generator_url
        out.append(item)
    for item in out:
        annotations = item.get("annotations") or {}
        if "runbook_url" in annotations and own_link(annotations["runbook_url"]) is None:
            item["annotations"] = {k: v for k, v in annotations.items() if k != "runbook_url"}
    return out


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
    counted: Totals | None = None,
) -> str:
    """What happened to the incident, said as it is: who resolved or acknowledged it and
    when, and how many of its alerts still fire (``counted``: all of them, when ``members``
    is a view; ``totals``); "" for the kinds that page (their summary is the alerts')."""
    if kind not in ("resolved", "acknowledged"):
        return ""
    total = counted or totals(members, when)
    firing = [a for a in members.values() if not a.resolved(when)]
    every = total.firing + total.resolved
    at = format_time(acted_at or when)
    names = sorted({a.name or "alert" for a in firing})
    more = len(names) > 5 or total.firing > len(firing)
    still = (
        f"{count(total.firing, 'alert')} still firing ({', '.join(names[:5])}"
        + (", …" if more else "")
        + ")"
    )
    if kind == "resolved":
        if status != "resolved":  # the route keeps it open for a person
            return (
                f"All {count(every, 'alert')} ended at {at}; the incident stays open until"
                " a person resolves it."
            )
        if actor is None:
            all_of = "the alert" if every == 1 else f"all {count(every, 'alert')}"
            return f"Resolved automatically at {at}: {all_of} ended."
        line = f"Resolved by {actor} at {at}."
        if total.firing:
            return (
                f"{line} {still}: the incident is closed, but a new one opens when"
                " the alerts are sent again."
            )
        ended_text = "The alert" if total.resolved == 1 else f"All {count(total.resolved, 'alert')}"
        return f"{line} {ended_text} had ended."
    by = f" by {actor}" if actor else ""  # acknowledged
    line = f"Acknowledged{by} at {at}; "
    return line + (
        f"{count(total.firing, 'alert')} firing." if total.firing else "no alert fires now."
    )


def summary(
    members: Mapping[str, Alert],
    when: datetime,
    kind: str = "firing",
    status: str = "triggered",
    actor: str | None = None,
    acted_at: datetime | None = None,
    counted: Totals | None = None,
) -> str:
    """What the message says in one place: for a resolution or an acknowledgement, the state
    line (``state_line``), then, while alerts fire, their first summary; for the rest, the
    first summary (else description) among the alerts shown, else "". Never a count alone:
    every message says its counts apart (``firing_total``, ``resolved_total``: "Alerts: 1,100
    firing, 0 resolved"), and a summary that only repeated them ("1,100 alerts firing") said
    them twice. ``counted``: all the incident's alerts, when ``members`` is a view
    (``totals``)."""
    firing = (counted or totals(members, when)).firing
    line = state_line(kind, status, members, when, actor, acted_at, counted)
    own = _alerts_summary(members, when)
    if not line:
        return own[:MAX_SUMMARY_CHARS]
    text = f"{line}\n{own}" if own and firing and kind != "resolved" else line
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
    actor: str | None = None,
    acted_at: datetime | None = None,
    counted: Tally | None = None,
) -> dict[str, Any]:
    """The message of ``kind`` for an incident, as the outbox stores it, with the default
    title (a configured title template is applied over it by the engine). A resolution or an
    acknowledgement says who did it (``actor``; None: tocsin itself) and when; a resolution
    carries no first checks and no other steps (nothing is left to check). ``members`` are
    all the incident's alerts, or a view of them when ``counted`` (the incident's tally) is
    given: the message lists at most ``MAX_ALERTS`` (``listed``) and counts them all
    (``totals``)."""
    shown_status = status if status != "pending" else "triggered"
    total = totals(members, when, counted)
    title = (
        title_of(group_labels, counted.names)
        if counted is not None and counted.names
        else incident_title(group_labels, shown(members, when))
    )
    message: dict[str, Any] = {
        "kind": kind,
        "incident_id": incident_id,
        "title": title,
        "status": shown_status,
        "severity": severity,
        "summary": summary(members, when, kind, shown_status, actor, acted_at, total),
        "group_labels": group_labels,
        "alerts": alerts_json(members, when, view=counted is not None),
        "firing_total": total.firing,
        "resolved_total": total.resolved,
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
        "acted_at": format_time(acted_at) if acted_at is not None else None,
    }
    message.update(runbook)
    # nothing is left to check or do; or the checks ran and this message is their output
    if kind in ("resolved", DIAGNOSTICS_KIND):
        message["diagnostics"] = []
        message["other_steps"] = []
    return message


DIAGNOSTICS_LINES = 15  # lines of each run's output in the follow-up message
DIAGNOSTICS_CHARS = 6000  # the whole follow-up's text
DIAGNOSTICS_LINE_CHARS = 200  # a line of output in it


def diagnostics_text(done: list[Mapping[str, Any]], link: str = "") -> str:
    """The follow-up message's text: each diagnostic run (``step``, ``risk``, ``language``,
    ``command``, ``result``, ``exit_code``, ``duration_s``, ``output``, ``truncated``,
    ``error``, ``target``) with the first lines of its output, bounded; the rest is on the
    incident's page (``link``)."""
    parts: list[str] = []
    used = 0
    for i, run in enumerate(done):
        command = str(run.get("command") or "").strip()
        first = command.splitlines()[0] if command else ""
        more = " …" if len(command.splitlines()) > 1 else ""
        code = exit_said(str(run.get("target") or ""), run.get("exit_code"))
        took = run.get("duration_s")
        took_text = f", {seconds_said(took)}" if isinstance(took, int | float) else ""
        where = f" on {run['target']}" if run.get("target") else ""
        head = (
            f"Step {run.get('step')} ({run.get('risk')}, {run.get('language') or 'plain'})"
            f"{where}: {run.get('result')}{code}{took_text}\n$ {first}{more}"
        )
        lines = str(run.get("output") or "").rstrip("\n").splitlines()
        body = [
            line
            if len(line) <= DIAGNOSTICS_LINE_CHARS
            else line[: DIAGNOSTICS_LINE_CHARS - 1] + "…"
            for line in lines[:DIAGNOSTICS_LINES]
        ]
        if len(lines) > DIAGNOSTICS_LINES or run.get("truncated"):
            body.append(f"… more on the incident's page ({count(len(lines), 'line')} kept)")
        if run.get("error"):
            body.append(f"error: {run['error']}")
        block = head + ("\n" + "\n".join(body) if body else "\n(no output)")
        block = block if len(block) <= DIAGNOSTICS_CHARS else block[: DIAGNOSTICS_CHARS - 1] + "…"
        if used + len(block) > DIAGNOSTICS_CHARS and parts:
            rest = len(done) - i
            parts.append(f"… {count(rest, 'more run')} on the incident's page")
            break
        parts.append(block)
        used += len(block)
    ran = count(len(done), "diagnostic")
    intro = f"{ran} from the runbook ran by themselves."
    tail = f"\n\nAll output: {link}" if link else ""
    return intro + "\n\n" + "\n\n".join(parts) + tail
