"""Channels: the last stage of the data path, where a ``Message`` leaves tocsin.

``build_channel`` turns a channel's configuration into a ``Channel`` whose ``send`` makes one
delivery attempt and reports it as an ``Outcome``; it never raises for a delivery problem
(a refused connection, a timeout, a 4xx, a TLS failure). Whether and when to try again is the
retry policy's business (``notify.retry``), not the channel's.

What each channel sends:

- **slack** (incoming webhook): Block Kit JSON, a header with the title, the status, severity,
  summary and alerts, the runbook link, the first diagnostics as code blocks and the incident
  link; the person paged is mentioned. Untrusted text is escaped (``&``, ``<``, ``>``), so a
  label cannot mention ``<!channel>``; every text fits Slack's limits.
- **email** (SMTP with ``aiosmtplib``): multipart/alternative, text and HTML from the
  templates, to the person paged (``recipient.email``) or else the channel's ``to``.
- **webhook**: the message as JSON (``to_json`` plus ``"version": "1"``), signed (below).
- **pagerduty**: an Events API v2 event (``trigger``/``acknowledge``/``resolve``) with
  ``dedup_key`` ``tocsin-<incident id>``, so PagerDuty keeps one alert per incident.
- **console**: the rendered title and text on a stream (``tocsin simulate``, local use).

Templates: ``templates.title``/``text``/``html`` of a channel replace the defaults of
``tocsin.templating``. Slack and PagerDuty use the title; Slack uses a configured ``text``
template in place of its status and alert sections; email uses all three; the webhook sends
data, not text. If a configured template fails on a real message (``config check`` renders
it against sample data, but a real message can differ), the default is used and the text
says so: a page is never dropped for a template.

Webhook signature (for receivers)
---------------------------------
Every webhook request carries::

    Idempotency-Key: <the message's idempotency key; the same on every retry>
    X-Tocsin-Timestamp: <unix seconds when this attempt was sent>
    X-Tocsin-Signature: v1=<hex HMAC-SHA256>          (only when the channel has a secret)

The signature is ``HMAC-SHA256(key=secret, msg=f"{timestamp}.".encode() + raw_body)`` in
lowercase hex, ``raw_body`` being the exact bytes of the request body (UTF-8 JSON; verify
before parsing it). A receiver recomputes it, compares in constant time and rejects a
timestamp more than five minutes from its clock (replays); ``verify_signature`` does exactly
that. The header may list several comma-separated ``v1=`` values (key rotation); one match is
enough.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import hashlib
import hmac
import json
import logging
import os
import re
import ssl
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from html import escape as html_escape
from pathlib import Path
from typing import Any, Protocol, TextIO

import aiohttp
import aiosmtplib
import yarl
from multidict import CIMultiDictProxy

from tocsin.clock import Clock, RealClock
from tocsin.config import (
    ChannelTemplates,
    ConsoleChannelConfig,
    EmailChannelConfig,
    PagerDutyChannelConfig,
    Secret,
    SlackChannelConfig,
    WebhookChannelConfig,
)
from tocsin.errors import Invalid
from tocsin.notify.message import Message, message_context, to_json
from tocsin.notify.retry import Outcome, parse_retry_after, smtp_outcome
from tocsin.templating import (
    DEFAULT_TEMPLATES,
    Template,
    TemplateError,
    check_template,
    compile_template,
    one_line,
    render,
    web_url,
)
from tocsin.times import parse_duration

log = logging.getLogger(__name__)

AnyChannelConfig = (
    SlackChannelConfig
    | EmailChannelConfig
    | WebhookChannelConfig
    | PagerDutyChannelConfig
    | ConsoleChannelConfig
)
SecretResolver = Callable[[Secret], str]

WEBHOOK_VERSION = "1"
SIGNATURE_TOLERANCE_S = 300.0
_MAX_RESPONSE_BYTES = 64 * 1024  # what we read of a receiver's answer
_MAX_HEADER_LINE = 64 * 1024  # a receiver's header line (aiohttp's own limit is 8190 bytes)
_MAX_ERROR_CHARS = 300
_USER_AGENT = "tocsin"
# Kinds that page the recipient (ask them to act), as opposed to telling them something.
_PAGING_KINDS = frozenset({"firing", "escalation", "deadline", "reminder"})
# Kinds whose ``text`` (written by a person, or the reminder's) leads the Slack message.
_TEXT_HEADINGS = {"status_update": "Update", "update_reminder": "Status update due"}


class Channel(Protocol):
    name: str
    kind: str

    async def send(self, message: Message) -> Outcome:
        """One delivery attempt; every delivery problem is an Outcome, never an exception."""
        ...


class ChannelConfigError(Invalid):
    """A channel cannot be built from its configuration (missing secret, bad URL, ...)."""


# --- secrets -------------------------------------------------------------------------------


def resolve_secret(secret: Secret) -> str:
    """The secret's value: inline, else the file's contents (stripped), else the environment
    variable. ChannelConfigError when none is given or the one given is missing."""
    if secret.value is not None:
        return secret.value
    if secret.file is not None:
        try:
            return Path(secret.file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ChannelConfigError(f"cannot read secret file {secret.file}: {exc}") from None
    if secret.env is not None:
        value = os.environ.get(secret.env)
        if value is None:
            raise ChannelConfigError(f"environment variable {secret.env} is not set")
        return value
    raise ChannelConfigError("a secret needs one of value, file or env")


def _secret(resolver: SecretResolver, secret: Secret, what: str) -> str:
    try:
        value = resolver(secret)
    except ChannelConfigError as exc:
        raise ChannelConfigError(f"{what}: {exc}") from None
    if not value:
        raise ChannelConfigError(f"{what} is empty")
    return value


# --- templates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    title: str  # one line
    text: str
    html: str


class ChannelTemplateSet:
    """A channel's title/text/html templates, compiled once when the channel is built."""

    def __init__(self, channel: str, cfg: ChannelTemplates) -> None:
        self.defaults = {
            part: compile_template(source, f"default.{part}", html=html)
            for part, (source, html) in DEFAULT_TEMPLATES.items()
        }
        self.custom: dict[str, Template] = {}
        for part, (_, html) in DEFAULT_TEMPLATES.items():
            source = getattr(cfg, part)
            if source is not None:
                try:
                    self.custom[part] = check_template(source, f"{channel}.{part}", html=html)
                except TemplateError as exc:
                    raise ChannelConfigError(str(exc)) from None

    def has_custom(self, part: str) -> bool:
        return part in self.custom

    def render(self, part: str, context: Mapping[str, Any]) -> str:
        custom = self.custom.get(part)
        if custom is not None:
            try:
                out = render(custom, context)
            except TemplateError as exc:
                log.warning("%s; the default template is used instead", exc)
                out = render(self.defaults[part], context)
                note = f"[tocsin: {exc}; the default template was used]"
                if part == "text":
                    out = f"{note}\n\n{out}"
                elif part == "html":
                    out = f"<p><em>{html_escape(note)}</em></p>\n{out}"
            return one_line(out) if part == "title" else out
        out = render(self.defaults[part], context)
        return one_line(out) if part == "title" else out

    def render_all(self, message: Message) -> Rendered:
        context = message_context(message)
        return Rendered(
            title=self.render("title", context),
            text=self.render("text", context),
            html=self.render("html", context),
        )


# --- HTTP ----------------------------------------------------------------------------------


def http_session(tls: ssl.SSLContext | None = None) -> aiohttp.ClientSession:
    """The HTTP client the Slack, webhook and PagerDuty channels share; create it inside the
    running event loop (aiohttp binds it there) and close it with ``await session.close()``.

    Certificates are verified (against ``tls`` when given, else the system's CAs); proxies and
    netrc from the environment are ignored (``trust_env=False``); no cookie is kept between
    requests; idle connections are kept for 5 s."""
    connector = aiohttp.TCPConnector(ssl=tls if tls is not None else True, keepalive_timeout=5.0)
    return aiohttp.ClientSession(
        connector=connector,
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None),  # each request is bounded by its channel
        max_line_size=_MAX_HEADER_LINE,
        max_field_size=_MAX_HEADER_LINE,
    )


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: CIMultiDictProxy[str]  # names are case-insensitive
    body: str


def _error_text(body: str) -> str:
    return one_line(body, _MAX_ERROR_CHARS)


def _client_error(exc: Exception, url: str) -> str:
    """``Name: text`` of an exception from the HTTP client, without the URL (a Slack webhook
    URL is a secret): aiohttp puts the whole URL into the text of some of its exceptions."""
    if isinstance(exc, aiohttp.ClientResponseError):  # "<status>, message=..., url=..."
        text = f"{exc.status}, message={exc.message!r}"
    elif isinstance(exc, aiohttp.InvalidURL):  # its text is the URL
        text = "the URL is not valid"
    else:
        text = str(exc)
    # and in case another exception names it: the URL (as given or as aiohttp writes it),
    # its path and query
    try:
        parsed = yarl.URL(url)
        parts = {url, str(parsed), parsed.raw_path_qs, parsed.path_qs}
    except (ValueError, TypeError):
        parts = {url}
    for part in sorted(parts - {"", "/"}, key=len, reverse=True):
        text = text.replace(part, "<url>")
    return _error_text(f"{type(exc).__name__}: {text}")


async def _post(
    http: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout_s: float,
) -> _Answer | Outcome:
    """POST once; the answer, or the Outcome of a request that got none. The URL is never put
    into an error (a Slack webhook URL is a secret)."""
    try:
        async with (
            asyncio.timeout(timeout_s),
            http.post(
                url,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as response,
        ):
            # An untrusted peer: read no more than we keep. A response left unread is not
            # put back in the pool: aiohttp closes its connection.
            data = bytearray()
            while len(data) < _MAX_RESPONSE_BYTES:
                chunk = await response.content.read(_MAX_RESPONSE_BYTES - len(data))
                if not chunk:
                    break
                data += chunk
            return _Answer(response.status, response.headers, data.decode("utf-8", "replace"))
    except TimeoutError:  # aiohttp's own timeouts are TimeoutErrors too
        return Outcome(ok=False, status=None, error=f"no answer within {timeout_s:g}s")
    except (aiohttp.ClientError, OSError) as exc:
        return Outcome(ok=False, status=None, error=_client_error(exc, url))


def _http_outcome(answer: _Answer, ok: bool, now: float) -> Outcome:
    if ok:
        return Outcome(ok=True, status=answer.status)
    return Outcome(
        ok=False,
        status=answer.status,
        retry_after_s=parse_retry_after(answer.headers.get("retry-after"), now),
        error=_error_text(f"HTTP {answer.status}: {answer.body}"),
    )


def _check_url(url: str, what: str) -> str:
    try:
        parsed = yarl.URL(url)
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):  # yarl would drop them
            raise ValueError("a control character")
    except (ValueError, TypeError):
        # the URL itself stays out of the error: a Slack webhook URL is a secret
        raise ChannelConfigError(f"{what} is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ChannelConfigError(f"{what} must be an http(s) URL with a host")
    return url


async def _guarded(channel: str, attempt: Callable[[], Awaitable[Outcome]]) -> Outcome:
    """Run one attempt; a bug in a channel (not a delivery problem) becomes a permanent
    failure, so that the message is dead-lettered to the fallback channel at once."""
    try:
        return await attempt()
    except Exception as exc:
        log.exception("channel %s failed to send a message", channel)
        return Outcome(
            ok=False,
            status=None,
            error=_error_text(f"internal error: {type(exc).__name__}: {exc}"),
            transient=False,
        )


# --- Slack ---------------------------------------------------------------------------------

SLACK_MAX_BLOCKS = 50
SLACK_MAX_HEADER = 150
SLACK_MAX_TEXT = 3000
_SLACK_MAX_DIAGNOSTICS = 3
_SLACK_MAX_ALERTS = 10
_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")


def slack_escape(text: str) -> str:
    """Slack's three control characters, escaped as Slack asks (mrkdwn and ``text``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fit(escaped: str, limit: int) -> str:
    """Cut already escaped mrkdwn to ``limit`` characters without splitting an entity."""
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def _mrkdwn(text: str, limit: int = SLACK_MAX_TEXT) -> str:
    return _fit(slack_escape(text), limit)


def _slack_link(url: str | None, label: str) -> str:
    """``<url|label>``, or the escaped label when the URL is not a web link."""
    text = _mrkdwn(label.replace("|", "/"), 300)
    link = web_url(url)
    if link is None or len(link) > 2000:  # an absurd URL is not worth a broken section
        return text
    safe = link.replace("&", "&amp;")
    for char, code in (("<", "%3C"), (">", "%3E"), ("|", "%7C"), (" ", "%20")):
        safe = safe.replace(char, code)
    return f"<{safe}|{text}>"


def _code_block(code: str, limit: int) -> str:
    # A ``` inside the code would close the block early; a zero-width space breaks it up.
    body = slack_escape(code.replace("```", "`\u200b``"))
    return f"```\n{_fit(body, limit - 8)}\n```"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _fit(text, SLACK_MAX_TEXT)}}


def _slack_mention(recipient: Mapping[str, str] | None) -> str:
    if not recipient:
        return ""
    slack_id = recipient.get("slack", "")
    if _SLACK_USER_ID.match(slack_id):
        return f"<@{slack_id}>"
    return f"*{_mrkdwn(recipient.get('name') or recipient.get('email') or '', 200)}*"


def _alert_line(alert: Mapping[str, Any], common: Mapping[str, str]) -> str:
    labels: Mapping[str, str] = alert.get("labels", {})
    own = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in common)
    summary = alert.get("annotations", {}).get("summary", "")
    line = f"• *{_mrkdwn(alert.get('name') or 'alert', 200)}*"
    if own:
        line += f" `{_mrkdwn(own, 300)}`"
    if summary:
        line += f" — {_mrkdwn(summary, 500)}"
    return line


def _chunks(escaped: str, size: int = SLACK_MAX_TEXT, most: int = 20) -> list[str]:
    """Escaped mrkdwn in section-sized pieces, never splitting an entity; past ``most``
    pieces the rest is cut and marked."""
    out: list[str] = []
    while escaped and len(out) < most:
        end = len(escaped) if len(escaped) <= size else size
        amp = escaped.rfind("&", max(0, end - 5), end)
        if end < len(escaped) and amp != -1 and ";" not in escaped[amp:end]:
            end = amp
        out.append(escaped[:end])
        escaped = escaped[end:]
    if escaped:
        out[-1] = _fit(out[-1], size - 40) + " (cut: longer than Slack allows)"
    return out


def _alert_list(heading: str, items: list[dict[str, Any]], common: Mapping[str, str]) -> str:
    """Up to ten alert lines, as many as fit one section, then how many were left out."""
    text = f"*{heading}:*"
    budget = SLACK_MAX_TEXT - 40  # room for the "and N more" line
    shown = 0
    for alert in items[:_SLACK_MAX_ALERTS]:
        line = _alert_line(alert, common)
        if len(text) + 1 + len(line) > budget:
            break
        text += "\n" + line
        shown += 1
    if shown < len(items):
        text += f"\n… and {len(items) - shown} more"
    return text


def slack_payload(message: Message, title: str, body: str | None = None) -> dict[str, Any]:
    """The Block Kit message for ``message``; ``body`` (a rendered text template) replaces the
    status and alert sections when given."""
    context = message_context(message)
    mention = _slack_mention(message.recipient) if message.kind in _PAGING_KINDS else ""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": one_line(title, SLACK_MAX_HEADER) or "tocsin"},
        }
    ]
    if mention:
        step = f" (escalation step {message.escalation_step})" if message.escalation_step else ""
        blocks.append(_section(f"{mention} you are paged for this incident{step}."))
    if message.kind in _TEXT_HEADINGS and message.text:
        heading = _TEXT_HEADINGS[message.kind]
        blocks.append(_section(f"*{heading}:*\n{_mrkdwn(message.text, SLACK_MAX_TEXT - 30)}"))
    if body is not None:
        blocks += [_section(chunk) for chunk in _chunks(slack_escape(body.strip()) or " ")]
    else:
        firing, resolved = context["firing"], context["resolved"]
        status = (
            f"*Status:* {_mrkdwn(message.status, 50)}    "
            f"*Severity:* {_mrkdwn(message.severity or 'none', 100)}    "
            f"*Alerts:* {len(firing)} firing, {len(resolved)} resolved"
        )
        if message.summary:
            status += f"\n{_mrkdwn(message.summary, 2500)}"
        blocks.append(_section(status))
    if message.runbook_url or message.runbook_title:
        label = message.runbook_title or message.runbook_url or "runbook"
        blocks.append(_section(f"*Runbook:* {_slack_link(message.runbook_url, label)}"))
    for i, diag in enumerate(message.diagnostics[:_SLACK_MAX_DIAGNOSTICS], start=1):
        about = ", ".join(x for x in (diag.get("risk"), diag.get("language")) if x)
        head = f"*{i}. {_mrkdwn(diag.get('title') or 'Diagnostic', 300)}*"
        if about:
            head += f" _({_mrkdwn(about, 100)})_"
        code = _code_block(diag.get("code", ""), SLACK_MAX_TEXT - len(head) - 1)
        blocks.append(_section(f"{head}\n{code}"))
    if body is None:  # the alerts come after what to do about them
        for heading, items in (("Firing", context["firing"]), ("Resolved", context["resolved"])):
            if items:
                blocks.append(_section(_alert_list(heading, items, context["common_labels"])))
    incident = f"Incident #{message.incident_id}"
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{_slack_link(message.external_url, incident)} · tocsin",
                }
            ],
        }
    )
    fallback = slack_escape(one_line(title))
    return {
        "text": _fit(f"{mention} {fallback}" if mention else fallback, SLACK_MAX_TEXT),
        "blocks": blocks[:SLACK_MAX_BLOCKS],
    }


class _Channel:
    """What every channel shares: ``send`` never raises (``_guarded`` turns any failure into
    an Outcome); each channel implements ``_send``."""

    name: str

    async def send(self, message: Message) -> Outcome:
        return await _guarded(self.name, lambda: self._send(message))

    async def _send(self, message: Message) -> Outcome:
        raise NotImplementedError


class _HttpChannel(_Channel):
    """A channel that POSTs to a URL."""

    def __init__(
        self, name: str, url: str, http: aiohttp.ClientSession, timeout_s: float, clock: Clock
    ) -> None:
        self.name = name
        self._url = url
        self._http = http
        self._timeout_s = timeout_s
        self._clock = clock


class SlackChannel(_HttpChannel):
    kind = "slack"

    def __init__(
        self,
        name: str,
        url: str,
        templates: ChannelTemplateSet,
        http: aiohttp.ClientSession,
        timeout_s: float,
        clock: Clock,
    ) -> None:
        super().__init__(name, url, http, timeout_s, clock)
        self._templates = templates

    def payload(self, message: Message) -> dict[str, Any]:
        context = message_context(message)
        title = self._templates.render("title", context)
        body = (
            self._templates.render("text", context) if self._templates.has_custom("text") else None
        )
        return slack_payload(message, title, body)

    async def _send(self, message: Message) -> Outcome:
        body = json.dumps(self.payload(message), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": _USER_AGENT}
        answer = await _post(self._http, self._url, body, headers, self._timeout_s)
        if isinstance(answer, Outcome):
            return answer
        # Slack answers 200 "ok"; Slack-compatible receivers (Mattermost, ...) any 2xx.
        return _http_outcome(answer, 200 <= answer.status <= 299, self._clock.now())


# --- webhook -------------------------------------------------------------------------------


def sign(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Tocsin-Signature`` value for a body sent at ``timestamp``."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    digest = hmac.new(key, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify_signature(
    secret: str | bytes,
    timestamp: str,
    body: bytes | str,
    header: str,
    now: float,
    tolerance_s: float = SIGNATURE_TOLERANCE_S,
) -> bool:
    """What a receiver does: the timestamp is within ``tolerance_s`` of ``now`` and one of the
    header's ``v1=`` signatures is the HMAC of ``timestamp.body`` (compared in constant time)."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance_s:
        return False
    raw = body.encode("utf-8") if isinstance(body, str) else body
    expected = sign(secret, timestamp, raw)
    candidates = [part.strip() for part in header.split(",")]
    return any(
        hmac.compare_digest(c.encode("utf-8"), expected.encode("ascii"))
        for c in candidates
        if c.startswith("v1=")
    )


_RESERVED_HEADERS = frozenset(
    {"content-type", "idempotency-key", "x-tocsin-timestamp", "x-tocsin-signature", "host"}
)


class WebhookChannel(_HttpChannel):
    kind = "webhook"

    def __init__(
        self,
        name: str,
        url: str,
        secret: str | None,
        headers: Mapping[str, str],
        http: aiohttp.ClientSession,
        timeout_s: float,
        clock: Clock,
    ) -> None:
        super().__init__(name, url, http, timeout_s, clock)
        self._secret = secret
        self._headers = dict(headers)

    @staticmethod
    def body(message: Message) -> bytes:
        return json.dumps(
            {"version": WEBHOOK_VERSION, **to_json(message)},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")

    async def _send(self, message: Message) -> Outcome:
        body = self.body(message)
        timestamp = str(int(self._clock.now()))
        headers = {"User-Agent": _USER_AGENT, **self._headers}
        headers["Content-Type"] = "application/json"
        headers["Idempotency-Key"] = one_line(message.idempotency_key)
        headers["X-Tocsin-Timestamp"] = timestamp
        if self._secret is not None:
            headers["X-Tocsin-Signature"] = sign(self._secret, timestamp, body)
        answer = await _post(self._http, self._url, body, headers, self._timeout_s)
        if isinstance(answer, Outcome):
            return answer
        return _http_outcome(answer, 200 <= answer.status <= 299, self._clock.now())


# --- PagerDuty -----------------------------------------------------------------------------

PAGERDUTY_MAX_SUMMARY = 1024
_PD_SEVERITY = {
    "critical": "critical",
    "crit": "critical",
    "page": "critical",
    "emergency": "critical",
    "fatal": "critical",
    "p1": "critical",
    "sev1": "critical",
    "error": "error",
    "err": "error",
    "high": "error",
    "major": "error",
    "p2": "error",
    "sev2": "error",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "minor": "warning",
    "p3": "warning",
    "sev3": "warning",
    "info": "info",
    "informational": "info",
    "low": "info",
    "notice": "info",
    "none": "info",
    "p4": "info",
    "p5": "info",
    "sev4": "info",
    "sev5": "info",
}


def pagerduty_severity(severity: str | None) -> str:
    """PagerDuty's four severities from ours. Unknown or missing maps to ``critical``, as in
    Alertmanager: an alert tocsin forwards to PagerDuty must not be quietly down-graded."""
    if severity is None:
        return "critical"
    return _PD_SEVERITY.get(severity.strip().lower(), "critical")


def pagerduty_action(message: Message) -> str:
    """``resolve`` and ``acknowledge`` for those kinds; every other kind triggers (PagerDuty
    folds a repeated trigger with the same dedup_key into the open alert's log)."""
    if message.kind == "resolved":
        return "resolve"
    if message.kind == "acknowledged":
        return "acknowledge"
    return "trigger"


def pagerduty_event(message: Message, routing_key: str, summary: str) -> dict[str, Any]:
    """The Events API v2 body. ``acknowledge``/``resolve`` carry only the routing and dedup
    keys, as the API asks; ``trigger`` carries the payload and links."""
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": pagerduty_action(message),
        "dedup_key": f"tocsin-{message.incident_id}",
    }
    if event["event_action"] != "trigger":
        return event
    context = message_context(message)
    common: dict[str, str] = context["common_labels"]
    labels = {**common, **message.group_labels}
    source = labels.get("instance") or labels.get("service") or labels.get("job") or "tocsin"
    payload: dict[str, Any] = {
        "summary": one_line(summary, PAGERDUTY_MAX_SUMMARY) or f"tocsin #{message.incident_id}",
        "source": one_line(source, 255),
        "severity": pagerduty_severity(message.severity),
        "timestamp": message.created_at,
        "custom_details": {
            "incident_id": message.incident_id,
            "kind": message.kind,
            "status": message.status,
            "severity": message.severity,
            "summary": message.summary,
            "group_labels": message.group_labels,
            "firing": [
                {
                    "labels": a["labels"],
                    "annotations": a["annotations"],
                    "starts_at": a["starts_at"],
                }
                for a in context["firing"][:20]
            ],
            "firing_count": len(context["firing"]),
            "resolved_count": len(context["resolved"]),
            "diagnostics": list(message.diagnostics[:3]),
            "incident_url": context["external_url"],
        },
    }
    if message.text:
        payload["custom_details"]["update"] = message.text
    if labels.get("alertname"):
        payload["class"] = labels["alertname"]
    if labels.get("service") or labels.get("job"):
        payload["component"] = labels.get("service") or labels.get("job")
    if labels.get("team"):
        payload["group"] = labels["team"]
    event["payload"] = payload
    links = []
    if context["runbook_url"]:
        links.append({"href": context["runbook_url"], "text": message.runbook_title or "Runbook"})
    if context["external_url"]:
        links.append(
            {"href": context["external_url"], "text": f"tocsin incident #{message.incident_id}"}
        )
    if links:
        event["links"] = links
    event["client"] = "tocsin"
    if context["external_url"]:
        event["client_url"] = context["external_url"]
    return event


class PagerDutyChannel(_HttpChannel):
    kind = "pagerduty"

    def __init__(
        self,
        name: str,
        url: str,
        routing_key: str,
        templates: ChannelTemplateSet,
        http: aiohttp.ClientSession,
        timeout_s: float,
        clock: Clock,
    ) -> None:
        super().__init__(name, url, http, timeout_s, clock)
        self._routing_key = routing_key
        self._templates = templates

    def event(self, message: Message) -> dict[str, Any]:
        summary = self._templates.render("title", message_context(message))
        return pagerduty_event(message, self._routing_key, summary)

    async def _send(self, message: Message) -> Outcome:
        if message.kind in _TEXT_HEADINGS and message.status == "resolved":
            # a trigger would open the resolved PagerDuty incident again; Events v2 has no
            # "note" event, so news about a resolved incident is not sent here
            return Outcome(ok=True, error="not sent: news about a resolved incident")
        body = json.dumps(self.event(message), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": _USER_AGENT}
        answer = await _post(self._http, self._url, body, headers, self._timeout_s)
        if isinstance(answer, Outcome):
            return answer
        # 202 is PagerDuty's success; 400 (invalid event) is permanent, 429 and 5xx retried.
        return _http_outcome(answer, 200 <= answer.status <= 299, self._clock.now())


# --- email ---------------------------------------------------------------------------------

_MAX_SUBJECT = 250
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]")


def _address(text: str, what: str) -> str:
    """A single address, or ValueError: no CR/LF, exactly one @."""
    text = text.strip()
    if not text or any(c in text for c in "\r\n") or text.count("@") != 1:
        raise ValueError(f"{what} {text!r} is not an email address")
    Address(addr_spec=text)  # raises on what the header would not accept
    return text


def _message_id(key: str, domain: str) -> str:
    """``<key@domain>``: the idempotency key, made safe for a Message-ID (with a digest of
    the original when characters had to be replaced, so that two keys stay two ids)."""
    safe = _ID_UNSAFE.sub("-", key).strip(".")[:150] or "message"
    if safe != key:
        safe += "." + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    return f"<{safe}@{domain}>"


def email_message(
    message: Message, rendered: Rendered, sender: str, recipients: list[str], now: float
) -> EmailMessage:
    """The MIME message: multipart/alternative, text then HTML. Header values are single
    lines, so nothing in an alert can add a header."""
    domain = sender.rsplit("@", 1)[-1].strip("> ") or "tocsin.invalid"
    if not re.fullmatch(r"[A-Za-z0-9.-]+", domain):
        domain = "tocsin.invalid"
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["Subject"] = one_line(rendered.title, _MAX_SUBJECT) or f"tocsin #{message.incident_id}"
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = formatdate(now, usegmt=True)
    mail["Message-ID"] = _message_id(message.idempotency_key, domain)
    # Every message of an incident threads under one (never sent) root in mail clients.
    mail["References"] = f"<tocsin-incident-{message.incident_id}@{domain}>"
    mail["X-Tocsin-Idempotency-Key"] = one_line(message.idempotency_key, 500)
    mail["X-Tocsin-Incident"] = str(message.incident_id)
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    mail.set_content(rendered.text or " ")
    mail.add_alternative(rendered.html or "<p></p>", subtype="html")
    return mail


@dataclass(frozen=True)
class _Smtp:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None
    tls_context: ssl.SSLContext | None


def _tls_context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ChannelConfigError(f"cannot load CA file {ca_file}: {exc}") from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _StartTlsMissing(Exception):
    pass


class EmailChannel(_Channel):
    kind = "email"

    def __init__(
        self,
        name: str,
        smtp: _Smtp,
        sender: str,
        to: list[str],
        templates: ChannelTemplateSet,
        timeout_s: float,
        clock: Clock,
    ) -> None:
        self.name = name
        self._smtp = smtp
        self._sender = sender
        self._to = to
        self._templates = templates
        self._timeout_s = timeout_s
        self._clock = clock

    def recipients(self, message: Message) -> list[str]:
        if message.recipient and message.recipient.get("email"):
            return [message.recipient["email"]]
        return list(self._to)

    def build(self, message: Message, recipients: list[str]) -> EmailMessage:
        rendered = self._templates.render_all(message)
        return email_message(message, rendered, self._sender, recipients, self._clock.now())

    async def _transmit(
        self, mail: EmailMessage, recipients: list[str]
    ) -> dict[str, aiosmtplib.SMTPResponse]:
        """One SMTP session: connect (implicit TLS), EHLO, STARTTLS when required, AUTH,
        MAIL/RCPT/DATA; the recipients that were refused while others were accepted."""
        smtp = self._smtp
        client = aiosmtplib.SMTP(
            hostname=smtp.host,
            port=smtp.port,
            use_tls=smtp.implicit_tls,
            start_tls=False,  # done below, so that a missing STARTTLS is told apart
            tls_context=smtp.tls_context,
            timeout=self._timeout_s,
        )
        await client.connect()
        try:
            await client.ehlo()
            if smtp.starttls:
                if not client.supports_extension("starttls"):
                    raise _StartTlsMissing()
                await client.starttls()
            if smtp.username is not None and smtp.password is not None:
                await client.login(smtp.username, smtp.password)
            refused, _ = await client.send_message(mail, sender=self._sender, recipients=recipients)
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.quit()
            return refused
        finally:
            client.close()

    async def _send(self, message: Message) -> Outcome:
        try:
            recipients = [_address(r, "recipient") for r in self.recipients(message)]
        except ValueError as exc:
            return Outcome(ok=False, error=_error_text(str(exc)), transient=False)
        if not recipients:
            return Outcome(
                ok=False,
                error="no recipient: the message pages nobody with an email and `to` is empty",
                transient=False,
            )
        mail = self.build(message, recipients)
        try:
            async with asyncio.timeout(self._timeout_s):
                refused = await self._transmit(mail, recipients)
        except (TimeoutError, aiosmtplib.SMTPTimeoutError):
            return Outcome(ok=False, status=None, error=f"no answer within {self._timeout_s:g}s")
        except aiosmtplib.SMTPRecipientsRefused as exc:
            first = exc.recipients[0]
            return smtp_outcome(first.code, _error_text(f"recipients refused: {first.message}"))
        except aiosmtplib.SMTPResponseException as exc:
            return smtp_outcome(exc.code, _error_text(f"SMTP {exc.code}: {exc.message}"))
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected) as exc:
            return Outcome(ok=False, status=None, error=_error_text(f"connection: {exc}"))
        except _StartTlsMissing:
            # Required TLS not offered: a misconfiguration or a downgrade; do not wait for it.
            return Outcome(
                ok=False,
                error="the server does not offer STARTTLS, which this channel requires",
                transient=False,
            )
        except (aiosmtplib.SMTPException, ssl.SSLError, OSError) as exc:
            return Outcome(ok=False, status=None, error=_error_text(f"{type(exc).__name__}: {exc}"))
        if refused:
            # Some recipients took it: sending again would page them twice.
            return Outcome(
                ok=True,
                status=250,
                error=_error_text(
                    "refused by " + ", ".join(f"{r} ({v.code})" for r, v in refused.items())
                ),
            )
        return Outcome(ok=True, status=250)


# --- console -------------------------------------------------------------------------------


class ConsoleChannel(_Channel):
    kind = "console"

    def __init__(self, name: str, templates: ChannelTemplateSet, stream: TextIO | None) -> None:
        self.name = name
        self._templates = templates
        self._stream = stream

    async def _send(self, message: Message) -> Outcome:
        context = message_context(message)
        title = self._templates.render("title", context)
        text = self._templates.render("text", context)
        stream = self._stream if self._stream is not None else sys.stdout
        try:
            stream.write(f"── {self.name} ── {title}\n{text.rstrip()}\n\n")
            stream.flush()
        except (OSError, ValueError) as exc:  # closed or broken stream
            return Outcome(ok=False, error=_error_text(f"{type(exc).__name__}: {exc}"))
        return Outcome(ok=True)


# --- building ------------------------------------------------------------------------------


def build_channel(
    cfg: AnyChannelConfig,
    *,
    http: aiohttp.ClientSession,
    secrets: SecretResolver | None = None,
    clock: Clock | None = None,
    stream: TextIO | None = None,
) -> Channel:
    """The channel a configuration describes. Secrets are resolved and templates compiled
    now, so that a missing secret or a broken template is a ChannelConfigError at load."""
    resolver = secrets or resolve_secret
    clock = clock or RealClock()
    timeout_s = parse_duration(cfg.retry.timeout)
    templates = ChannelTemplateSet(cfg.name, cfg.templates)
    where = f"channel {cfg.name!r}"
    if isinstance(cfg, SlackChannelConfig):
        if cfg.url is not None:
            url = cfg.url
        elif cfg.url_secret is not None:
            url = _secret(resolver, cfg.url_secret, f"{where}: url_secret")
        else:
            raise ChannelConfigError(f"{where}: a Slack channel needs url or url_secret")
        return SlackChannel(
            cfg.name, _check_url(url, f"{where}: url"), templates, http, timeout_s, clock
        )
    if isinstance(cfg, WebhookChannelConfig):
        for key, value in cfg.headers.items():
            if key.lower() in _RESERVED_HEADERS:
                raise ChannelConfigError(f"{where}: header {key} is set by tocsin")
            if any(c in key + value for c in "\r\n") or not key.strip():
                raise ChannelConfigError(f"{where}: header {key!r} is not a valid header")
        secret = _secret(resolver, cfg.secret, f"{where}: secret") if cfg.secret else None
        return WebhookChannel(
            cfg.name,
            _check_url(cfg.url, f"{where}: url"),
            secret,
            cfg.headers,
            http,
            timeout_s,
            clock,
        )
    if isinstance(cfg, PagerDutyChannelConfig):
        key = _secret(resolver, cfg.routing_key, f"{where}: routing_key")
        return PagerDutyChannel(
            cfg.name, _check_url(cfg.url, f"{where}: url"), key, templates, http, timeout_s, clock
        )
    if isinstance(cfg, EmailChannelConfig):
        smtp_cfg = cfg.smtp
        password = None
        if smtp_cfg.password is not None:
            password = _secret(resolver, smtp_cfg.password, f"{where}: smtp.password")
        if password is not None and smtp_cfg.username is None:
            raise ChannelConfigError(f"{where}: smtp.password is set without smtp.username")
        if smtp_cfg.username is not None and password is None:
            raise ChannelConfigError(f"{where}: smtp.username is set without smtp.password")
        try:
            sender = _address(cfg.sender, "from")
            to = [_address(t, "to") for t in cfg.to]
        except ValueError as exc:
            raise ChannelConfigError(f"{where}: {exc}") from None
        uses_tls = smtp_cfg.tls or smtp_cfg.starttls
        smtp = _Smtp(
            host=smtp_cfg.host,
            port=smtp_cfg.port,
            implicit_tls=smtp_cfg.tls,
            starttls=smtp_cfg.starttls and not smtp_cfg.tls,
            username=smtp_cfg.username,
            password=password,
            tls_context=_tls_context(smtp_cfg.verify, smtp_cfg.ca_file) if uses_tls else None,
        )
        return EmailChannel(cfg.name, smtp, sender, to, templates, timeout_s, clock)
    if isinstance(cfg, ConsoleChannelConfig):
        return ConsoleChannel(cfg.name, templates, stream)
    raise ChannelConfigError(f"{where}: unknown channel type {getattr(cfg, 'type', '?')!r}")
