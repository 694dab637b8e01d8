"""How an incident is described to people (pure): its title, what its alerts share, and each
event of its timeline as a sentence (``event_sentence``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tocsin.alerts.model import Alert
from tocsin.oncall.escalation import FIRST_PAGE, PAGE_KINDS
from tocsin.times import Zone, format_duration, format_time, parse_time
from tocsin.words import count, number


def common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """The pairs every map has (Alertmanager's CommonLabels / CommonAnnotations)."""
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def incident_title(group_labels: dict[str, str], alerts: list[Alert]) -> str:
    """``AlertName label=value …`` from the group labels, naming the alert when the group
    does not."""
    return title_of(group_labels, {a.name for a in alerts})


def title_of(group_labels: dict[str, str], alert_names: Iterable[str]) -> str:
    """``incident_title`` from the names of the alerts (a storm's flush counts them instead
    of reading every alert, ``incidents.tally``)."""
    names = sorted({name for name in alert_names if name})
    head = group_labels.get("alertname") or (names[0] if len(names) == 1 else "")
    if not head:
        head = f"{len(names)} alerts" if names else "alerts"
    rest = " ".join(f"{k}={v}" for k, v in sorted(group_labels.items()) if k != "alertname")
    return f"{head} {rest}".strip()[:200]


# --- the timeline as sentences --------------------------------------------------------------
#
# One sentence per timeline event, for everything a person reads: the postmortem's timeline,
# ``tocsin incident show``, the CLI and ``tocsin simulate``'s table. Plain text: each front
# end escapes it for where it goes (a terminal, a Markdown cell). Never raw JSON.

# The kinds of the timeline, as the pipeline and the people's actions write them
# (docs/response.md), and those ``tocsin simulate`` adds to its own.
TIMELINE_KINDS = (
    "opened",
    "alert_fired",
    "alert_resolved",
    "silenced",
    "inhibited",
    "alerts_changed",
    "group_flushed",
    "triggered",
    "severity_raised",
    "escalated",
    "escalation_exhausted",
    "deadline_missed",
    "notified",
    "attempt_failed",
    "notify_failed",
    "phone_failed",
    "held_back",
    "held_summary",
    "notifications_cancelled",
    "contact_skipped",
    "acknowledged",
    "ack_expired",
    "resolved",
    "reopened",
    "alerts_resolved",
    "note",
    "assigned",
    "runbook_opened",
    "status_update",
    "update_reminder",
    "action_item",
    "postmortem_status",
    "duty_reminder",
    "storm_started",
    "storm_held",
    "storm_update",
    "storm_acknowledged",
    "storm_ack_expired",
    "storm_handed_over",
    "storm_lead",
    "storm_ended",
    "paging_held",
    "paging_resumed",
    "run_requested",
    "run_approved",
    "run_refused",
    "run_started",
    "run_finished",
)
SIMULATION_KINDS = ("override", "action_refused")

MAX_SENTENCE = 500  # a sentence is one line of a table, not a document


def _text(value: object) -> str:
    """A value inside a sentence: one line; lists joined with commas; mappings as
    ``key value`` pairs (never braces)."""
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return ", ".join(f"{_text(k)} {_text(v)}".strip() for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(_text(v) for v in value)
    return " ".join(str(value).split())


def _who(target: object) -> str:
    """A target as people say it: ``schedule:primary`` -> ``schedule primary``."""
    text = _text(target)
    kind, _, name = text.partition(":")
    return f"{kind} {name}" if name and kind in ("user", "schedule", "team", "channel") else text


def _list(value: object) -> list[Any]:
    """A list in an event's detail, or none (a detail of another shape is read as empty)."""
    return value if isinstance(value, list) else []


def _number(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _alerts(alerts: object, limit: int = 5, more: int = 0) -> str:
    """Alerts of a flush: ``DatabaseDown service=pebble-db, …`` (names and labels; ``more``:
    how many there are in all, when the list names only the first few)."""
    names: list[str] = []
    for a in alerts if isinstance(alerts, list) else []:
        labels = a.get("labels", {}) if isinstance(a, Mapping) else {}
        labels = labels if isinstance(labels, Mapping) else {}
        rest = " ".join(
            f"{k}={_text(v)}"
            for k, v in sorted(labels.items())
            if k not in ("alertname", "severity")
        )
        names.append(f"{_text(labels.get('alertname')) or 'alert'} {rest}".strip())
    total = max(more, len(names))
    shown = min(limit, len(names))
    more_text = f" and {number(total - shown)} more" if total > shown else ""
    return ", ".join(names[:limit]) + more_text


_CHANGES = (
    ("fired", "alert_fired", "fired"),
    ("resolved", "alert_resolved", "resolved"),
    ("silenced", "silenced", "silenced"),
    ("inhibited", "inhibited", "inhibited"),
)


def _changed(d: Mapping[str, Any], zone: Zone) -> str:
    """A flush's changes: one alert's as its own sentence (``HighErrorRate service=api
    fired``); more as counts with the first few named (``3 alerts fired: A, B, C; 1
    resolved: D; 12 still firing``)."""
    named = [a for a in _list(d.get("alerts")) if isinstance(a, Mapping)]
    counts = {key: _number(d.get(key), 0) for key, _, _ in _CHANGES}
    if sum(counts.values()) == 1 and len(named) == 1:
        entry = named[0]
        return known_sentence(_text(entry.get("kind")), entry, zone) or "An alert changed"
    parts: list[str] = []
    for key, kind, verb in _CHANGES:
        if not counts[key]:
            continue
        these = [
            {"labels": {"alertname": a.get("alertname") or "", **(a.get("labels") or {})}}
            for a in named
            if a.get("kind") == kind and isinstance(a.get("labels") or {}, Mapping)
        ]
        listed = f": {_alerts(these, more=counts[key])}" if these else ""
        noun = count(counts[key], "alert") + " " if not parts else f"{number(counts[key])} "
        parts.append(f"{noun}{verb}{listed}")
    still = d.get("still_firing")
    if isinstance(still, int) and not isinstance(still, bool) and parts:
        parts.append(f"{number(still)} still firing")
    return "; ".join(parts) if parts else "Alerts changed"


def _paged(paged: object) -> str:
    """Who a step paged on which channels: ``carol (slack, email), dan (pager)``."""
    if isinstance(paged, Mapping):
        out = []
        for person, channels in paged.items():
            name = _who(person)
            if name.startswith("channel "):
                out.append(name)  # a channel target: the channel is the name
            else:
                out.append(f"{name} ({_text(channels)})" if channels else name)
        return ", ".join(out)
    return _text(paged)


def _span(value: object) -> str:
    return format_duration(float(value)) if isinstance(value, int | float) else "?"


def _at(value: object, zone: Zone) -> str:
    """A time in a detail (epoch seconds or ISO 8601) as people read it."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_time(float(value), zone)
    if isinstance(value, str):
        try:
            return format_time(parse_time(value), zone)
        except ValueError:
            return _text(value)
    return "?"


def event_sentence(kind: str, detail: Mapping[str, Any] | None, zone: Zone = None) -> str:
    """One sentence for a timeline event of ``kind`` with its ``detail``: ``Runbook opened
    by ana``, ``Assigned to ben by ana``, ``Escalated to step 2: paged carol (slack,
    email)``. Times in it are in ``zone`` (UTC by default). A kind it does not know reads as
    its name and its plain values, never as JSON."""
    d: Mapping[str, Any] = detail if isinstance(detail, Mapping) else {}
    text = known_sentence(kind, d, zone)
    if text is None:
        rest = "; ".join(
            f"{k.replace('_', ' ')} {_text(v)}"
            for k, v in d.items()
            if _text(v) and k != "fingerprint"
        )
        text = kind.replace("_", " ").capitalize() + (f": {rest}" if rest else "")
    return text if len(text) <= MAX_SENTENCE else text[: MAX_SENTENCE - 1] + "…"


def _storm(kind: str, d: Mapping[str, Any], by: str) -> str | None:
    """The sentences of an alert storm (``engine/storm.py``)."""
    storm = f"storm {_text(d.get('storm')) or '?'}"
    lead = f"incident #{_text(d.get('lead')) or '?'}"
    if kind == "storm_started":
        window = f" in {_span(d['window_s'])}" if d.get("window_s") is not None else ""
        over = f"more than {_text(d['incidents'])} incidents{window}" if d.get("incidents") else ""
        route = f" on route {_text(d['route'])}" if d.get("route") else ""
        said = f"Alert {storm} started{route}" + (f": {over}" if over else "")
        return f"{said}; this incident pages for it and its messages are the digest"
    if kind == "storm_held":
        held = f" ({_text(d['held'])} held)" if d.get("held") is not None else ""
        return f"Held in {storm}{held}: paged as one digest through {lead}, not on its own"
    if kind == "storm_update":
        channels = f" to {_text(d['channels'])}" if d.get("channels") else ""
        held = f" ({_text(d['held'])} held)" if d.get("held") is not None else ""
        return f"Digest of {storm} updated{held}{channels}"
    if kind == "storm_acknowledged":
        covered = count(_number(d.get("covered"), 0), "held incident")
        return f"Acknowledged{by} for {storm}: {covered} acknowledged with it"
    if kind == "storm_ack_expired":
        waiting = count(_number(d.get("waiting"), 0), "held incident")
        return f"Acknowledgement of {storm} lapsed: {waiting} wait again with this one"
    if kind == "storm_handed_over":
        return f"Resolved before {storm} was acknowledged: incident #{_text(d.get('to'))} leads it"
    if kind == "storm_lead":
        return f"Leads {storm} now (incident #{_text(d.get('after'))} resolved): paging for it"
    if kind == "storm_ended":
        return f"Alert {storm} ended: nothing held waits for an acknowledgement"
    return None


def _hold(d: Mapping[str, Any]) -> str:
    """What holds an incident's pages (``routing/hold.Hold.detail``), in words."""
    if d.get("reason") == "maintenance":
        until = f" (until {_at(d['until'], None)})" if d.get("until") is not None else ""
        return f"maintenance window {_text(d.get('window')) or '?'}{until}"
    names = [_text(n) for n in _list(d.get("intervals"))]
    return ("time interval " if len(names) == 1 else "time intervals ") + (", ".join(names) or "?")


def exit_said(target: str, code: object) -> str:
    """A run's exit status as it reads: ``, exit 1`` for a process, ``, HTTP 503`` for an
    HTTP check (its target is ``http …``), nothing without one."""
    if code is None:
        return ""
    return f", HTTP {code}" if target.startswith("http ") else f", exit {code}"


def seconds_said(seconds: float) -> str:
    """A command's duration: ``40 ms`` under a second, ``2.5 s`` under a minute."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.1f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def _run(kind: str, d: Mapping[str, Any], by: str) -> str | None:
    """The sentences of a runbook command's run (``store/runs.py``)."""
    step = f"step {_text(d.get('step')) or '?'}"
    raw = d.get("command")
    lines = raw.strip().splitlines() if isinstance(raw, str) else []
    command = _text(lines[0]) + (" …" if len(lines) > 1 else "") if lines else ""
    shown = f": {command}" if command else ""
    if kind == "run_requested":
        who = " by itself (auto-diagnose)" if d.get("automatic") else by
        return f"Run of {step} ({_text(d.get('risk')) or '?'}) asked{who}{shown}"
    if kind == "run_approved":
        return f"Run of {step} approved{by}{shown}"
    if kind == "run_refused":
        reason = _text(d.get("reason")) or "no reason given"
        return f"Run of {step} refused{by}: {reason}"
    if kind == "run_started":
        target = f" on {_text(d['target'])}" if d.get("target") else ""
        return f"Run of {step} started{target}{shown}"
    if kind == "run_finished":
        result = _text(d.get("result")) or "?"
        code = exit_said(_text(d.get("target")), d.get("exit_code"))
        took = ""
        if isinstance(d.get("duration_s"), int | float):
            took = f" in {seconds_said(float(d['duration_s']))}"
        error = f": {_text(d['error'])}" if d.get("error") else ""
        return f"Run of {step} finished {result}{code}{took}{error}"
    return None


def _carried(d: Mapping[str, Any]) -> str:
    """What a delivery carried: its message kind, but a person's first page (kind
    ``firing`` to a person, not to a channel) is a "page"."""
    what = _text(d.get("kind")) or "message"
    target = _text(d.get("target"))
    to_person = bool(d.get("recipient")) or bool(target and not target.startswith("channel:"))
    return "page" if what == FIRST_PAGE and to_person else what


def known_sentence(kind: str, d: Mapping[str, Any], zone: Zone = None) -> str | None:
    """The sentence of a kind this module knows, None for another."""
    by = f" by {_text(d['by'])}" if d.get("by") else ""
    reason = f": {_text(d['reason'])}" if d.get("reason") else ""
    if kind == "opened":
        receiver = f" for receiver {_text(d['receiver'])}" if d.get("receiver") else ""
        return f"Incident opened{receiver}"
    if kind in ("alert_fired", "alert_resolved", "silenced", "inhibited"):
        name = _text(d.get("alertname")) or "An alert"
        if "labels" in d and isinstance(d["labels"], Mapping):  # named by what tells it apart
            name = _alerts([{"labels": {"alertname": name, **d["labels"]}}])
        if kind == "silenced":
            return f"{name} silenced (by silence {_text(d.get('silenced_by')) or '?'})"
        if kind == "inhibited":
            named = d.get("inhibiting")  # the inhibiting alerts named (a postmortem's fold)
            if isinstance(named, list) and named:
                return f"{name} inhibited by {', '.join(_text(x) for x in named[:5])}"
            return f"{name} inhibited (by {count(len(_list(d.get('inhibited_by'))), 'alert')})"
        if "labels" in d and isinstance(d["labels"], Mapping):
            joined = ", ".join(f"#{_text(i)}" for i in _list(d.get("incidents")))
            verb = "fired" if kind == "alert_fired" else "resolved"
            return f"{name} {verb}" + (f" (incident {joined})" if joined else "")
        return f"{name} {'fired' if kind == 'alert_fired' else 'resolved'}"
    if kind == "alerts_changed":
        return _changed(d, zone)
    if kind == "group_flushed":
        firing, resolved = _list(d.get("firing")), _list(d.get("resolved"))
        parts = []
        if firing:
            total = _number(d.get("firing_count"), len(firing))
            parts.append(f"{number(total)} firing: {_alerts(firing, more=total)}")
        if resolved:
            total = _number(d.get("resolved_count"), len(resolved))
            parts.append(f"{number(total)} resolved: {_alerts(resolved, more=total)}")
        if d.get("muted"):
            muted = _number(d.get("muted_count"), len(_list(d["muted"])))
            parts.append(f"{number(muted)} muted")
        said = "Alerts sent to the channels"
        if d.get("held_in") is not None:  # an incident held in an alert storm tells nobody
            said = f"Alerts recorded; held in storm {_text(d['held_in'])}, no message sent"
        elif isinstance(d.get("paging_held"), Mapping):  # a time interval, maintenance
            said = f"Alerts recorded; paging held by {_hold(d['paging_held'])}, no message sent"
        return said + (f" ({'; '.join(parts)})" if parts else "")
    if kind == "paging_held":
        return f"Paging held by {_hold(d)}: alerts kept, nobody paged"
    if kind == "paging_resumed":
        return f"Paging resumed: no longer held by {_hold(d)}"
    if kind == "triggered":
        policy = d.get("policy")
        how = f"escalation policy {_text(policy)}" if policy else "no escalation policy"
        channels = f", channels {_text(d['channels'])}" if d.get("channels") else ""
        return f"Triggered at severity {_text(d.get('severity')) or 'none'}, {how}{channels}"
    if kind == "severity_raised":
        return f"Severity raised from {_text(d.get('from')) or 'none'} to {_text(d.get('to'))}"
    if kind == "escalated":
        step = _text(d.get("step")) or "?"
        rnd = d.get("round")
        where = f"step {step}" + (f", round {rnd}" if isinstance(rnd, int) and rnd > 1 else "")
        if "paged" in d:
            who = f"paged {_paged(d['paged'])}" if d["paged"] else "nobody could be paged"
            if d.get("later"):  # people's rules that page them later
                now = f"paged {_paged(d['paged'])}" if d["paged"] else "nobody paged yet"
                who = f"{now}; later: {_paged(d['later'])}"
        else:
            who = f"paged {', '.join(_who(t) for t in _list(d.get('targets'))) or 'nobody'}"
        if d.get("reason") == "started":
            policy = f"Escalation policy {_text(d['policy'])}" if d.get("policy") else "Escalation"
            return f"{policy} started at {where}: {who}"
        why = f" ({_text(d['reason'])})" if d.get("reason") and not by else ""
        return f"Escalated to {where}{by}{why}: {who}"
    if kind == "escalation_exhausted":
        policy = f" {_text(d['policy'])}" if d.get("policy") else ""
        return f"Escalation policy{policy} exhausted: no step left"
    if kind == "deadline_missed":
        within = f" within {_span(d['deadline_s'])}" if d.get("deadline_s") is not None else ""
        severity = _text(d.get("severity")) or "no severity"
        return f"Not acknowledged{within}: the {severity} deadline was missed"
    if kind == "notified":
        what = _text(d.get("kind")) or "message"
        to = d.get("recipient") or (
            _who(d["target"])
            if d.get("target") and not _text(d["target"]).startswith("channel:")
            else ""
        )
        via = f" via {_text(d['channel'])}" if d.get("channel") else ""
        attempt = d.get("attempt")
        tries = f", attempt {attempt}" if isinstance(attempt, int) and attempt > 1 else ""
        fallback = " (fallback)" if d.get("fallback_of") else ""
        if what in PAGE_KINDS and to:  # a step's page to a person: the first, or a later
            target = _text(d.get("target"))
            through = (
                f" ({target})" if d.get("recipient") and target not in ("", f"user:{to}") else ""
            )
            return f"Paged {_text(to)}{through}{via}{tries}{fallback}"
        return f"Sent {what}" + (f" to {_text(to)}" if to else "") + f"{via}{tries}{fallback}"
    if kind == "held_back":
        what = _text(d.get("kind")) or "message"
        limit = f" (limit {_text(d['limit'])})" if d.get("limit") else ""
        return (
            f"Held back {what} to {_text(d.get('person'))} on {_text(d.get('channel'))}"
            f"{limit}: in a summary later"
        )
    if kind == "notifications_cancelled":
        n = _number(d.get("count"), len(_list(d.get("cancelled"))))
        who = f": {_text(d['said'])}" if d.get("said") else ""
        return f"{count(n, 'later notification')} cancelled{who}"
    if kind == "contact_skipped":
        via = f" ({_text(d['channel'])})" if d.get("channel") else ""
        why = _text(d.get("reason")) or "not usable"
        return f"Did not page {_text(d.get('person'))} by {_text(d.get('contact'))}{via}: {why}"
    if kind == "held_summary":
        held = int(d["held"]) if isinstance(d.get("held"), int) else 0
        total = int(d["total"]) if isinstance(d.get("total"), int) else held
        return (
            f"Summed up {count(total, 'held message')} for {_text(d.get('person'))} on"
            f" {_text(d.get('channel'))} in one message ({held} of this incident)"
        )
    if kind == "notify_failed":
        if not d.get("channel"):
            return f"Could not page: {_text(d.get('reason')) or 'unknown reason'}"
        what = _carried(d)
        to = d.get("recipient") or (_who(d["target"]) if d.get("target") else "")
        to_text = f" to {_text(to)}" if to else ""
        tries = count(int(d["attempts"]), "attempt") if isinstance(d.get("attempts"), int) else ""
        error = f": {_text(d['error'])}" if d.get("error") else ""
        fallback = f"; falling back to {_text(d['fallback'])}" if d.get("fallback") else ""
        after = f" after {tries}" if tries else ""
        return (
            f"Delivery of {what}{to_text} via {_text(d['channel'])} failed{after}{error}{fallback}"
        )
    if kind == "phone_failed":  # a gateway's status callback: not delivered, not answered
        what = "Call" if d.get("medium") == "voice" else "SMS"
        to = _text(d.get("person")) or "?"
        digits = f" ({_text(d['number'])})" if d.get("number") else ""
        code = f", error {_text(d['error_code'])}" if d.get("error_code") else ""
        via = f" via {_text(d['channel'])}" if d.get("channel") else ""
        return f"{what} to {to}{digits}{via} not delivered: {_text(d.get('status')) or '?'}{code}"
    if kind == "attempt_failed":
        status = f"status {_text(d['status'])}" if d.get("status") else "no answer"
        if d.get("error"):
            status += f": {_text(d['error'])}"
        via = f" via {_text(d['channel'])}" if d.get("channel") else ""
        attempt = _text(d.get("attempt")) or "?"
        what = _carried(d)
        return f"Attempt {attempt} of {what}{via} failed ({status}), will retry"
    if kind == "acknowledged":
        return f"Acknowledged{by}" + (f" via {_text(d['via'])}" if d.get("via") else "")
    if kind == "ack_expired":
        who = f" by {_text(d['acknowledged_by'])}" if d.get("acknowledged_by") else ""
        return f"Acknowledgement{who} lapsed: paging again"
    if kind == "resolved":
        return f"Resolved{by}{reason}" + (f" via {_text(d['via'])}" if d.get("via") else "")
    if kind == "reopened":
        return f"Reopened{by}{reason}"
    if kind == "alerts_resolved":
        return "All alerts resolved; the incident stays open until a person resolves it"
    if kind == "note":
        return f"Note{by}: {_text(d.get('text'))}"
    if kind == "assigned":
        parts = []
        for role, verb in (("assignee", "Assigned to"), ("commander", "Commander set to")):
            if role in d:
                parts.append(
                    f"{verb} {_text(d[role])}" if d[role] else f"{role.capitalize()} cleared"
                )
        return (", ".join(parts) or "Assignment changed") + by
    if kind.startswith("run_"):
        return _run(kind, d, by)
    if kind == "runbook_opened":
        section = f" ({_text(d['section'])})" if d.get("section") else ""
        return f"Runbook opened{by}{section}"
    if kind == "status_update":
        stage = f" ({_text(d['stage'])})" if d.get("stage") else ""
        message = _text(d.get("message") or d.get("text"))
        return f"Status update{stage}{by}" + (f": {message}" if message else "")
    if kind == "update_reminder":
        silent = f" for {_span(d['silent_s'])}" if d.get("silent_s") is not None else ""
        every = f" (one is due every {_span(d['every_s'])})" if d.get("every_s") else ""
        channels = f"; reminded {_text(d['channels'])}" if d.get("channels") else ""
        return f"No status update{silent}{every}{channels}"
    if kind == "action_item":
        due = f", due {_at(d['due'], zone)}" if d.get("due") is not None else ""
        owner = f"owner {_text(d['owner'])}" if d.get("owner") else "no owner"
        return (
            f"Action item #{_text(d.get('id')) or '?'} {_text(d.get('change')) or 'changed'}{by}: "
            f"{_text(d.get('title'))} ({owner}{due})"
        )
    if kind == "postmortem_status":
        was = f" (was {_text(d['from'])})" if d.get("from") else ""
        return f"Postmortem {_text(d.get('status')) or 'changed'}{by}{was}"
    if kind == "duty_reminder":
        due = f", due {_at(d['due'], zone)}" if d.get("due") is not None else ""
        what = _text(d.get("title") or d.get("duty")) or "a duty"
        return f"Reminded {_text(d.get('owner')) or 'nobody'}: {what} (#{_text(d.get('id'))}{due})"
    if kind.startswith("storm_"):
        return _storm(kind, d, by)
    if kind == "override":
        instead = f" for {_text(d['replaces'])}" if d.get("replaces") else ""
        return (
            f"Override: {_text(d.get('user'))}{instead} on call from {_at(d.get('start'), zone)} "
            f"to {_at(d.get('end'), zone)}{by}"
        )
    if kind == "action_refused":
        return f"{_text(d.get('action')).capitalize() or 'Action'}{by} refused{reason}"
    return None
