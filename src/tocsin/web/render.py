"""The console's templates: one autoescaped Jinja2 environment over ``templates/`` (part of
the code; the sandboxed renderer of ``templating.py`` is for the configuration's templates).
Every value a page shows (labels, annotations, runbook text, names) is escaped by it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from tocsin import times
from tocsin.errors import Invalid
from tocsin.incidents.describe import event_sentence, exit_said, seconds_said, title_of
from tocsin.runbooks.commands import placeholder_key

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"


def when(value: str | float | None) -> str:
    """A stored time (RFC 3339 text or epoch seconds) as people read it everywhere
    (``times.format_time``: ``2026-12-06 03:04:05 UTC``); empty for none, and text that is
    no time as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            return times.format_time(times.parse_time(value))
        except Invalid:
            return value
    return times.format_time(value)


def duration(seconds: float | None) -> str:
    """A duration as people read it everywhere (``times.format_duration``: ``3 min 20 s``);
    empty for none."""
    return "" if seconds is None else times.format_duration(seconds)


def incident_name(incident: dict[str, Any]) -> str:
    """What a person calls an incident: its title, else what its title would be from its
    group's labels (``describe.title_of``: an incident not yet flushed has no title)."""
    if incident.get("title"):
        return str(incident["title"])
    labels = incident.get("group_labels") or {}
    return title_of(labels, []) if labels else f"incident {incident.get('number', '')}"


def _sentence(event: dict[str, Any]) -> str:
    return event_sentence(str(event.get("kind", "")), event.get("detail"))


ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters["when"] = when
ENV.filters["duration"] = duration
ENV.filters["sentence"] = _sentence
ENV.filters["incident_name"] = incident_name
ENV.filters["placeholder_key"] = placeholder_key
ENV.filters["seconds"] = seconds_said  # a command's duration: 40 ms, 2.5 s
ENV.filters["exit_said"] = exit_said  # a run's exit status: exit 1, HTTP 503


def page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    """The template ``name`` rendered with ``values``, as an HTML answer that no cache keeps
    and no other site frames."""
    body = ENV.get_template(name).render(**values)
    return HTMLResponse(
        body,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
            "style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        },
    )
