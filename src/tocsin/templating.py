"""The one template renderer: notification titles and bodies from Jinja2 templates.

Templates come from the operators (``channels[].templates`` in ``tocsin.yaml``) or are the
defaults below; the *context* holds alert labels and annotations, which are untrusted input.
So rendering is sandboxed (``ImmutableSandboxedEnvironment``: no access to ``__class__`` and
other internals, no mutation of the context, ranges bounded), strict (a misspelt variable is an
error, caught by ``tocsin config check`` against ``sample_context``, never an empty page) and
bounded (output past ``max_chars`` is cut with a marker). Context values are data: a label
whose value is ``{{ 7*7 }}`` prints those characters, it is never evaluated. HTML templates
autoescape; text and title templates do not (channels escape for their own formats).

The context a template sees (``template_context`` builds it; ``notify.message.message_context``
for a real message, ``sample_context`` for checks):

- ``kind``: firing | resolved | acknowledged | escalation | deadline | reminder |
  status_update | update_reminder | duty_reminder | storm_update | held_summary | test
  (``held_summary``: what a person's limit on a channel held back, in ``text``)
- ``incident_id``, ``title``, ``status`` (triggered | acknowledged | resolved), ``severity``
  (or None), ``summary`` (what the alerts say, or who acknowledged or resolved it; "" when
  nothing: never the counts again), ``text`` (a status update's body, an update reminder's, a storm
  digest's update, or None)
- ``group_labels``; ``common_labels`` and ``common_annotations`` (shared by every alert of
  the incident: when ``alerts`` lists only some of them, only what the group guarantees,
  the group labels, is common, and no annotation is)
- ``firing_total``, ``resolved_total``: how many of the incident's alerts fire (muted ones
  included) and are resolved, whatever the lists hold; ``truncated``: whether ``alerts``
  lists fewer than all of them (a message lists at most 50, in label order:
  ``incidents.messages.listed``).
  ``firing_total - firing | length`` are the firing alerts not listed
- ``alerts``, and the same split into ``firing`` and ``resolved`` (the alerts listed): each
  ``{fingerprint, status, name, labels, annotations, starts_at, ends_at}``, ``name`` being
  the ``alertname`` label; ``starts_at`` and ``ends_at`` as people read them
  (``2026-12-05 08:25:04 CET``: ``times.format_time``, in the recipient's ``timezone``, else
  UTC), ``starts_at_iso`` and ``ends_at_iso`` the ISO 8601 forms
- ``runbook_url``, ``runbook_title`` (or None): the catalog's section; ``diagnostics``: the
  first checks (read-only commands, placeholders filled from the alert's labels), each
  ``{title, language, code, risk, unfilled}``; ``other_steps``: the section's other steps,
  each ``{title, phase, risk}``; ``alert_link``: the alert's own ``runbook_url`` annotation
  as ``{url, host}`` (or None), never in place of the catalog's link
- ``escalation_step`` (or None), ``recipient`` (``{name, email, slack}``, and ``full_name``
  when the user has one and ``timezone`` when the user's is not UTC; or None)
- ``actor``, ``acted_at``: who acknowledged or resolved the incident and when (None
  otherwise, and ``actor`` None when tocsin resolved it because its alerts ended)
- ``external_url`` (the incident in tocsin), ``idempotency_key``, ``created_at``
- ``actions``: a message to a person, its single-use links (``acknowledge``, ``resolve``)
- ``alertmanager``: the same message as Alertmanager's template data (``AlertmanagerView``:
  ``Receiver`` (the incident's route's, as Go's ``regexp.QuoteMeta`` writes it), ``Status``,
  ``Alerts`` with ``Firing``/``Resolved`` and each alert's ``Status``, ``Labels``,
  ``Annotations``, ``StartsAt``, ``EndsAt``, ``GeneratorURL``, ``Fingerprint``;
  ``GroupLabels``, ``CommonLabels``, ``CommonAnnotations``, ``ExternalURL``), what the Go
  templates of an alertmanager.yml read once ``config.gotemplate`` translated them

Links (``runbook_url``, ``external_url``, ``alert_link``, ``actions``) reach templates only when
they are http(s).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tocsin.errors import Invalid
from tocsin.incidents.describe import common
from tocsin.times import Zone, format_time, parse_time
from tocsin.words import number

# The kinds of message a template is rendered for (``Message.kind``). They live here, and
# ``notify.message`` takes them from here: the arrow runs from notify to the renderer only.
KINDS = (
    "firing",
    "resolved",
    "acknowledged",
    "escalation",
    "deadline",
    "reminder",
    "status_update",
    "update_reminder",
    "duty_reminder",
    "storm_update",
    "held_summary",
    "diagnostics",
    "test",
)

DEFAULT_MAX_CHARS = 100_000
# What a template may build with * and ** (the sandbox bounds range() itself).
_MAX_PRODUCT = 1_000_000
_MAX_EXPONENT = 1_000
_MAX_POWER_BITS = 100_000


class TemplateError(Invalid):
    """A template does not compile or does not render; says which template and where."""

    def __init__(self, name: str, message: str, lineno: int | None = None) -> None:
        self.name = name
        self.lineno = lineno
        self.reason = message
        where = f"template {name!r}" + (f", line {lineno}" if lineno is not None else "")
        super().__init__(f"{where}: {message}")


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, plus bounds on ``*`` and ``**``: ``'x' * 10**9`` would otherwise build a
    gigabyte before the output bound could cut it."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int | float) and (
                abs(right) > _MAX_EXPONENT
                or (isinstance(left, int) and left.bit_length() * abs(right) > _MAX_POWER_BITS)
            ):
                raise SecurityError(f"power {right} is too large for a template")
        else:
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | Sequence)
                    and isinstance(times, int)
                    and len(seq) * times > _MAX_PRODUCT
                ):
                    raise SecurityError("repetition is too large for a template")
        return super().call_binop(context, operator, left, right)


def _environment(html: bool) -> _Sandbox:
    env = _Sandbox(
        undefined=jinja2.StrictUndefined,
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        loader=None,
    )
    env.filters["number"] = number  # {{ firing_total | number }}: 200,000
    return env


_ENVIRONMENTS = {False: _environment(False), True: _environment(True)}


class JsonValue(str):
    """A whole JSON value a JSON template asked for (``{{ alerts | tojson }}``): printed as it
    is, never escaped again."""


def _json_text(value: Any) -> Any:
    """What every ``{{ … }}`` of a JSON template prints: the value's text escaped as the
    inside of a JSON string (quotes, backslashes, newlines and every control character), so
    a label cannot end the string it is printed in; a ``tojson`` value as it is."""
    if isinstance(value, JsonValue):
        return value
    return json.dumps(str(value), ensure_ascii=False)[1:-1]


def _tojson(value: Any) -> JsonValue:
    try:
        return JsonValue(json.dumps(value, ensure_ascii=False, sort_keys=True))
    except (TypeError, ValueError) as exc:
        raise SecurityError(f"tojson: {exc}") from None


def _json_environment() -> _Sandbox:
    """JSON bodies (a webhook's ``body_template``): no HTML escaping, every printed value
    escaped as JSON string text (``_json_text``), ``tojson`` for a whole value."""
    env = _environment(False)
    env.finalize = _json_text
    env.filters["tojson"] = _tojson
    return env


_JSON_ENVIRONMENT = _json_environment()


@dataclass(frozen=True, eq=False)
class Template:
    """A compiled template and the name its errors carry (e.g. ``slack-oncall.text``)."""

    name: str
    html: bool
    compiled: jinja2.Template
    json_body: bool = False


@functools.lru_cache(maxsize=512)
def _compile(source: str, html: bool, json_body: bool = False) -> jinja2.Template:
    return (_JSON_ENVIRONMENT if json_body else _ENVIRONMENTS[html]).from_string(source)


def compile_template(
    source: str, name: str, *, html: bool = False, json_body: bool = False
) -> Template:
    """Compile (or take from the cache) a template; TemplateError on a syntax error.
    ``json_body``: a JSON document, each printed value escaped as JSON string text."""
    try:
        compiled = _compile(source, html, json_body)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(name, exc.message or str(exc), exc.lineno) from None
    except (RecursionError, SyntaxError):
        # Jinja's compiler recurses once per level of nesting, and Python's refuses more than
        # 20 nested loops ("too many statically nested blocks"): refusals, not crashes
        raise TemplateError(name, "blocks nested too deep to compile") from None
    return Template(name=name, html=html, compiled=compiled, json_body=json_body)


def _template_line(exc: BaseException) -> int | None:
    """The template line of a render error: Jinja rewrites its traceback so that template
    frames carry the template's own line numbers."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def truncation_marker(max_chars: int) -> str:
    return f"\n… [truncated by tocsin: longer than {max_chars} characters]"


def render(
    template: Template, context: Mapping[str, Any], *, max_chars: int = DEFAULT_MAX_CHARS
) -> str:
    """Render; TemplateError on an undefined variable, a sandbox violation or any other error
    raised while rendering. Output longer than ``max_chars`` is cut and marked."""
    parts: list[str] = []
    size = 0
    truncated = False
    try:
        # Streamed, so that a template looping over a huge context stops at the bound.
        for chunk in template.compiled.generate(dict(context)):
            parts.append(chunk)
            size += len(chunk)
            if size > max_chars:
                truncated = True
                break
    except SecurityError as exc:
        raise TemplateError(
            template.name, f"not allowed in the sandbox: {exc}", _template_line(exc)
        ) from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(template.name, f"undefined: {exc}", _template_line(exc)) from None
    except jinja2.TemplateError as exc:
        raise TemplateError(template.name, str(exc), _template_line(exc)) from None
    except Exception as exc:  # a template can raise anything: 1/0, "a" + 1, ...
        raise TemplateError(
            template.name, f"{type(exc).__name__}: {exc}", _template_line(exc)
        ) from None
    out = "".join(parts)
    if truncated:
        marker = truncation_marker(max_chars)
        out = out[: max(0, max_chars - len(marker))] + marker
    return out


def check_template(source: str, name: str, *, html: bool = False) -> Template:
    """Compile and render against ``sample_context`` of every message kind: what ``tocsin
    config check`` and channel building do, so a template that cannot render is an error at
    load. TemplateError names the template, the line and, for a render error, the kind."""
    template = compile_template(source, name, html=html)
    for kind in KINDS:
        try:
            render(template, sample_context(kind))
        except TemplateError as exc:
            raise TemplateError(
                name, f"{exc.reason} (rendering a {kind} message)", exc.lineno
            ) from None
    return template


def render_json(
    template: Template, context: Mapping[str, Any], *, max_chars: int = DEFAULT_MAX_CHARS
) -> str:
    """Render a JSON template and check what it made: TemplateError unless it is one valid
    JSON document (an output cut at ``max_chars`` is not)."""
    out = render(template, context, max_chars=max_chars)
    try:
        json.loads(out)
    except ValueError as exc:
        raise TemplateError(template.name, f"does not render valid JSON: {exc}") from None
    return out


# What a JSON template is checked against besides the samples: every text from alerts made
# of what breaks JSON (quotes, a backslash, newlines, controls, a Jinja expression).
HOSTILE = 'x", "y": 1} \\ \n\r\t \x00 \x1b[31m \u2028 {{ 7*7 }} </script>'


def _hostile(context: Mapping[str, Any]) -> dict[str, Any]:
    """The context with every text that comes from alerts (labels, annotations, titles,
    summaries) replaced by hostile text."""

    def texts(values: Mapping[str, str]) -> dict[str, str]:
        return {k: HOSTILE for k in values}

    out = dict(context)
    for key in ("title", "summary"):
        out[key] = HOSTILE
    if out.get("text") is not None:
        out["text"] = HOSTILE
    for key in ("group_labels", "common_labels", "common_annotations"):
        out[key] = texts(out[key])
    for key in ("alerts", "firing", "resolved"):
        out[key] = [
            {
                **a,
                "name": HOSTILE,
                "labels": texts(a["labels"]),
                "annotations": texts(a["annotations"]),
            }
            for a in out[key]
        ]
    return out


def check_json_template(source: str, name: str) -> Template:
    """A JSON body template checked at load: it renders one valid JSON document for every
    message kind's sample, and still does when every text from alerts is hostile (a value
    printed outside a JSON string fails here, never on a real page)."""
    template = compile_template(source, name, json_body=True)
    for kind in KINDS:
        for what, context in (("", sample_context(kind)), (" with hostile labels", None)):
            try:
                render_json(template, context or _hostile(sample_context(kind)))
            except TemplateError as exc:
                raise TemplateError(
                    name, f"{exc.reason} (rendering a {kind} message{what})", exc.lineno
                ) from None
    return template


def one_line(text: str, limit: int | None = None) -> str:
    """Whitespace (newlines included) collapsed to single spaces, cut to ``limit`` with an
    ellipsis: titles, subjects and headers are one line, whatever a label contains."""
    out = " ".join(text.split())
    if limit is not None and len(out) > limit:
        out = out[: max(0, limit - 1)] + "…"
    return out


# Characters a terminal acts on rather than shows: C0 (ESC starts ANSI colours, OSC 8
# hyperlinks and title changes; BEL rings; CR and BS overwrite what was printed), DEL, C1
# (U+009B is a one-character CSI, U+009D an OSC), and the bidirectional embeddings, overrides
# and isolates that reorder what is shown.
_CONTROLS = "\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[{_CONTROLS}]")
_CONTROL_BUT_LINES = re.compile(f"(?![\\n\\t])[{_CONTROLS}]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _visible(found: re.Match[str]) -> str:
    char = found.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text: object, *, lines: bool = False) -> str:
    """Untrusted text (labels, annotations, notes, titles, names) made safe where it meets a
    terminal or a document: every control character is shown as a visible escape (ESC as
    ``\\x1b``, so ``\\x1b[31m`` prints those characters and colours nothing; an OSC 8
    hyperlink, a bell, a carriage return that would overwrite the line, C1's ``\\x9b``, DEL)
    and does nothing. With ``lines``, newlines and tabs stay (a multi-line text), a CRLF
    becomes a newline; otherwise they are shown too (``\\n``, ``\\t``). Everything else, all
    of Unicode's printable text included, is kept as it is. The result holds no control
    character, so applying it twice changes nothing."""
    out = str(text)
    if lines:
        return _CONTROL_BUT_LINES.sub(_visible, out.replace("\r\n", "\n"))
    return _CONTROL.sub(_visible, out)


# --- default templates ---------------------------------------------------------------------

DEFAULT_TITLE = """\
{%- if kind == "resolved" -%}[RESOLVED]
{%- elif kind == "acknowledged" -%}[ACK]
{%- elif kind == "escalation" -%}[ESCALATED{% if escalation_step %} step {{ escalation_step }}{% endif %}]
{%- elif kind == "deadline" -%}[ACK OVERDUE]
{%- elif kind == "reminder" -%}[STILL FIRING:{{ firing_total | number }}]
{%- elif kind == "status_update" -%}[UPDATE]
{%- elif kind == "update_reminder" -%}[UPDATE DUE]
{%- elif kind == "duty_reminder" -%}[DUTY DUE]
{%- elif kind == "storm_update" -%}[STORM UPDATE]
{%- elif kind == "held_summary" -%}[HELD BACK]
{%- elif kind == "diagnostics" -%}[DIAGNOSTICS]
{%- elif kind == "test" -%}[TEST]
{%- else -%}[FIRING:{{ firing_total | number }}]
{%- endif %} {{ title }}{% if severity and kind != "held_summary" %} ({{ severity }}){% endif %}
"""  # noqa: E501

DEFAULT_TEXT = """\
{% if kind in ("status_update", "update_reminder", "duty_reminder", "storm_update", "held_summary", "diagnostics", "test") and text %}
{{ text }}

{% endif %}
{% if kind == "test" and not text %}
This is a test notification from tocsin: no action is needed.

{% endif %}
{% if recipient and kind in ("firing", "escalation", "deadline", "reminder") %}
{{ recipient.get("full_name") or recipient.name }}, you are paged for this incident{% if kind == "escalation" %} (escalation step {{ escalation_step }}){% endif %}.

{% endif %}
{% if kind != "test" or incident_id %}
Incident #{{ incident_id }}: {{ title }}
Status:   {{ status }}{% if kind == "deadline" %} (not acknowledged in time){% endif %}

Severity: {{ severity or "none" }}
Alerts:   {{ firing_total | number }} {% if kind == "resolved" %}still {% endif %}firing, {{ resolved_total | number }} resolved
{% if common_labels | reject("equalto", "alertname") | list %}
Labels:   {% for k, v in common_labels | dictsort if k != "alertname" %}{{ k }}={{ v }}{% if not loop.last %}, {% endif %}{% endfor %}

{% endif %}
{% endif %}
{% if summary and (kind != "test" or incident_id) %}
Summary:  {{ summary }}
{% endif %}
{% if external_url %}
Open:     {{ external_url }}
{% endif %}
{% if actions.get("acknowledge") %}
Acknowledge: {{ actions["acknowledge"] }}
{% endif %}
{% if actions.get("resolve") %}
Resolve:  {{ actions["resolve"] }}
{% endif %}
{% if runbook_url or runbook_title %}

Runbook: {{ runbook_title or "runbook" }}{% if runbook_url %} <{{ runbook_url }}>{% endif %}

{% endif %}
{% if alert_link %}
The alert's own link ({{ alert_link.host }}): {{ alert_link.url }}
{% endif %}
{% if diagnostics %}

First checks:
{% for d in diagnostics %}
{{ loop.index }}. {{ d.title }} [risk: {{ d.risk }}{% if d.language %}, {{ d.language }}{% endif %}]
{{ d.code | indent(4, first=True) }}
{% if d.unfilled %}
    (fill in: {{ d.unfilled }})
{% endif %}
{% endfor %}
{% endif %}
{% if other_steps %}

Other steps, in the runbook{% if runbook_url %} <{{ runbook_url }}>{% endif %}:
{% for o in other_steps %}
- {{ o.title }} [{{ o.phase }}, risk: {{ o.risk }}]
{% endfor %}
{% endif %}
{% for heading, items, total in [("Still firing" if kind == "resolved" else "Firing", firing, firing_total), ("Resolved", resolved, resolved_total)] if total %}

{{ heading }} ({{ total | number }}):
{% for a in items[:20] %}
- {{ a.name or "alert" }} since {{ a.starts_at }}{% if a.status == "resolved" and a.ends_at %}, ended {{ a.ends_at }}{% endif %}

{% for k, v in a.labels | dictsort if k not in common_labels %}
    {{ k }} = {{ v }}
{% endfor %}
{% for k, v in a.annotations | dictsort %}
    {{ k }}: {{ v | indent(6) }}
{% endfor %}
{% endfor %}
{% if total > items[:20] | length %}
  … and {{ (total - items[:20] | length) | number }} more
{% endif %}
{% endfor %}
"""  # noqa: E501

DEFAULT_HTML = """\
<!DOCTYPE html>
<html><body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; font-size: 14px; color: #1d1d1d;">
{% set colour = {"resolved": "#2e7d32", "acknowledged": "#f9a825"}.get(status, "#c62828") %}
<h2 style="margin: 0 0 8px 0; color: {{ colour }};">
{%- if kind == "resolved" %}Resolved{% elif kind == "acknowledged" %}Acknowledged{% elif kind == "escalation" %}Escalated{% if escalation_step %} (step {{ escalation_step }}){% endif %}{% elif kind == "deadline" %}Not acknowledged in time{% elif kind == "reminder" %}Still firing{% elif kind == "status_update" %}Update{% elif kind == "update_reminder" %}Status update due{% elif kind == "duty_reminder" %}Duty due{% elif kind == "storm_update" %}Storm update{% elif kind == "held_summary" %}Held back{% elif kind == "diagnostics" %}Diagnostics{% elif kind == "test" %}Test{% else %}Firing{% endif %}: {{ title }}</h2>
{% if kind == "test" and not text %}
<p><em>This is a test notification from tocsin: no action is needed.</em></p>
{% endif %}
{% if kind in ("status_update", "update_reminder", "duty_reminder", "storm_update", "held_summary", "diagnostics", "test") and text %}
<p style="white-space: pre-wrap;">{{ text }}</p>
{% endif %}
{% if recipient and kind in ("firing", "escalation", "deadline", "reminder") %}
<p><strong>{{ recipient.get("full_name") or recipient.name }}</strong>, you are paged for this incident{% if kind == "escalation" %} (escalation step {{ escalation_step }}){% endif %}.</p>
{% endif %}
{% if kind != "test" or incident_id %}
<table style="border-collapse: collapse;">
<tr><td style="padding: 2px 12px 2px 0;"><strong>Incident</strong></td><td>#{{ incident_id }}</td></tr>
<tr><td style="padding: 2px 12px 2px 0;"><strong>Status</strong></td><td>{{ status }}</td></tr>
<tr><td style="padding: 2px 12px 2px 0;"><strong>Severity</strong></td><td>{{ severity or "none" }}</td></tr>
<tr><td style="padding: 2px 12px 2px 0;"><strong>Alerts</strong></td><td>{{ firing_total | number }} {% if kind == "resolved" %}still {% endif %}firing, {{ resolved_total | number }} resolved</td></tr>
{% if common_labels | reject("equalto", "alertname") | list %}
<tr><td style="padding: 2px 12px 2px 0;"><strong>Labels</strong></td><td>{% for k, v in common_labels | dictsort if k != "alertname" %}{{ k }}={{ v }}{% if not loop.last %}, {% endif %}{% endfor %}</td></tr>
{% endif %}
{% if summary %}
<tr><td style="padding: 2px 12px 2px 0;"><strong>Summary</strong></td><td>{{ summary }}</td></tr>
{% endif %}
</table>
{% endif %}
{% if external_url and (kind != "test" or incident_id) %}
<p><a href="{{ external_url }}">Open incident #{{ incident_id }} in tocsin</a></p>
{% elif external_url %}
<p><a href="{{ external_url }}">Open tocsin</a></p>
{% endif %}
{% if actions %}
<p>{% if actions.get("acknowledge") %}<a href="{{ actions["acknowledge"] }}" style="display: inline-block; padding: 8px 14px; margin-right: 8px; background: #f9a825; color: #1d1d1d; text-decoration: none; border-radius: 4px;">Acknowledge</a>{% endif %}{% if actions.get("resolve") %}<a href="{{ actions["resolve"] }}" style="display: inline-block; padding: 8px 14px; background: #2e7d32; color: #ffffff; text-decoration: none; border-radius: 4px;">Resolve</a>{% endif %}<br><small>Each link works once, without signing in, until it expires.</small></p>
{% endif %}
{% if runbook_url or runbook_title %}
<p><strong>Runbook:</strong> {% if runbook_url %}<a href="{{ runbook_url }}">{{ runbook_title or runbook_url }}</a>{% else %}{{ runbook_title }}{% endif %}</p>
{% endif %}
{% if alert_link %}
<p><strong>The alert's own link</strong> ({{ alert_link.host }}): <a href="{{ alert_link.url }}">{{ alert_link.url }}</a></p>
{% endif %}
{% if diagnostics %}
<h3 style="margin: 16px 0 4px 0;">First checks</h3>
<ol>
{% for d in diagnostics %}
<li>{{ d.title }} <small>(risk: {{ d.risk }}{% if d.language %}, {{ d.language }}{% endif %})</small>
<pre style="background: #f4f4f4; padding: 6px; white-space: pre-wrap;">{{ d.code }}</pre>{% if d.unfilled %}<small>fill in: {{ d.unfilled }}</small>{% endif %}</li>
{% endfor %}
</ol>
{% endif %}
{% if other_steps %}
<h3 style="margin: 16px 0 4px 0;">Other steps, in the {% if runbook_url %}<a href="{{ runbook_url }}">runbook</a>{% else %}runbook{% endif %}</h3>
<ul>
{% for o in other_steps %}
<li>{{ o.title }} <small>({{ o.phase }}, risk: {{ o.risk }})</small></li>
{% endfor %}
</ul>
{% endif %}
{% for heading, items, total in [("Still firing" if kind == "resolved" else "Firing", firing, firing_total), ("Resolved", resolved, resolved_total)] if total %}
<h3 style="margin: 16px 0 4px 0;">{{ heading }} ({{ total | number }})</h3>
<ul>
{% for a in items[:20] %}
<li><strong>{{ a.name or "alert" }}</strong> since {{ a.starts_at }}{% if a.status == "resolved" and a.ends_at %}, ended {{ a.ends_at }}{% endif %}
{% for k, v in a.labels | dictsort if k not in common_labels %}{% if loop.first %}<br><small>{% endif %}{{ k }}={{ v }}{% if not loop.last %}, {% else %}</small>{% endif %}{% endfor %}
{% for k, v in a.annotations | dictsort %}
<br>{{ k }}: <span style="white-space: pre-wrap;">{{ v }}</span>
{% endfor %}
</li>
{% endfor %}
{% if total > items[:20] | length %}
<li>… and {{ (total - items[:20] | length) | number }} more</li>
{% endif %}
</ul>
{% endfor %}
<p style="color: #777; font-size: 12px;">Sent by tocsin{% if external_url %} · <a href="{{ external_url }}">{{ external_url }}</a>{% endif %}</p>
</body></html>
"""  # noqa: E501

DEFAULT_TEMPLATES: dict[str, tuple[str, bool]] = {
    "title": (DEFAULT_TITLE, False),
    "text": (DEFAULT_TEXT, False),
    "html": (DEFAULT_HTML, True),
}


# --- contexts ------------------------------------------------------------------------------


def web_url(url: str | None) -> str | None:
    """Only http(s) links reach a template: a ``javascript:`` runbook URL from an annotation
    must not become a link in an email."""
    if url and url.strip().lower().startswith(("http://", "https://")):
        return url.strip()
    return None


def _readable(value: object, zone: Zone) -> str:
    """An alert's ISO 8601 time as people read it, in ``zone``; "" for none."""
    if not value:
        return ""
    try:
        return format_time(parse_time(str(value)), zone)
    except ValueError:
        return str(value)


def template_context(
    *,
    kind: str,
    incident_id: int,
    title: str,
    status: str,
    severity: str | None,
    summary: str,
    group_labels: Mapping[str, str],
    alerts: Sequence[Mapping[str, Any]],
    idempotency_key: str,
    created_at: str,
    external_url: str,
    runbook_url: str | None,
    runbook_title: str | None,
    diagnostics: Sequence[Mapping[str, str]],
    escalation_step: int | None,
    recipient: Mapping[str, str] | None,
    text: str | None,
    other_steps: Sequence[Mapping[str, str]] = (),
    alert_link: Mapping[str, str] | None = None,
    actor: str | None = None,
    acted_at: str | None = None,
    firing_total: int | None = None,
    resolved_total: int | None = None,
    actions: Mapping[str, str] | None = None,
    receiver: str = "",
) -> dict[str, Any]:
    """What a template sees (the keys are in the module docstring): the one builder of the
    context, for a real message (``notify.message.message_context``) and for the samples.
    ``firing_total``, ``resolved_total``: how many alerts the incident has of each (None:
    those listed in ``alerts`` are all of them)."""
    items: list[dict[str, Any]] = []
    zone = (recipient or {}).get("timezone")
    for alert in alerts:
        labels = {str(k): str(v) for k, v in dict(alert.get("labels") or {}).items()}
        annotations = {str(k): str(v) for k, v in dict(alert.get("annotations") or {}).items()}
        items.append(
            {
                "fingerprint": str(alert.get("fingerprint", "")),
                "status": str(alert.get("status", "firing")),
                "name": labels.get("alertname", ""),
                "labels": labels,
                "annotations": annotations,
                "starts_at": _readable(alert.get("starts_at"), zone),
                "ends_at": _readable(alert.get("ends_at"), zone),
                "starts_at_iso": alert.get("starts_at") or "",
                "ends_at_iso": alert.get("ends_at") or "",
                "generator_url": web_url(alert.get("generator_url")) or "",
            }
        )
    firing = [a for a in items if a["status"] != "resolved"]
    resolved = [a for a in items if a["status"] == "resolved"]
    # the totals are counted once, by ``incidents.messages.totals``; a message stored before
    # them (None) lists all its alerts
    firing_count = len(firing) if firing_total is None else firing_total
    resolved_count = len(resolved) if resolved_total is None else resolved_total
    truncated = firing_count + resolved_count > len(items)
    shared = common_labels(group_labels, [a["labels"] for a in items], truncated)
    shared_annotations = {} if truncated else common([a["annotations"] for a in items])
    external = web_url(external_url) or ""
    return {
        "kind": kind,
        "incident_id": incident_id,
        "title": title,
        "status": status,
        "severity": severity,
        "summary": summary,
        "text": text,
        "actor": actor,
        "acted_at": acted_at,
        "group_labels": dict(group_labels),
        "common_labels": shared,
        "common_annotations": shared_annotations,
        "alerts": items,
        "firing": firing,
        "resolved": resolved,
        "firing_total": firing_count,
        "resolved_total": resolved_count,
        "truncated": truncated,
        "runbook_url": web_url(runbook_url),
        "runbook_title": runbook_title,
        "diagnostics": [{"unfilled": "", **dict(d)} for d in diagnostics],
        "other_steps": [dict(o) for o in other_steps],
        "alert_link": (
            {"url": link, "host": str(alert_link.get("host", ""))}
            if alert_link and (link := web_url(alert_link.get("url")))
            else None
        ),
        "escalation_step": escalation_step,
        "recipient": dict(recipient) if recipient is not None else None,
        "external_url": external,
        # what a Go template from an alertmanager.yml reads as ``.`` (``config.gotemplate``)
        "alertmanager": alertmanager_view(
            items, group_labels, shared, shared_annotations, firing_count, external, receiver
        ),
        # a person's single-use links: {"acknowledge": url, "resolve": url} (web links only)
        "actions": {a: u for a, raw in (actions or {}).items() if (u := web_url(raw))},
        "idempotency_key": idempotency_key,
        "created_at": created_at,
    }


# --- Alertmanager's template data ------------------------------------------------------------
# The shape Alertmanager's Go templates read (template/template.go: Data, Alert, KV, Pairs,
# Strings), for the templates ``config.gotemplate`` translates from an alertmanager.yml. The
# methods keep Go's names (``SortedPairs``, ``Values``, ``Firing``) because the translated
# text calls them by those names; values print as Go prints them.


class GoStrings(tuple[str, ...]):
    """Alertmanager's ``Strings``: prints as Go prints a slice, ``[a b]``."""

    def Join(self, sep: str) -> str:
        return sep.join(self)

    def __str__(self) -> str:
        return "[" + " ".join(self) + "]"


@dataclass(frozen=True)
class GoPair:
    """Alertmanager's ``Pair``."""

    Name: str
    Value: str


class GoPairs(tuple[GoPair, ...]):
    """Alertmanager's ``Pairs``: prints ``a=1, b=2``."""

    def Names(self) -> GoStrings:
        return GoStrings(p.Name for p in self)

    def Values(self) -> GoStrings:
        return GoStrings(p.Value for p in self)

    def __str__(self) -> str:
        return ", ".join(f"{p.Name}={p.Value}" for p in self)


class GoKV(Mapping[str, str]):
    """Alertmanager's ``KV`` (labels, annotations): a read-only map whose ``SortedPairs``
    put ``alertname`` first and the rest in byte order, as Alertmanager's do."""

    def __init__(self, items: Mapping[str, str]) -> None:
        self._items = {str(k): str(v) for k, v in items.items()}

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Any:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def SortedPairs(self) -> GoPairs:
        keys = sorted(k for k in self._items if k != "alertname")
        if "alertname" in self._items:
            keys.insert(0, "alertname")
        return GoPairs(GoPair(k, self._items[k]) for k in keys)

    def Names(self) -> GoStrings:
        return self.SortedPairs().Names()

    def Values(self) -> GoStrings:
        return self.SortedPairs().Values()

    def Remove(self, keys: Sequence[str]) -> GoKV:
        drop = set(keys)
        return GoKV({k: v for k, v in self._items.items() if k not in drop})

    def __str__(self) -> str:
        return str(self.SortedPairs())


class GoAlerts(tuple["GoAlert", ...]):
    """Alertmanager's ``Alerts``, with ``Firing`` and ``Resolved``."""

    def Firing(self) -> tuple[GoAlert, ...]:
        return tuple(a for a in self if a.Status == "firing")

    def Resolved(self) -> tuple[GoAlert, ...]:
        return tuple(a for a in self if a.Status == "resolved")


@dataclass(frozen=True)
class GoAlert:
    """Alertmanager's ``Alert``; its times as Go prints a ``time.Time`` (in UTC)."""

    Status: str
    Labels: GoKV
    Annotations: GoKV
    StartsAt: GoTime | str
    EndsAt: GoTime | str
    GeneratorURL: str
    Fingerprint: str


@dataclass(frozen=True)
class AlertmanagerView:
    """Alertmanager's ``Data`` for one message: what a translated Go template reads as
    ``.`` (the context's ``alertmanager``). ``Status`` is firing while any alert of the
    incident fires; ``ExternalURL`` is tocsin's own address (where Alertmanager links to
    itself, tocsin's console answers)."""

    Receiver: str
    Status: str
    Alerts: GoAlerts
    GroupLabels: GoKV
    CommonLabels: GoKV
    CommonAnnotations: GoKV
    ExternalURL: str


GO_ZERO_TIME = "0001-01-01 00:00:00 +0000 UTC"

# Go's reference-time layout elements (time/format.go), longest first where one begins
# another; times here are in UTC, so every zone element prints UTC's form.
_GO_LAYOUT = re.compile(
    r"January|Jan|Monday|Mon|MST|2006|002|__2|_2|01|02|03|04|05|06|15|PM|pm"
    r"|-07:00:00|-070000|-07:00|-0700|-07|Z07:00:00|Z070000|Z07:00|Z0700|Z07"
    r"|[.,](?:0+|9+)(?![0-9])|1|2|3|4|5"
)


def _go_element(moment: datetime, element: str) -> str:
    if element[0] in ".," and len(element) > 1:
        digits = f"{moment.microsecond:06d}000"[: len(element) - 1]
        if element[1] == "9":  # trailing zeros dropped, and the point with them
            digits = digits.rstrip("0")
            return "." + digits if digits else ""
        return element[0] + digits
    hour12 = moment.hour % 12 or 12
    simple = {
        "January": f"{moment:%B}",
        "Jan": f"{moment:%b}",
        "Monday": f"{moment:%A}",
        "Mon": f"{moment:%a}",
        "MST": "UTC",
        "2006": f"{moment.year:04d}",
        "06": f"{moment.year % 100:02d}",
        "002": f"{moment.timetuple().tm_yday:03d}",
        "__2": f"{moment.timetuple().tm_yday:>3d}",
        "01": f"{moment.month:02d}",
        "1": str(moment.month),
        "02": f"{moment.day:02d}",
        "2": str(moment.day),
        "_2": f"{moment.day:>2d}",
        "15": f"{moment.hour:02d}",
        "03": f"{hour12:02d}",
        "3": str(hour12),
        "04": f"{moment.minute:02d}",
        "4": str(moment.minute),
        "05": f"{moment.second:02d}",
        "5": str(moment.second),
        "PM": "PM" if moment.hour >= 12 else "AM",
        "pm": "pm" if moment.hour >= 12 else "am",
        "-07:00:00": "+00:00:00",
        "-070000": "+000000",
        "-07:00": "+00:00",
        "-0700": "+0000",
        "-07": "+00",
    }
    return "Z" if element.startswith("Z") else simple[element]


def go_format(moment: datetime, layout: str) -> str:
    """``moment`` (UTC) written in a Go layout (``2006-01-02 15:04:05``), as Go's
    ``time.Time.Format`` writes it; text that is no layout element is kept."""
    return _GO_LAYOUT.sub(lambda found: _go_element(moment, found.group()), layout)


class GoTime(str):
    """Alertmanager's ``time.Time`` of an alert: prints as Go prints one (in UTC), and
    ``Format`` takes a Go layout."""

    moment: datetime

    def __new__(cls, moment: datetime) -> GoTime:
        fraction = f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else ""
        self = super().__new__(cls, f"{moment:%Y-%m-%d %H:%M:%S}{fraction} +0000 UTC")
        self.moment = moment
        return self

    def Format(self, layout: str) -> str:
        return go_format(self.moment, str(layout))


def go_time(value: object) -> GoTime | str:
    """An ISO 8601 time as Go's ``time.Time`` (``2024-05-14 02:58:10.5 +0000 UTC``:
    fractional seconds without trailing zeros); no time is Go's zero time, as Alertmanager
    prints an unset ``EndsAt``."""
    if not value:
        return GoTime(datetime(1, 1, 1, tzinfo=UTC))
    try:
        return GoTime(parse_time(str(value)).astimezone(UTC))
    except ValueError:
        return str(value)


def quote_meta(text: str) -> str:
    """Go's ``regexp.QuoteMeta``, as Alertmanager writes its ``.Receiver``."""
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", text)


def _base_url(external_url: str) -> str:
    """tocsin's own address, from an incident's link (``<base>/incidents/<id>``)."""
    base, found, _ = external_url.rpartition("/incidents/")
    return base if found else external_url


def alertmanager_view(
    alerts: Sequence[Mapping[str, Any]],
    group_labels: Mapping[str, str],
    common: Mapping[str, str],
    common_annotations: Mapping[str, str],
    firing_total: int,
    external_url: str,
    receiver: str = "",
) -> AlertmanagerView:
    """The view of a message's alerts (as ``template_context`` lists them) as Alertmanager's
    ``Data``."""
    return AlertmanagerView(
        Receiver=quote_meta(receiver),
        Status="firing" if firing_total > 0 else "resolved",
        Alerts=GoAlerts(
            GoAlert(
                Status="resolved" if a["status"] == "resolved" else "firing",
                Labels=GoKV(a["labels"]),
                Annotations=GoKV(a["annotations"]),
                StartsAt=go_time(a["starts_at_iso"]),
                EndsAt=go_time(a["ends_at_iso"]),
                GeneratorURL=a["generator_url"],
                Fingerprint=a["fingerprint"],
            )
            for a in alerts
        ),
        GroupLabels=GoKV(group_labels),
        CommonLabels=GoKV(common),
        CommonAnnotations=GoKV(common_annotations),
        ExternalURL=_base_url(external_url),
    )


def common_labels(
    group_labels: Mapping[str, str], listed: Sequence[Mapping[str, str]], truncated: bool
) -> dict[str, str]:
    """The labels every alert of the incident has (Alertmanager's CommonLabels), from the
    alerts ``listed``. When they are not all of them (``truncated``), a label the listed
    share may differ in one not listed: only the group labels are sure to be common (every
    alert of the group has them, as Alertmanager's CommonLabels always hold its GroupLabels)."""
    found = common(listed)
    if not truncated:
        return found
    return {k: v for k, v in found.items() if group_labels.get(k) == v}


_STATUS_OF_KIND = {"resolved": "resolved", "acknowledged": "acknowledged"}
_SAMPLE_TEXT = {
    "status_update": "Rolled back pebble-api to v1.41.2; error rate is falling. "
    "Next update in 15 min.",
    "update_reminder": "No status update for 30m; one is due every 30m at this severity.",
    "storm_update": 'Storm on route {team="db"} (receiver db): 1,234 new incidents in 1m.',
    "duty_reminder": "alice: Write the incident report for incident #42 is due "
    "2027-01-16 08:00:00 UTC (in 2h). When it is done: tocsin actions done 7",
    "held_summary": "3 messages held back in the last 4m: 2 incidents (#41, #42).",
}


def sample_context(kind: str = "firing") -> dict[str, Any]:
    """A realistic context (two firing alerts, one resolved, a runbook, two diagnostics, a
    recipient) that ``tocsin config check`` renders every configured template against."""
    group = {"alertname": "HighErrorRate", "service": "pebble-api"}
    alerts: list[dict[str, Any]] = [
        {
            "fingerprint": "3b1f9a4c2d7e8f01",
            "status": "firing",
            "labels": {
                **group,
                "severity": "critical",
                "instance": "10.0.3.17:8080",
                "job": "pebble-api",
                "team": "payments",
            },
            "annotations": {
                "summary": "5xx ratio is 7.2% on 10.0.3.17:8080 (threshold 5%)",
                "description": "More than 5% of requests failed over the last 10 minutes.\n"
                "Checkout is affected.",
                "runbook_url": "https://runbooks.example.com/pebble-api#higherrorrate",
            },
            "starts_at": "2024-05-14T02:58:10Z",
            "ends_at": "",
        },
        {
            "fingerprint": "9c04e51b77a2d3f6",
            "status": "firing",
            "labels": {
                **group,
                "severity": "critical",
                "instance": "10.0.3.18:8080",
                "job": "pebble-api",
                "team": "payments",
            },
            "annotations": {
                "summary": "5xx ratio is 6.1% on 10.0.3.18:8080 (threshold 5%)",
                "runbook_url": "https://runbooks.example.com/pebble-api#higherrorrate",
            },
            "starts_at": "2024-05-14T02:59:40Z",
            "ends_at": "",
        },
        {
            "fingerprint": "51d2a0f3c9b8e764",
            "status": "resolved",
            "labels": {
                **group,
                "severity": "critical",
                "instance": "10.0.3.19:8080",
                "job": "pebble-api",
                "team": "payments",
            },
            "annotations": {"summary": "5xx ratio is 5.4% on 10.0.3.19:8080 (threshold 5%)"},
            "starts_at": "2024-05-14T02:57:55Z",
            "ends_at": "2024-05-14T03:04:10Z",
        },
    ]
    if kind == "resolved":
        alerts = [
            {**a, "status": "resolved", "ends_at": a["ends_at"] or "2024-05-14T03:12:30Z"}
            for a in alerts
        ]
    return template_context(
        kind=kind,
        incident_id=42,
        title="HighErrorRate pebble-api",
        status=_STATUS_OF_KIND.get(kind, "triggered"),
        severity="critical",
        summary="Error rate above 5% on 2 of 3 pebble-api instances; checkout is failing",
        group_labels=group,
        alerts=alerts,
        idempotency_key="incident-42-firing-1",
        created_at="2024-05-14T03:05:00Z",
        actor="ana" if kind in _STATUS_OF_KIND else None,
        acted_at="2024-05-14 03:05:00 UTC" if kind in _STATUS_OF_KIND else None,
        external_url="https://tocsin.example.com/incidents/42",
        runbook_url="https://runbooks.example.com/pebble-api#higherrorrate",
        runbook_title="pebble-api: HighErrorRate",
        diagnostics=[
            {
                "title": "Error rate by route",
                "language": "promql",
                "code": 'sum by (route) (rate(http_requests_total{job="pebble-api",'
                'code=~"5.."}[5m]))',
                "risk": "read",
            },
            {
                "title": "Recent errors in the logs",
                "language": "bash",
                "code": "kubectl -n payments logs deploy/pebble-api --since=15m \\\n"
                "  | grep -i error | tail -50",
                "risk": "read",
            },
        ],
        other_steps=[
            {"title": "Roll back the last deploy", "phase": "remediate", "risk": "change"}
        ],
        alert_link={"url": "https://wiki.example.com/pebble-api", "host": "wiki.example.com"},
        escalation_step=2 if kind == "escalation" else None,
        recipient={"name": "Ada Lovelace", "email": "ada@example.com", "slack": "U024BE7LH"},
        text=_SAMPLE_TEXT.get(kind),
        actions={
            "acknowledge": "https://tocsin.example.com/act/acknowledge/42?who=ada&n=0&sig=x",
            "resolve": "https://tocsin.example.com/act/resolve/42?who=ada&n=0&sig=x",
        },
    )
