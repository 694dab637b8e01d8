"""Slack (incoming webhook, or a Slack-compatible receiver such as Mattermost): a ``Message``
as a Block Kit message.

A header with the title, the status, severity, summary and alerts, the runbook link, the first
diagnostics as code blocks and the incident link; the person paged is mentioned. A configured
``text`` template replaces the status and alert sections. Untrusted text is escaped (``&``,
``<``, ``>``), so a label cannot mention ``<!channel>``; every text fits Slack's limits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Protocol

from tocsin.notify.base import ChannelConfigError, ChannelSettings, Parts, SecretRef, secret_value
from tocsin.notify.http import USER_AGENT, HttpChannel, check_url
from tocsin.notify.message import Message, message_context
from tocsin.notify.retry import Outcome
from tocsin.templating import one_line, web_url
from tocsin.words import number

SLACK_MAX_BLOCKS = 50
SLACK_MAX_HEADER = 150
SLACK_MAX_TEXT = 3000
_SLACK_MAX_DIAGNOSTICS = 3
_SLACK_MAX_ALERTS = 10
_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
# Kinds that page the recipient (ask them to act), as opposed to telling them something.
_PAGING_KINDS = frozenset({"firing", "escalation", "deadline", "reminder"})
# Kinds whose ``text`` (written by a person, or the reminder's) leads the message.
_TEXT_HEADINGS = {
    "status_update": "Update",
    "update_reminder": "Status update due",
    "duty_reminder": "Duty due",
    "storm_update": "Storm update",
    "held_summary": "Held back",
    "diagnostics": "Diagnostics",
    "test": "Test",  # a contact method's test, or its verification code (service/contacts)
}


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


def _pieces(text: str, size: int = SLACK_MAX_TEXT - 200, most: int = 10) -> list[str]:
    """Text in whole lines of at most ``size`` characters once escaped (a longer line is
    cut), at most ``most`` pieces: each one code block of its own section."""
    out: list[str] = []
    piece = ""
    for line in text.splitlines():
        line = line if len(slack_escape(line)) <= size else line[: size // 5] + "…"
        if piece and len(slack_escape(piece + line)) + 1 > size:
            out.append(piece)
            piece = ""
        piece += line + "\n"
    if piece:
        out.append(piece)
    return out[:most]


def _alert_list(
    heading: str, items: list[dict[str, Any]], total: int, common: Mapping[str, str]
) -> str:
    """Up to ten alert lines, as many as fit one section, then how many of the ``total``
    (the incident's, of which ``items`` are those the message lists) were left out."""
    text = f"*{heading}:*"
    budget = SLACK_MAX_TEXT - 40  # room for the "and N more" line
    shown = 0
    for alert in items[:_SLACK_MAX_ALERTS]:
        line = _alert_line(alert, common)
        if len(text) + 1 + len(line) > budget:
            break
        text += "\n" + line
        shown += 1
    if shown < total:
        text += f"\n… and {number(total - shown)} more"
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
        escalated = message.kind == "escalation" and message.escalation_step
        step = f" (escalation step {message.escalation_step})" if escalated else ""
        blocks.append(_section(f"{mention} you are paged for this incident{step}."))
    if message.kind == "diagnostics" and message.text:  # commands' output: monospace
        blocks += [_section(f"*{_TEXT_HEADINGS['diagnostics']}:*")] + [
            _section(_code_block(piece, SLACK_MAX_TEXT)) for piece in _pieces(message.text)
        ]
    elif message.kind in _TEXT_HEADINGS and message.text:
        heading = _TEXT_HEADINGS[message.kind]
        blocks.append(_section(f"*{heading}:*\n{_mrkdwn(message.text, SLACK_MAX_TEXT - 30)}"))
    if body is not None:
        blocks += [_section(chunk) for chunk in _chunks(slack_escape(body.strip()) or " ")]
    else:
        ongoing = "still " if message.kind == "resolved" else ""
        status = (
            f"*Status:* {_mrkdwn(message.status, 50)}    "
            f"*Severity:* {_mrkdwn(message.severity or 'none', 100)}    "
            f"*Alerts:* {number(context['firing_total'])} {ongoing}firing,"
            f" {number(context['resolved_total'])} resolved"
        )
        if message.summary:
            status += f"\n{_mrkdwn(message.summary, 2500)}"
        blocks.append(_section(status))
    if message.runbook_url or message.runbook_title:
        label = message.runbook_title or message.runbook_url or "runbook"
        blocks.append(_section(f"*Runbook:* {_slack_link(message.runbook_url, label)}"))
    own = context["alert_link"]
    if own:  # the alert's own link, never under the catalog's title
        host = _mrkdwn(own["host"], 200)
        blocks.append(
            _section(f"*The alert's own link* ({host}): {_slack_link(own['url'], own['url'])}")
        )
    if message.diagnostics:
        blocks.append(_section("*First checks:*"))
    for i, diag in enumerate(message.diagnostics[:_SLACK_MAX_DIAGNOSTICS], start=1):
        about = ", ".join(x for x in (diag.get("risk"), diag.get("language")) if x)
        head = f"*{i}. {_mrkdwn(diag.get('title') or 'Diagnostic', 300)}*"
        if about:
            head += f" _({_mrkdwn(about, 100)})_"
        unfilled = diag.get("unfilled") or ""
        tail = f"\n_fill in: {_mrkdwn(unfilled, 300)}_" if unfilled else ""
        code = _code_block(diag.get("code", ""), SLACK_MAX_TEXT - len(head) - len(tail) - 1)
        blocks.append(_section(f"{head}\n{code}{tail}"))
    if message.other_steps:
        where = _slack_link(message.runbook_url, "the runbook")
        lines = [f"*Other steps*, in {where}:"] + [
            f"• {_mrkdwn(o.get('title', ''), 200)} _({_mrkdwn(o.get('phase', ''), 20)}, "
            f"risk: {_mrkdwn(o.get('risk', ''), 20)})_"
            for o in message.other_steps
        ]
        blocks.append(_section(_fit("\n".join(lines), SLACK_MAX_TEXT)))
    if body is None:  # the alerts come after what to do about them
        still = "Still firing" if message.kind == "resolved" else "Firing"
        lists = (
            (still, context["firing"], context["firing_total"]),
            ("Resolved", context["resolved"], context["resolved_total"]),
        )
        for heading, items, total in lists:
            if total:
                common = context["common_labels"]
                blocks.append(_section(_alert_list(heading, items, total, common)))
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


class SlackSettings(ChannelSettings, Protocol):
    url: str | None  # the incoming webhook URL

    @property
    def url_secret(self) -> SecretRef | None:
        """Or the URL as a secret (it is one)."""
        ...


class SlackChannel(HttpChannel):
    kind = "slack"

    def payload(self, message: Message) -> dict[str, Any]:
        context = message_context(message)
        title = self._templates.render("title", context)
        body = (
            self._templates.render("text", context) if self._templates.has_custom("text") else None
        )
        return slack_payload(message, title, body)

    async def _send(self, message: Message) -> Outcome:
        body = json.dumps(self.payload(message), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
        return await self.post(body, headers)


def build(cfg: SlackSettings, parts: Parts) -> SlackChannel:
    if cfg.url is not None:
        url = cfg.url
    elif cfg.url_secret is not None:
        url = secret_value(parts.secrets, cfg.url_secret, f"{parts.where}: url_secret")
    else:
        raise ChannelConfigError(f"{parts.where}: a Slack channel needs url or url_secret")
    return SlackChannel(parts, check_url(url, f"{parts.where}: url"))
