"""Incident status updates: stages, the fields an update tells, and its text (pure).

A status update is what the responders tell everyone else while an incident runs: its
**stage** (investigating → identified → monitoring → resolved), a message written by a
person, and a text rendered from a template. The stage moves freely forwards and backwards,
except that an incident whose stage is ``resolved`` leaves it only by being reopened.

Templates are either tocsin's defaults (``initial``, ``update``, ``resolution``, Jinja2 in the
sandbox of ``tocsin.templating``, modelled on the runbooks' ``[INCIDENT]`` / ``[UPDATE]`` /
``[RESOLVED]`` reports) or a runbook's own communication template. A runbook template is plain
text with placeholders (``<Brief Description>``, ``[Service Name]``, ``{time}``,
``{{ severity }}``): ``substitute`` replaces those it knows, in one pass (a value is never
read again as a placeholder), and leaves the others as they are. Runbook text is never
evaluated as a template.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from tocsin.templating import compile_template, render
from tocsin.times import format_duration

STAGES = ("investigating", "identified", "monitoring", "resolved")
FIRST_STAGE = "investigating"
MAX_MESSAGE_CHARS = 4000
MAX_TEXT_CHARS = 20_000


# --------------------------------------------------------------------------- stages


def stage_of(value: str | None) -> str:
    """An incident's stage; an incident that never had an update is investigating."""
    return value if value in STAGES else FIRST_STAGE


def transition_problem(current: str | None, new: str) -> str | None:
    """Why the stage cannot move from ``current`` to ``new`` (None: it can). Any move is
    allowed, backwards too, except leaving ``resolved``: that is a reopen."""
    if new not in STAGES:
        return f"unknown stage {new!r} (expected one of {', '.join(STAGES)})"
    if stage_of(current) == "resolved" and new != "resolved":
        return "the incident's stage is resolved; reopen it before posting a new stage"
    return None


def update_problem(status: str, current: str | None, new: str) -> str | None:
    """Why an incident in ``status`` at stage ``current`` takes no update to ``new`` (None:
    it does): not before it triggers; after it resolves, only the resolution; otherwise
    ``transition_problem``."""
    if status == "pending":
        return "the incident has not triggered yet"
    if status == "resolved" and new != "resolved":
        return "the incident is resolved: post the resolution (stage resolved), or reopen it"
    return transition_problem(current, new)


def default_template(stage: str, first: bool) -> str:
    """The default template for an update: the first update while investigating is the
    initial report, a resolved stage the resolution, anything else an update."""
    if stage == "resolved":
        return "resolution"
    if first and stage == FIRST_STAGE:
        return "initial"
    return "update"


# --------------------------------------------------------------------------- fields


def utc_time(at: datetime) -> str:
    """``14:05 UTC``: the time of day the runbooks' templates ask for."""
    return at.astimezone(UTC).strftime("%H:%M UTC")


def utc_datetime(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Fields:
    """What an update can tell. ``now`` is when it is posted; ``started_at`` when the
    incident triggered; ``next_update_at`` when the next one is due (if the severity
    asks for updates)."""

    incident_id: int
    title: str
    stage: str
    now: datetime
    severity: str | None = None
    priority: int | None = None  # 1 for the most severe level (P1), when the level is known
    service: str | None = None
    started_at: datetime | None = None
    impact: str | None = None
    message: str | None = None
    next_update_at: datetime | None = None
    by: str | None = None
    url: str | None = None

    def values(self) -> dict[str, str | None]:
        """The fields as text, by name (None: unknown)."""
        duration = (
            format_duration((self.now - self.started_at).total_seconds(), "short")
            if self.started_at is not None
            else None
        )
        return {
            "incident_id": str(self.incident_id),
            "title": self.title,
            "stage": self.stage,
            "status": self.stage.capitalize(),
            "severity": self.severity,
            "priority": str(self.priority) if self.priority is not None else None,
            "service": self.service,
            "start_time": utc_time(self.started_at) if self.started_at else None,
            "started": utc_datetime(self.started_at) if self.started_at else None,
            "duration": duration,
            "impact": self.impact,
            "message": self.message,
            "next_update": utc_time(self.next_update_at) if self.next_update_at else None,
            "now": utc_time(self.now),
            "date": self.now.astimezone(UTC).strftime("%Y-%m-%d"),
            "by": self.by,
            "url": self.url,
        }


# --------------------------------------------------------------------------- defaults

_INITIAL = """\
[INCIDENT] {{ title }}
Status: {{ status }}
Severity: {{ severity or "unknown" }}
Impact: {{ impact or "being assessed" }}
Start Time: {{ started or "unknown" }}
Duration so far: {{ duration or "unknown" }}
{% if message %}
What we know: {{ message }}
{% endif %}
Next Update: {{ next_update or "when there is news" }}
{% if url %}
Details: {{ url }}
{% endif %}
"""

_UPDATE = """\
[UPDATE] {{ title }}
Status: {{ status }}
Severity: {{ severity or "unknown" }}
Impact: {{ impact or "being assessed" }}
Start Time: {{ started or "unknown" }}
Duration so far: {{ duration or "unknown" }}
{% if message %}
Update: {{ message }}
{% endif %}
Next Update: {{ next_update or "when there is news" }}
{% if url %}
Details: {{ url }}
{% endif %}
"""

_RESOLUTION = """\
[RESOLVED] {{ title }}
Status: Resolved
Severity: {{ severity or "unknown" }}
Impact: {{ impact or "see the incident" }}
Start Time: {{ started or "unknown" }}
Resolved: {{ now }}
Duration: {{ duration or "unknown" }}
{% if message %}
Resolution: {{ message }}
{% endif %}
{% if url %}
Details: {{ url }}
{% endif %}
"""

DEFAULT_TEMPLATES: dict[str, str] = {
    "initial": _INITIAL,
    "update": _UPDATE,
    "resolution": _RESOLUTION,
}


def render_default(name: str, fields: Fields) -> str:
    """A default template (sandboxed Jinja2) rendered with the fields."""
    template = compile_template(DEFAULT_TEMPLATES[name], f"status-update.{name}")
    return render(template, fields.values(), max_chars=MAX_TEXT_CHARS).strip() + "\n"


# --------------------------------------------------------------------------- runbook text


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


# What a placeholder (or, for a generic placeholder, its line's label) names: normalized
# text (lower case, words only) -> field.
_NAMES: dict[str, str] = {}
for _field, _names in {
    "title": (
        "brief description",
        "short description",
        "description",
        "title",
        "incident title",
        "incident name",
        "incident summary",
        "summary",
        "issue",
        "what happened",
    ),
    "service": ("service", "service name", "affected service", "component", "system"),
    "status": ("status", "current status", "stage", "state", "incident status"),
    "severity": ("severity", "severity level", "sev", "level", "priority"),
    "start_time": ("start time", "started", "start", "started at", "time started", "since"),
    "duration": ("duration", "x hours y minutes", "elapsed", "duration so far", "time elapsed"),
    "impact": (
        "impact",
        "user facing impact",
        "user impact",
        "customer impact",
        "summary of user impact",
        "business impact",
        "impact description",
    ),
    "message": (
        "message",
        "update",
        "details",
        "what we know",
        "progress",
        "what s been done",
        "what has been done",
        "resolution",
        "what fixed it",
        "current findings",
    ),
    "next_update": ("next update", "next update time", "next update at"),
    "now": ("time", "current time", "timestamp", "now", "hh mm utc", "hh mm", "date time"),
    "date": ("date", "yyyy mm dd"),
    "incident_id": ("incident id", "incident number", "id", "ticket"),
    "by": ("name", "your name", "author", "incident commander", "reporter", "by"),
    "url": ("link", "url", "incident link", "incident url", "status page"),
}.items():
    for _name in _names:
        _NAMES[_name] = _field

# placeholders that say nothing by themselves: their line's label decides ("Start Time:
# <HH:MM UTC>" is the start time, "Next Update: <HH:MM UTC>" the next update)
_GENERIC = {"now", "date"}
_PRIORITY_PLACEHOLDER = re.compile(r"\d\s*-\s*\d|n|x|#")

_PLACEHOLDER = re.compile(
    r"\{\{\s*(?P<jinja>[^{}\n]{1,60}?)\s*\}\}"
    r"|\{(?P<brace>[^{}\n]{1,60})\}"
    r"|<(?P<angle>[^<>\n]{1,60})>"
    r"|\[(?P<square>[^\[\]\n]{1,60})\](?!\()"  # not a Markdown link's [text](url)
)
_LABEL = re.compile(r"^\s*(?:[-*]\s+)?\**\s*([A-Za-z][A-Za-z /'&-]{0,40}?)\s*\**\s*:")
_STAGE_LIST = re.compile(
    r"^(?P<head>\s*(?:[-*]\s+)?\**\s*(?:status|stage|state)\s*\**\s*:\s*)"
    r"(?P<value>[A-Za-z /|,]+?)\s*$",
    re.IGNORECASE,
)


def _stage_line(line: str, status: str | None) -> str:
    """``Status: Investigating / Identified / Monitoring / Resolved`` (the choices, or one
    stage written in) becomes ``Status: <the current stage>``."""
    match = _STAGE_LIST.match(line)
    if match is None or status is None:
        return line
    words = [w for w in re.split(r"[\s/|,]+", match["value"].lower()) if w]
    if not words or any(w not in STAGES for w in words):
        return line
    return match["head"] + status


def substitute(text: str, values: Mapping[str, str | None]) -> str:
    """A runbook template with the known fields put in: each placeholder is looked up by its
    own words, then (for a generic one such as ``<HH:MM UTC>``) by its line's label; an
    unknown placeholder, or one whose field has no value, stays as written. One pass: a
    substituted value is never read again."""
    out_lines = []
    for line in text.splitlines():
        label_match = _LABEL.match(line)
        label_field = _NAMES.get(_key(label_match.group(1))) if label_match else None

        def replace(match: re.Match[str], line: str = line, label: str | None = label_field) -> str:
            raw = next(g for g in match.groups() if g is not None)
            key = _key(raw)
            before = line[: match.start()]
            if (
                before[-1:].lower() == "p" or before[-3:].lower() == "sev"
            ) and _PRIORITY_PLACEHOLDER.fullmatch(raw.strip().lower()):
                field: str | None = "priority"  # P<1-4>, SEV<N>
            else:
                field = _NAMES.get(key)
                standalone = not before[-1:].isalnum()
                if (field is None or field in _GENERIC) and label is not None and standalone:
                    field = label
                if match.group("square") is not None and field is None:
                    return match.group(0)  # [INCIDENT], [ ] and other bracketed words
            value = values.get(field) if field else None
            return value if value else match.group(0)

        line = _PLACEHOLDER.sub(replace, line)
        out_lines.append(_stage_line(line, values.get("status")))
    result = "\n".join(out_lines)
    if text.endswith("\n"):
        result += "\n"
    return result[:MAX_TEXT_CHARS]


def render_runbook(text: str, fields: Fields) -> str:
    """A runbook's communication template with the fields substituted, and the message
    appended when the template has no place for it."""
    values = fields.values()
    out = substitute(text, values).rstrip("\n") + "\n"
    if fields.message and fields.message not in out:
        out += f"\n{fields.message}\n"
    return out[:MAX_TEXT_CHARS]


# --------------------------------------------------------------------------- choosing


def normalize_name(name: str) -> str:
    """A template name as it is compared: case, spaces and punctuation do not matter
    (``Initial Incident Report`` = ``initial-incident-report``)."""
    return _key(name).replace(" ", "-")


def find_template(name: str, runbook_templates: Mapping[str, str]) -> tuple[str, str] | None:
    """``("default", name)`` for a default template, ``("runbook", text)`` for a runbook
    template of that name (``runbook_templates``: name -> text, the preferred first), or
    None."""
    wanted = normalize_name(name)
    if wanted in DEFAULT_TEMPLATES:
        return ("default", wanted)
    for rb_name, text in runbook_templates.items():
        if normalize_name(rb_name) == wanted:
            return ("runbook", text)
    return None


def render_update(
    template: str | None, fields: Fields, first: bool, runbook_templates: Mapping[str, str]
) -> tuple[str, str]:
    """The template's name and the rendered text of an update; KeyError when ``template``
    names neither a default nor a runbook template."""
    name = template or default_template(fields.stage, first)
    found = find_template(name, runbook_templates)
    if found is None:
        raise KeyError(name)
    kind, value = found
    if kind == "default":
        return value, render_default(value, fields)
    return name, render_runbook(value, fields)
