"""An incident's postmortem: its context from the record, and Markdown from a template (pure).

The figures (time to acknowledge, time to resolve, pages, escalations, missed deadlines) are
``incidents.figures``'s: one definition for the incident view, the postmortem and the reports.
The Markdown comes from ``DEFAULT_TEMPLATE`` or from the team's own (``postmortem_template:``
in ``tocsin.yaml``), rendered by the one template renderer (``tocsin.templating``: sandboxed,
strict). Times are UTC.

The context a postmortem template sees (``sample_context`` has the same keys):

- ``incident``: ``{id, title, severity, status, stage, assignee, commander, opened_at,
  triggered_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by, group_labels,
  url, postmortem_status}``, times as ``2027-01-15 08:00:00 UTC`` strings (or None);
  ``postmortem_status`` is draft, in-review or published
- ``alerts``: each ``{name, labels, labels_text, annotations, starts_at, ends_at, firing}``
- ``impact``: the alerts' distinct ``impact`` annotations, else their ``summary``, else their
  ``description`` (a list of strings, maybe empty)
- ``runbook_impact``: the Impact sections of the alerts' runbook sections, each ``{alerts,
  runbook, section, text}``; ``runbooks``: those sections, each ``{alerts, runbook, section,
  url}``
- ``detection``: ``{alert_started_at, first_page_at, time_to_detect}``: from the first alert's
  start to the first page (to a person; else the first message), as text (or None)
- ``related``: other incidents of the same group in the ``related_days`` (``RELATED_DAYS``)
  before it, newest first, each ``{id, title, severity, status, opened_at}``
- ``timeline``: rows ``{at, offset, kind, what}`` (``at`` UTC without the zone, ``offset``
  from the opening, ``what`` a sentence naming the people paged, with no fingerprint and each
  alert named by its alertname and the labels that tell it from the incident's other
  alerts), oldest first; ``timeline_omitted``: rows left out past ``MAX_ROWS``
- ``figures``: ``incidents.figures.Figures`` as a mapping (seconds, counts) and ``durations``:
  ``{time_to_acknowledge, time_to_resolve}`` as text ("7 min 0 s", or None)
- ``last_status_update``: ``{at, stage, message}`` or None
- ``action_items``: each ``{id, title, owner, due, status, overdue, created_by, duty}``
  (``duty``: report, postmortem or meeting for the post-incident duties, else None)
- ``generated_at``: when the postmortem was generated
- functions: ``cell(text)`` escapes text for a Markdown table cell (pipes, newlines, ``<``);
  ``link(url)`` an http(s) URL as ``<url>``, anything else as prose;
  ``one_line(text)`` collapses whitespace, ``prose(text)`` and ``paragraph(text)`` make
  untrusted text safe in Markdown; ``format_duration(seconds)`` prints "7 min 0 s".

The rendered Markdown passes through ``templating.printable``: a control character from a
label, a note or a name (ESC, BEL, CR, C1, DEL) is shown as an escape (``\\x1b``), never
written, whatever the template.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tocsin.alerts.model import Alert
from tocsin.incidents.describe import event_sentence, incident_title
from tocsin.incidents.figures import Event, figures
from tocsin.templating import (
    Template,
    TemplateError,
    compile_template,
    one_line,
    printable,
    render,
)
from tocsin.times import format_duration

MAX_ROWS = 1000  # timeline rows in one postmortem; the rest are counted, not listed
MAX_CHARS = 2_000_000
RELATED_DAYS = 30  # related incidents: the same group, opened this many days before
MAX_RELATED = 10
ACTION_STATUSES = ("open", "done", "cancelled")
POSTMORTEM_STATUSES = ("draft", "in-review", "published")


@dataclass(frozen=True)
class ActionItem:
    """A follow-up from an incident's review. Times in epoch seconds."""

    id: int
    incident_id: int
    title: str
    owner: str
    due_at: float
    status: str  # open | done | cancelled
    created_at: float
    created_by: str
    closed_at: float | None = None
    duty: str | None = None  # report | postmortem | meeting: a post-incident duty (config)
    remind_at: float | None = None  # when its owner is reminded (None: not, or done)

    def overdue(self, now: float) -> bool:
        return self.status == "open" and self.due_at < now

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "incident_id": self.incident_id,
            "title": self.title,
            "owner": self.owner,
            "due_at": iso(self.due_at),
            "status": self.status,
            "overdue": self.overdue(now),
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
            "closed_at": iso(self.closed_at) if self.closed_at is not None else None,
            "duty": self.duty,
        }


# --- text helpers ---------------------------------------------------------------------------


def iso(ts: float) -> str:
    """RFC 3339 UTC, to the second: ``2027-01-15T08:00:00Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc(ts: float | None) -> str | None:
    """``2027-01-15 08:00:00 UTC`` (None stays None)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def offset(seconds: float) -> str:
    """``+7 min 0 s`` from the incident's start."""
    text = format_duration(seconds)
    return text if text.startswith("-") else f"+{text}"


def cell(text: object) -> str:
    """Untrusted text made safe for one Markdown table cell: ``prose``, with ``|`` escaped."""
    return prose(text).replace("|", "\\|")


_INLINE = str.maketrans(
    {c: "\\" + c for c in "\\`*_[]!"} | {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
)
_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+(?=[.)]))")


def link(url: object) -> str:
    """A link for Markdown: an http(s) URL as an autolink ``<…>`` (spaces and angle brackets
    encoded), anything else (a file path) as ``prose``."""
    text = str(url or "").strip()
    if text.lower().startswith(("https://", "http://")):
        return "<" + text.replace(" ", "%20").replace("<", "%3C").replace(">", "%3E") + ">"
    return prose(text)


def prose(text: object) -> str:
    """Untrusted text (labels, annotations, messages) made safe inside a Markdown line:
    one line, and no emphasis, code, link, image or HTML can start in it."""
    if text is None:
        return ""
    return one_line(str(text)).translate(_INLINE)


def paragraph(text: object) -> str:
    """Untrusted text as a Markdown paragraph: its lines kept, each as ``prose`` and none
    starting a heading, quote, list or rule."""
    if text is None:
        return ""
    lines = [" ".join(line.split()).translate(_INLINE) for line in str(text).splitlines()]
    return "\n".join(_LINE_START.sub(_escape_start, line) for line in lines if line)


def _escape_start(found: re.Match[str]) -> str:
    indent, mark = found.group(1), found.group(2)
    return f"{indent}{mark}\\" if mark[0].isdigit() else f"{indent}\\{mark}"


def _labels_text(labels: Mapping[str, str], skip: Sequence[str] = ("alertname",)) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in skip)


# --- the timeline as sentences --------------------------------------------------------------


def describe_event(event: Event) -> str:
    """One sentence for a timeline row: ``incidents.describe.event_sentence``, the one every
    timeline a person reads uses."""
    return event_sentence(event.kind, event.detail)


# --- what the timeline shows: people, and alerts without fingerprints ----------------------


def _distinguishing(labels: Mapping[str, str], common: Mapping[str, str]) -> dict[str, str]:
    """An alert's labels as a person tells it apart: its alertname and the labels that the
    incident's alerts do not all share."""
    return {
        k: v
        for k, v in labels.items()
        if k == "alertname" or (k != "severity" and common.get(k) != v)
    }


def _folded_alert(value: Any, common: Mapping[str, str]) -> Any:
    if not isinstance(value, Mapping):
        return value
    out = {k: v for k, v in value.items() if k != "fingerprint"}
    if isinstance(value.get("labels"), Mapping):
        out["labels"] = _distinguishing(value["labels"], common)
    return out


def fold(
    event: Event,
    common: Mapping[str, str],
    people: Mapping[int, str],
    labels_of: Mapping[str, Mapping[str, str]] | None = None,
) -> Event:
    """The event as a person reads it: no fingerprint (an alert is named by its alertname
    and distinguishing labels: ``labels_of`` fingerprint -> labels), and a delivery names
    the person it reached (``recipient``, from ``people``: notification id -> name)."""
    known = labels_of or {}
    detail = {k: v for k, v in event.detail.items() if k != "fingerprint"}
    fp = event.detail.get("fingerprint")
    if isinstance(fp, str) and fp in known and "labels" not in detail:
        detail["labels"] = dict(known[fp])
    if isinstance(detail.get("inhibited_by"), list):  # named: describe's ``inhibiting``
        detail["inhibiting"] = [
            _named(known[source], common) if source in known else "an alert outside this incident"
            for source in detail["inhibited_by"]
            if isinstance(source, str)
        ]
        detail["inhibited_by"] = detail["inhibiting"]  # never a fingerprint
    if isinstance(detail.get("alerts"), list):  # a flush's named alerts (alerts_changed)
        detail["alerts"] = [
            fold(Event(event.at, str(a.get("kind", "")), a), common, people, known).detail
            if isinstance(a, Mapping)
            else a
            for a in detail["alerts"]
        ]
    for key in ("firing", "resolved"):
        if isinstance(detail.get(key), list):
            detail[key] = [_folded_alert(a, common) for a in detail[key]]
    if isinstance(detail.get("muted"), Mapping):  # fingerprint -> what mutes it
        detail["muted"] = {
            (_named(known[fp], common) if fp in known else "an alert"): (
                fold(Event(event.at, "muted", why), common, people, known).detail
                if isinstance(why, Mapping)
                else why
            )
            for fp, why in detail["muted"].items()
        }
    if isinstance(detail.get("labels"), Mapping):
        detail["labels"] = _distinguishing(detail["labels"], common)
    note = detail.get("notification")
    if isinstance(note, int) and note in people and not detail.get("recipient"):
        detail["recipient"] = people[note]
    return Event(event.at, event.kind, detail)


def _named(labels: Mapping[str, str], common: Mapping[str, str]) -> str:
    shown = _distinguishing(labels, common)
    return f"{shown.get('alertname') or 'alert'} {_labels_text(shown)}".strip()


def common_labels(alerts: Sequence[Alert], group_labels: Mapping[str, str]) -> dict[str, str]:
    """What every alert of the incident shares (one alert: the group's labels), so that
    the rest is what tells the alerts apart."""
    if len(alerts) < 2:
        return dict(group_labels)
    shared = dict(alerts[0].labels)
    for alert in alerts[1:]:
        shared = {k: v for k, v in shared.items() if alert.labels.get(k) == v}
    return shared


def _first_page(events: Sequence[Event]) -> float | None:
    """When the first page reached a person (else the first message went out)."""
    sent = [e for e in events if e.kind == "notified"]
    people = [e for e in sent if not str(e.detail.get("target", "")).startswith("channel:")]
    chosen = people or sent
    return min(e.at for e in chosen) if chosen else None


# --- the context ----------------------------------------------------------------------------


def _impact(alerts: Sequence[Alert]) -> list[str]:
    out: list[str] = []
    for key in ("impact", "summary", "description"):
        for alert in alerts:
            text = (alert.annotations.get(key) or "").strip()
            if text and text not in out:
                out.append(text)
        if out:
            return out
    return out


_RACING = ("notified", "notify_failed")


def _settled(events: Sequence[Event]) -> list[Event]:
    """Oldest first, in the order written, except that deliveries finishing at the same time
    (sent concurrently, so written in any order) are put in order of what they say: the same
    incident always gives the same postmortem."""
    ordered = sorted(events, key=lambda e: e.at)
    out: list[Event] = []
    run: list[Event] = []
    for event in [*ordered, None]:
        if event is not None and event.kind in _RACING and (not run or run[0].at == event.at):
            run.append(event)
            continue
        out.extend(sorted(run, key=describe_event))
        run = [event] if event is not None and event.kind in _RACING else []
        if event is not None and event.kind not in _RACING:
            out.append(event)
    return out


def _ts(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt is not None else None


def _alert(alert: Alert, now: float) -> dict[str, Any]:
    ended = _ts(alert.ends_at)
    if ended is not None and ended > now:
        ended = None  # still firing: Prometheus keeps moving endsAt ahead
    return {
        "name": alert.name or "alert",
        "labels": dict(alert.labels),
        "labels_text": _labels_text(alert.labels),
        "annotations": dict(alert.annotations),
        "starts_at": utc(_ts(alert.starts_at)),
        "ends_at": utc(ended),
        "firing": ended is None,
    }


def _group(row: Mapping[str, Any]) -> dict[str, str]:
    labels = row.get("group_labels") or {}
    if isinstance(labels, str):
        labels = json.loads(labels)
    return {str(k): str(v) for k, v in dict(labels).items()}


def build_context(
    incident: Mapping[str, Any],
    alerts: Sequence[Alert],
    events: Sequence[Event],
    action_items: Sequence[ActionItem],
    now: float,
    *,
    runbooks: Sequence[Mapping[str, Any]] = (),
    related: Sequence[Mapping[str, Any]] = (),
    people: Mapping[int, str] | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    """What a postmortem template sees (the keys are in the module docstring). ``incident``
    is the incident's row as a mapping (the ``incidents`` table's columns); ``runbooks`` the
    runbook sections of its alerts (``incidents.sections``); ``related`` the rows of other
    incidents of its group; ``people`` who each notification reached (id -> name); ``url``
    the incident's link."""
    group_labels = incident.get("group_labels") or {}
    if isinstance(group_labels, str):
        group_labels = json.loads(group_labels)
    group_labels = {str(k): str(v) for k, v in dict(group_labels).items()}
    ordered_alerts = sorted(alerts, key=lambda a: (_ts(a.starts_at) or 0.0, a.fingerprint))
    title = incident.get("title") or incident_title(group_labels, list(ordered_alerts))
    common = common_labels(ordered_alerts, group_labels)
    labels_of = {a.fingerprint: a.labels for a in ordered_alerts}
    ordered = _settled([fold(e, common, people or {}, labels_of) for e in events])
    figs = figures(ordered, opened_at=incident.get("opened_at"))
    started = min((t for a in ordered_alerts if (t := _ts(a.starts_at)) is not None), default=None)
    first_page = _first_page(ordered)
    start = figs.opened_at if figs.opened_at is not None else (ordered[0].at if ordered else now)
    rows = [
        {
            "at": datetime.fromtimestamp(e.at, UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "offset": offset(e.at - start),
            "kind": e.kind,
            # a row's sentence: the one call (the folded event: no fingerprint, ``recipient``
            # named); ``incidents.describe`` gives every kind its sentence (item 7)
            "what": describe_event(e),
        }
        for e in ordered[:MAX_ROWS]
    ]
    updates = [e for e in ordered if e.kind == "status_update"]
    last_update = (
        {
            "at": utc(updates[-1].at),
            "stage": updates[-1].detail.get("stage"),
            "message": updates[-1].detail.get("message", ""),
        }
        if updates
        else None
    )
    return {
        "incident": {
            "id": incident.get("id"),
            "title": title,
            "severity": incident.get("severity"),
            "status": incident.get("status"),
            "stage": incident.get("stage"),
            "assignee": incident.get("assignee"),
            "commander": incident.get("commander"),
            "opened_at": utc(figs.opened_at),
            "triggered_at": utc(figs.triggered_at),
            "acknowledged_at": utc(figs.acknowledged_at),
            "acknowledged_by": incident.get("acknowledged_by"),
            "resolved_at": utc(figs.resolved_at),
            "resolved_by": incident.get("resolved_by"),
            "group_labels": group_labels,
            "url": url,
            "postmortem_status": incident.get("postmortem_status") or "draft",
        },
        "alerts": [_alert(a, now) for a in ordered_alerts],
        "impact": _impact(ordered_alerts),
        "runbook_impact": [
            {
                "alerts": list(r.get("alerts") or []),
                "runbook": r.get("runbook"),
                "section": r.get("section"),
                "text": str(r["impact"]).strip(),
            }
            for r in runbooks
            if r.get("impact") and str(r["impact"]).strip()
        ],
        "runbooks": [
            {
                "alerts": list(r.get("alerts") or []),
                "runbook": r.get("runbook"),
                "section": r.get("section"),
                "url": r.get("url"),
            }
            for r in runbooks
        ],
        "detection": {
            "alert_started_at": utc(started),
            "first_page_at": utc(first_page),
            "time_to_detect": (
                format_duration(max(0.0, first_page - started))
                if started is not None and first_page is not None
                else None
            ),
        },
        "related": [
            {
                "id": r.get("id"),
                "title": r.get("title") or incident_title(_group(r), []),
                "severity": r.get("severity"),
                "status": r.get("status"),
                "opened_at": utc(r.get("opened_at")),
            }
            for r in related
        ],
        "timeline": rows,
        "timeline_omitted": max(0, len(ordered) - MAX_ROWS),
        "figures": figs.to_json(),
        "durations": {
            "time_to_acknowledge": (
                format_duration(figs.time_to_acknowledge_s)
                if figs.time_to_acknowledge_s is not None
                else None
            ),
            "time_to_resolve": (
                format_duration(figs.time_to_resolve_s)
                if figs.time_to_resolve_s is not None
                else None
            ),
        },
        "last_status_update": last_update,
        "action_items": [
            {
                "id": i.id,
                "title": i.title,
                "owner": i.owner,
                "due": utc(i.due_at),
                "status": i.status,
                "overdue": i.overdue(now),
                "created_by": i.created_by,
                "duty": i.duty,
            }
            for i in sorted(action_items, key=lambda i: i.id)
        ],
        "generated_at": utc(now),
        "related_days": RELATED_DAYS,
        "cell": cell,
        "link": link,
        "one_line": one_line,
        "prose": prose,
        "paragraph": paragraph,
        "duration": format_duration,
    }


# --- rendering ------------------------------------------------------------------------------

DEFAULT_TEMPLATE = """\
# Postmortem: incident #{{ incident.id }}, {{ prose(incident.title) }}

| | |
|---|---|
| Severity | {{ cell(incident.severity or "none") }} |
| Status | {{ cell(incident.status) }}{% if incident.stage and incident.status != "resolved" %} ({{ cell(incident.stage) }}){% endif %} |
| Opened | {{ incident.opened_at or "n/a" }} |
| Acknowledged | {% if incident.acknowledged_at %}{{ incident.acknowledged_at }}{% if incident.acknowledged_by %} by {{ cell(incident.acknowledged_by) }}{% endif %}{% else %}not acknowledged{% endif %} |
| Resolved | {% if incident.resolved_at %}{{ incident.resolved_at }}{% if incident.resolved_by %} by {{ cell(incident.resolved_by) }}{% endif %}{% else %}not resolved{% endif %} |
| Commander | {{ cell(incident.commander or "none") }} |
| Assignee | {{ cell(incident.assignee or "none") }} |
| Postmortem | {{ incident.postmortem_status }} |

## Links

{% if incident.url %}
- Incident: {{ link(incident.url) }}
{% endif %}
{% for r in runbooks %}
- Runbook: {{ prose(r.runbook) }}, {{ prose(r.section) }}{% if r.url %} {{ link(r.url) }}{% endif %}{{ "" }}
{% else %}
- Runbook: none of the alerts has a runbook section.
{% endfor %}

## Summary

{{ prose(incident.title) }} ({{ incident.severity or "no severity" }}) opened at {{ incident.opened_at or "an unknown time" }}
{%- if durations.time_to_acknowledge %}, was acknowledged {{ durations.time_to_acknowledge }} after the first page{% if incident.acknowledged_by %} by {{ prose(incident.acknowledged_by) }}{% endif %}{% endif %}
{%- if durations.time_to_resolve %} and was resolved {{ durations.time_to_resolve }} after it opened{% else %} and is not resolved{% endif %}.

_TODO: in two or three sentences, what happened and who noticed it._

## Impact

{% for r in runbook_impact %}
- From the runbook ({{ prose(r.alerts | join(", ")) }}): {{ paragraph(r.text) | indent(2) }}
{% endfor %}
{% for text in impact %}
- {{ paragraph(text) | indent(2) }}
{% else %}
{% if not runbook_impact %}
_TODO: who or what was affected, for how long, how badly (the alerts carry no impact, summary or description annotation)._
{% endif %}
{% endfor %}

## Alerts

| Alert | Labels | Started (UTC) | Ended (UTC) |
|---|---|---|---|
{% for a in alerts %}
| {{ cell(a.name) }} | {{ cell(a.labels_text) }} | {{ a.starts_at or "" }} | {{ a.ends_at or "still firing" }} |
{% endfor %}

## Timeline (UTC)

| Time (UTC) | Since start | Event |
|---|---|---|
{% for row in timeline %}
| {{ row.at }} | {{ row.offset }} | {{ cell(row.what) }} |
{% endfor %}
{% if timeline_omitted %}

… and {{ timeline_omitted }} later events, not listed.
{% endif %}

## Detection and response

| Figure | Value |
|---|---|
| Time to detect (first alert to first page) | {{ detection.time_to_detect or "n/a" }} |
| Time to acknowledge (first page to first acknowledgement) | {{ durations.time_to_acknowledge or "n/a" }} |
| Time to resolve (first alert to resolution) | {{ durations.time_to_resolve or "n/a" }} |
| Escalations | {{ figures.escalations }} |
| Pages sent | {{ figures.pages_sent }} |
| Pages failed | {{ figures.pages_failed }} |
| Acknowledgement deadlines missed | {{ figures.deadline_misses }} |

## Related incidents

{% if related %}
Incidents of the same group in the {{ related_days }} days before:

| # | Title | Severity | Opened (UTC) | Status |
|---|---|---|---|---|
{% for r in related %}
| {{ r.id }} | {{ cell(r.title) }} | {{ cell(r.severity or "none") }} | {{ r.opened_at or "" }} | {{ cell(r.status) }} |
{% endfor %}
{% else %}
No other incident of the same group in the {{ related_days }} days before.
{% endif %}

## What went well

_TODO: what helped: an alert that fired early, a runbook step that worked, a quick hand-over._

## Where we got lucky

_TODO: what could have made this worse and did not: timing, who happened to be around, a failure that stayed small._

## Contributing factors

_TODO: what made this incident possible, or worse than it had to be (changes, load, missing alerts, unclear runbooks)._

## Root cause

_TODO: the underlying cause, once known. Ask "why?" until the answer is something to fix._

## Resolution

{% if incident.resolved_at %}
Resolved at {{ incident.resolved_at }}{% if incident.resolved_by %} by {{ prose(incident.resolved_by) }}{% endif %}.
{% else %}
Not resolved yet.
{% endif %}
{% if last_status_update %}

Last status update ({{ last_status_update.at }}{% if last_status_update.stage %}, {{ last_status_update.stage }}{% endif %}): {{ prose(last_status_update.message) }}
{% endif %}

_TODO: what was done to resolve it, and what still has to be done._

## Action items

{% if action_items %}
| # | Action | Owner | Due (UTC) | Status |
|---|---|---|---|---|
{% for i in action_items %}
| {{ i.id }} | {{ cell(i.title) }}{% if i.duty %} (post-incident duty){% endif %} | {{ cell(i.owner) }} | {{ i.due }} | {{ i.status }}{% if i.overdue %} (overdue){% endif %} |
{% endfor %}
{% else %}
_None yet: add them with `tocsin actions add {{ incident.id }} "TITLE" --owner NAME`._
{% endif %}

_Generated by tocsin at {{ generated_at }}._
"""  # noqa: E501


def compile_postmortem(source: str, name: str = "postmortem") -> Template:
    """Compile a postmortem template; TemplateError on a syntax error."""
    return compile_template(source, name)


def render_postmortem(context: Mapping[str, Any], template: Template | None = None) -> str:
    """The postmortem's Markdown (``DEFAULT_TEMPLATE`` unless ``template``)."""
    chosen = template or compile_template(DEFAULT_TEMPLATE, "postmortem (default)")
    # whatever a template printed, a label's ESC or BEL reaches no terminal or viewer
    text = printable(render(chosen, context, max_chars=MAX_CHARS), lines=True)
    return text if text.endswith("\n") else text + "\n"


def check_postmortem_template(source: str, name: str) -> Template:
    """Compile and render against ``sample_context()``: what loading the configuration does,
    so a postmortem template that cannot render is a configuration error, not a failed
    postmortem later."""
    template = compile_postmortem(source, name)
    try:
        render(template, sample_context())
    except TemplateError as exc:
        raise TemplateError(
            name, f"{exc.reason} (rendering a sample postmortem)", exc.lineno
        ) from None
    return template


def sample_context() -> dict[str, Any]:
    """A realistic postmortem context: an acknowledged and resolved incident with an
    escalation, a missed deadline, a status update and two action items."""
    t = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    labels = {"alertname": "HighErrorRate", "service": "pebble-api", "severity": "critical"}
    alert = Alert(
        labels=labels,
        annotations={"summary": "5xx ratio above 5%", "impact": "Checkout fails for 7% of users"},
        starts_at=datetime.fromtimestamp(t, UTC),
        ends_at=datetime.fromtimestamp(t + 1200, UTC),
    )
    fp = {"fingerprint": alert.fingerprint, "labels": labels}
    events = [
        Event(t, "opened", {"route": "0", "receiver": "default"}),
        Event(t, "group_flushed", {"firing": [fp], "resolved": []}),
        Event(t, "triggered", {"severity": "critical", "policy": "default"}),
        Event(t, "escalated", {"step": 1, "targets": ["schedule:primary"], "reason": "started"}),
        Event(t + 1, "notified", {"channel": "pager", "target": "user:alice", "kind": "firing"}),
        Event(t + 180, "deadline_missed", {"severity": "critical", "deadline_s": 180}),
        Event(t + 180, "escalated", {"step": 2, "targets": ["user:carol"], "reason": "deadline"}),
        Event(t + 240, "acknowledged", {"by": "carol"}),
        Event(t + 600, "status_update", {"stage": "monitoring", "message": "Rolled back."}),
        Event(t + 1200, "resolved", {"reason": "all alerts resolved"}),
    ]
    items = [
        ActionItem(1, 42, "Alert on error budget burn | not raw ratio", "alice", t + 7 * 86_400,
                   "open", t + 1800, "carol"),
        ActionItem(2, 42, "Add a canary stage", "bob", t + 86_400, "done", t + 1800, "carol",
                   t + 3600),
    ]  # fmt: skip
    incident = {
        "id": 42,
        "title": None,
        "severity": "critical",
        "status": "resolved",
        "stage": "resolved",
        "assignee": "carol",
        "commander": "alice",
        "opened_at": t,
        "acknowledged_by": "carol",
        "resolved_by": None,
        "group_labels": {"alertname": "HighErrorRate", "service": "pebble-api"},
    }
    return build_context(incident, [alert], events, items, now=t + 7200)
