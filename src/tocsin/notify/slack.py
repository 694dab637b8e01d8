"""Slack: a ``Message`` as a Block Kit message, through an incoming webhook (or a
Slack-compatible receiver such as Mattermost), or as a Slack app with a bot token.

A header with the title, the status, severity, summary and alerts, the runbook link, the first
diagnostics as code blocks and the incident link; the person paged is mentioned. A configured
``text`` template replaces the status and alert sections. Untrusted text is escaped (``&``,
``<``, ``>``), so a label cannot mention ``<!channel>``; every text fits Slack's limits.

A Slack app (``token``) keeps one message per incident and conversation (``Threads``): the
first message is posted, an acknowledgement, a resolution or an escalation edits it in place
(``chat.update``: its status, who acted, the buttons that still fit) and says so in its
thread, and news (status updates, diagnostics, reminders) goes into its thread. A message to a
person with a Slack member ID goes to their direct messages; any other to the conversation of
its severity (``by_severity``), else ``conversation``. Slack's errors become Outcomes:
``ratelimited`` waits its ``Retry-After``, an error of the setup (``not_in_channel``,
``invalid_auth`` ...) is permanent, so that the fallback channel takes over.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tocsin.notify.base import (
    BaseChannel,
    ChannelConfigError,
    ChannelSettings,
    MemoryThreads,
    Parts,
    SecretRef,
    ThreadRoot,
    Threads,
    error_text,
    log,
    secret_value,
)
from tocsin.notify.http import USER_AGENT, HttpChannel, check_url
from tocsin.notify.message import Message, message_context
from tocsin.notify.retry import Outcome, parse_retry_after
from tocsin.templating import one_line, web_url
from tocsin.words import number

SLACK_MAX_BLOCKS = 50
SLACK_MAX_HEADER = 150
SLACK_MAX_TEXT = 3000
_SLACK_MAX_DIAGNOSTICS = 3
_SLACK_MAX_ALERTS = 10
_SLACK_MAX_APPROVALS = 5
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


# --- a Slack app: buttons, where a message goes, what edits what -----------------------------

# The buttons' contract with the interactivity endpoint (/api/v1/slack/interactions): the
# actions block's id, and each button's action_id; the value is the incident's id (a run's for
# Approve).
ACTIONS_BLOCK = "tocsin_actions"
ACK_ACTION = "tocsin_ack"
RESOLVE_ACTION = "tocsin_resolve"
ESCALATE_ACTION = "tocsin_escalate"
OPEN_ACTION = "tocsin_open"
APPROVE_RUN_ACTION = "tocsin_approve_run"
# Kinds that change the incident's state: with a message kept for the incident, they edit it
# in place and say what happened in its thread (any other kind is a reply in the thread).
IN_PLACE_KINDS = frozenset({"firing", "acknowledged", "resolved", "escalation"})
# Slack's answers when the kept message is gone (deleted, or too old to edit) and a thread
# that no longer exists: a new message is posted and kept instead.
_ROOT_GONE = frozenset({"message_not_found", "cant_update_message"})
_THREAD_GONE = frozenset({"thread_not_found", "invalid_thread_ts"})
# A test message is about no incident; a summary of what a person's limit held back names
# several (it is sent under the last one's id): buttons would act on one of them only.
_NO_BUTTONS = frozenset({"test", "held_summary"})
_SERVER_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable"})


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": one_line(text, limit) or " "}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": _plain(text),
        "action_id": action_id,
        "value": value,
    }
    if style is not None:
        button["style"] = style
    return button


def buttons(message: Message) -> dict[str, Any] | None:
    """The actions block that fits the incident's state: Acknowledge while it is triggered,
    Resolve and Escalate until it is resolved, Open in the console always (when the message
    has a web link); None when no button fits (a test, a summary of held messages)."""
    incident = str(message.incident_id)
    elements: list[dict[str, Any]] = []
    if message.kind in _NO_BUTTONS:
        return None
    if message.status == "triggered":
        elements.append(_button("Acknowledge", ACK_ACTION, incident, "primary"))
    if message.status != "resolved":
        elements.append(_button("Resolve", RESOLVE_ACTION, incident))
        escalate = _button("Escalate", ESCALATE_ACTION, incident)
        escalate["confirm"] = {
            "title": _plain("Escalate now?", 100),
            "text": _plain("The escalation policy's next step is paged now.", 300),
            "confirm": _plain("Escalate", 30),
            "deny": _plain("Cancel", 30),
        }
        elements.append(escalate)
    link = web_url(message.external_url)
    if link is not None and len(link) <= 3000:
        elements.append(
            {
                "type": "button",
                "text": _plain("Open in the console"),
                "action_id": OPEN_ACTION,
                "value": incident,
                "url": link,
            }
        )
    if not elements:
        return None
    return {"type": "actions", "block_id": ACTIONS_BLOCK, "elements": elements}


def approvals(message: Message) -> list[dict[str, Any]]:
    """A section per run awaiting an approval (at most five): the exact text the approval
    approves, with its Approve button (``tocsin_approve_run``, the run's id). A press approves
    the whole run, so a run whose text is not shown whole (cut when the message was composed,
    ``whole`` not "yes", or cut here to fit Slack's section) gets no button: a line sends the
    person to the console, where it is shown whole."""
    if message.status == "resolved":
        return []
    out: list[dict[str, Any]] = []
    for run in message.awaiting_runs[:_SLACK_MAX_APPROVALS]:
        run_id = str(run.get("id", ""))
        if not run_id.isdigit():
            continue
        step = _mrkdwn(str(run.get("step", "")), 20)
        head = f"*Run #{run_id} awaits an approval:* step {step}"
        if run.get("section"):
            head += f", {_mrkdwn(str(run['section']), 200)}"
        command = str(run.get("command", ""))
        where = _slack_link(message.external_url, "the console")
        note = f"_Not all of what it approves fits here: approve it in {where}._"
        code = _code_block(command, SLACK_MAX_TEXT - len(head) - len(note) - 2)
        shown_whole = run.get("whole") == "yes" and code == _code_block(command, 10**9)
        section = _section(f"{head}\n{code}" + ("" if shown_whole else f"\n{note}"))
        section["block_id"] = f"tocsin_run_{run_id}"
        if shown_whole:
            section["accessory"] = _button(
                f"Approve run #{run_id}", APPROVE_RUN_ACTION, run_id, "primary"
            )
        out.append(section)
    return out


def acted(message: Message) -> str | None:
    """Who acknowledged or resolved the incident, and when: the edited message's line."""
    if message.kind not in ("acknowledged", "resolved"):
        return None
    verb = "Acknowledged" if message.kind == "acknowledged" else "Resolved"
    who = f" by *{_mrkdwn(message.actor, 200)}*" if message.actor else ""
    if message.kind == "resolved" and not message.actor:
        who = " (every alert resolved)"
    when = f" at {_mrkdwn(message.acted_at, 60)}" if message.acted_at else ""
    return f":white_check_mark: {verb}{who}{when}"


def app_payload(message: Message, title: str, body: str | None = None) -> dict[str, Any]:
    """A Slack app's message: the webhook's Block Kit message (``slack_payload``), then who
    acted, the runs awaiting an approval, then the buttons that fit the incident's state."""
    payload = slack_payload(message, title, body)
    extra: list[dict[str, Any]] = approvals(message)
    line = acted(message)
    if line is not None:
        extra.append(_section(line))
    actions = buttons(message)
    if actions is not None:
        extra.append(actions)
    blocks = payload["blocks"][: SLACK_MAX_BLOCKS - len(extra)] + extra
    return {"text": payload["text"], "blocks": blocks}


def thread_note(message: Message) -> str:
    """What a message that edits the incident's message says in its thread (mrkdwn)."""
    who = _slack_mention(message.recipient)
    line = acted(message)
    if line is not None:
        return line
    if message.kind == "escalation":
        step = f" (step {message.escalation_step})" if message.escalation_step else ""
        return f":rotating_light: Escalated{step}" + (f": {who} is paged." if who else ".")
    if message.kind == "firing" and who:
        return f":rotating_light: {who} is paged."
    if message.kind == "firing":
        return ":rotating_light: Triggered again."
    heading = _TEXT_HEADINGS.get(message.kind, "Updated")
    text = f"*{heading}*"
    if message.text:
        text += f": {_mrkdwn(message.text, 2000)}"
    return text


def edits_in_place(message: Message) -> bool:
    """Whether ``message`` edits the incident's kept message (else: a reply in its thread)."""
    return message.kind in IN_PLACE_KINDS or message.update_key is not None


def conversation_for(
    message: Message, conversation: str | None, by_severity: Mapping[str, str]
) -> str | None:
    """Where a Slack app posts ``message``: a person's direct messages (their member ID), else
    the conversation of its severity, else the channel's ``conversation``; None: nowhere."""
    slack_id = (message.recipient or {}).get("slack", "")
    if _SLACK_USER_ID.match(slack_id):
        return slack_id
    if message.severity is not None and message.severity in by_severity:
        return by_severity[message.severity]
    return conversation


# What a person must do about an error of the setup (``{where}``: the conversation).
_HINTS = {
    "channel_not_found": "no conversation {where} that the app can see: check the name or ID,"
    " and invite the app to a private channel",
    "not_in_channel": "invite the app to {where}",
    "is_archived": "{where} is archived: unarchive it or configure another conversation",
    "invalid_auth": "the bot token is not valid: copy the app's bot token into the secret",
    "not_authed": "no bot token was sent",
    "account_inactive": "the app's bot user or workspace is deactivated",
    "token_revoked": "the bot token was revoked (the app was uninstalled?): reinstall the app"
    " and copy its new bot token",
    "missing_scope": "the app lacks a scope{needed}: add it and reinstall the app",
    "user_not_found": "no Slack user {where}: check users[].slack",
}


def slack_outcome(
    error: str,
    status: int | None,
    where: str,
    retry_after_s: float | None = None,
    needed: str = "",
) -> Outcome:
    """A refusal from Slack's Web API as an Outcome: rate limits and Slack's own failures are
    transient (after ``Retry-After``), anything else permanent, with what to do about it."""
    if status == 429 or error == "ratelimited":
        wait = f" (Slack asks to wait {retry_after_s:g}s)" if retry_after_s is not None else ""
        return Outcome(
            ok=False,
            status=status,
            retry_after_s=retry_after_s,
            error=error_text(f"slack: ratelimited{wait}"),
            transient=True,
        )
    transient = (status is not None and status >= 500) or error in _SERVER_ERRORS
    hint = _HINTS.get(error, "").format(where=where, needed=f" ({needed})" if needed else "")
    text = f"slack: {error}: {hint}" if hint else f"slack: {error}"
    if status is not None and status != 200:
        text += f" (HTTP {status})"
    return Outcome(
        ok=False,
        status=status,
        retry_after_s=retry_after_s,
        error=error_text(text),
        transient=transient,
    )


class SlackSettings(ChannelSettings, Protocol):
    url: str | None  # the incoming webhook URL
    conversation: str | None  # a Slack app's; an incoming webhook's channel override
    api_url: str
    # an incoming webhook's overrides of the name and icon it posts with
    username: str | None
    icon_emoji: str | None
    icon_url: str | None

    @property
    def url_secret(self) -> SecretRef | None:
        """Or the URL as a secret (it is one)."""
        ...

    @property
    def token(self) -> SecretRef | None:
        """Or a Slack app's bot token."""
        ...

    @property
    def by_severity(self) -> Mapping[str, str]: ...


class SlackChannel(HttpChannel):
    """An incoming webhook: each message is a new message in the webhook's conversation."""

    kind = "slack"

    def __init__(self, parts: Parts, url: str, overrides: Mapping[str, str] | None = None) -> None:
        super().__init__(parts, url)
        # the webhook's own channel, name and icon overridden (Alertmanager's `channel`,
        # `username`, `icon_emoji`, `icon_url`): Slack's incoming-webhook fields
        self._overrides = dict(overrides or {})

    def payload(self, message: Message) -> dict[str, Any]:
        context = message_context(message)
        title = self._templates.render("title", context)
        body = (
            self._templates.render("text", context) if self._templates.has_custom("text") else None
        )
        return {**slack_payload(message, title, body), **self._overrides}

    async def _send(self, message: Message) -> Outcome:
        body = json.dumps(self.payload(message), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
        answer = await self.exchange(body, headers)
        if isinstance(answer, Outcome):
            return answer
        if 200 <= answer.status <= 299 and answer.body.lstrip().startswith("{"):
            # Slack's Web API (an Alertmanager config posting to chat.postMessage with a bot
            # token in http_config) answers 200 with {"ok": false, "error": …} when it refuses
            try:
                said = json.loads(answer.body)
            except ValueError:
                said = None
            if isinstance(said, dict) and said.get("ok") is False:
                error = str(said.get("error") or "unknown_error")
                retry = parse_retry_after(answer.headers.get("retry-after"), self._clock.now())
                return slack_outcome(error, answer.status, self.name, retry)
        return self.answered(answer)


@dataclass(frozen=True)
class _Refused:
    """A call that Slack refused, or that got no answer: Slack's error code and the Outcome."""

    error: str
    outcome: Outcome


class SlackAppChannel(BaseChannel):
    """A Slack app: posts through the Web API with its bot token (``slack_sdk``), one message
    per incident and conversation, edited in place, news in its thread."""

    kind = "slack"

    def __init__(
        self,
        parts: Parts,
        token: str,
        api_url: str,
        conversation: str | None,
        by_severity: Mapping[str, str],
    ) -> None:
        super().__init__(parts)
        self._conversation = conversation
        self._by_severity = dict(by_severity)
        self._threads: Threads = parts.threads if parts.threads is not None else MemoryThreads()
        self._client = AsyncWebClient(
            token=token,
            base_url=api_url,
            timeout=max(1, math.ceil(parts.timeout_s)),
            session=parts.http,
            user_agent_prefix=USER_AGENT,
            retry_handlers=[],  # the one retry policy is notify.retry's
        )
        self._client.proxy = None  # as every channel: no proxy from the environment

    def payload(self, message: Message) -> dict[str, Any]:
        context = message_context(message)
        title = self._templates.render("title", context)
        body = (
            self._templates.render("text", context) if self._templates.has_custom("text") else None
        )
        return app_payload(message, title, body)

    async def _call(self, method: str, where: str, **args: Any) -> dict[str, Any] | _Refused:
        """One Web API call, bounded by the channel's timeout; Slack's answer, or why not."""
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await self._client.api_call(method, json=args)
            data = response.data
            return data if isinstance(data, dict) else {}
        except SlackApiError as exc:
            answer = exc.response
            data = answer.data if isinstance(answer.data, dict) else {}
            status = int(answer.status_code)
            error = str(data.get("error") or f"http_{status}")
            headers = answer.headers or {}
            retry = parse_retry_after(
                headers.get("Retry-After") or headers.get("retry-after"), self._clock.now()
            )
            needed = str(data.get("needed") or "")
            return _Refused(error, slack_outcome(error, status, where, retry, needed))
        except TimeoutError:
            text = f"slack: no answer within {self._timeout_s:g}s"
            return _Refused("timeout", Outcome(ok=False, error=text, transient=True))
        except (aiohttp.ClientError, OSError) as exc:
            text = error_text(f"slack: {type(exc).__name__}: {exc}")
            return _Refused("connection", Outcome(ok=False, error=text, transient=True))

    async def _post(self, message: Message, conversation: str, payload: dict[str, Any]) -> Outcome:
        """A new message for the incident in ``conversation``, kept when it is one that later
        messages edit."""
        answer = await self._call(
            "chat.postMessage", conversation, channel=conversation, unfurl_links=False, **payload
        )
        if isinstance(answer, _Refused):
            return answer.outcome
        if edits_in_place(message):
            root = ThreadRoot(str(answer.get("channel") or conversation), str(answer.get("ts")))
            try:
                await self._threads.put(message.incident_id, self.name, conversation, root)
            except Exception:  # it went: the next change posts a new message instead
                log.exception(
                    "channel %s: incident %d's Slack message could not be kept",
                    self.name,
                    message.incident_id,
                )
        return Outcome(ok=True, status=200)

    async def _reply(
        self, message: Message, conversation: str, root: ThreadRoot, payload: dict[str, Any]
    ) -> Outcome:
        answer = await self._call(
            "chat.postMessage",
            conversation,
            channel=root.channel_id,
            thread_ts=root.ts,
            unfurl_links=False,
            **payload,
        )
        if isinstance(answer, _Refused):
            if answer.error in _THREAD_GONE:  # the message was deleted: start again
                return await self._post(message, conversation, self.payload(message))
            return answer.outcome
        return Outcome(ok=True, status=200)

    async def _send(self, message: Message) -> Outcome:
        conversation = conversation_for(message, self._conversation, self._by_severity)
        if conversation is None:
            severity = message.severity or "none"
            return Outcome(
                ok=False,
                error=f"slack: channel {self.name!r} has no conversation for a message of"
                f" severity {severity} to no Slack member: set conversation or by_severity",
                transient=False,
            )
        payload = self.payload(message)
        root = await self._threads.get(message.incident_id, self.name, conversation)
        if root is None:
            return await self._post(message, conversation, payload)
        if not edits_in_place(message):
            return await self._reply(message, conversation, root, payload)
        updated = await self._call(
            "chat.update", conversation, channel=root.channel_id, ts=root.ts, **payload
        )
        if isinstance(updated, _Refused):
            if updated.error in _ROOT_GONE:
                return await self._post(message, conversation, payload)
            return updated.outcome
        note = thread_note(message)
        return await self._reply(message, conversation, root, {"text": note})


def build(cfg: SlackSettings, parts: Parts) -> SlackChannel | SlackAppChannel:
    given = [key for key in ("url", "url_secret", "token") if getattr(cfg, key) is not None]
    if len(given) != 1:
        had = f" (it has {' and '.join(given)})" if given else ""
        raise ChannelConfigError(
            f"{parts.where}: a Slack channel needs url or url_secret (an incoming webhook) or"
            f" token (a Slack app), exactly one{had}"
        )
    if cfg.token is not None:
        token = secret_value(parts.secrets, cfg.token, f"{parts.where}: token")
        api_url = check_url(cfg.api_url, f"{parts.where}: api_url")
        return SlackAppChannel(parts, token, api_url, cfg.conversation, cfg.by_severity)
    if cfg.by_severity:
        raise ChannelConfigError(
            f"{parts.where}: by_severity is where a Slack app posts: it needs token"
        )
    if cfg.url is not None:
        url = cfg.url
    else:
        assert cfg.url_secret is not None
        url = secret_value(parts.secrets, cfg.url_secret, f"{parts.where}: url_secret")
    overrides = {
        key: value
        for key, value in (
            ("channel", cfg.conversation),
            ("username", cfg.username),
            ("icon_emoji", cfg.icon_emoji),
            ("icon_url", cfg.icon_url),
        )
        if value
    }
    return SlackChannel(parts, check_url(url, f"{parts.where}: url"), overrides)
