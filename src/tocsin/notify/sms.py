"""SMS and voice through a gateway with Twilio's API shape: a page as a short text message
(``sms``) or a phone call that reads it and takes a key (``voice``).

Both POST a form to ``{api_url}/2010-04-01/Accounts/{account_sid}/Messages.json`` (or
``Calls.json``) with HTTP Basic auth (the account SID and its auth token), so Twilio or any
gateway that speaks its API works. The gateway's answer names what it accepted (a SID,
``SM…`` or ``CA…``); the channel returns it as ``Outcome.ref`` and the deliverer keeps it
(``store.sms``), so that a reply ("1"), a key pressed on the call and the delivery status
callbacks (``StatusCallback``, under ``global.external_url``) find the incident and the
person. Twilio's errors (``{code, message, more_info, status}``) are kept in the Outcome: an
invalid or unsubscribed number, a ``From`` that is not the account's, bad credentials are
permanent; 429 and 5xx are tried again, after the gateway's ``Retry-After``.

What a person receives is short and plain: one line, control characters removed, at most
``MAX_SMS`` characters, the instructions to reply always kept whole. A call reads the page
and takes one key (1 acknowledge, 2 resolve); every untrusted text in its TwiML is escaped
by ElementTree. A channel's own ``text`` template (``templates.text``), when configured,
writes the SMS instead, through the one renderer; its ``title`` template, what a call says.

Where the number comes from: ``recipient["address"]`` (a person's verified contact method),
else ``recipient["phone"]`` (``users[].phone``); a message with neither is a permanent
failure that says so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Protocol
from urllib.parse import quote, urlencode

from tocsin.notify.base import (
    ChannelConfigError,
    ChannelSettings,
    Parts,
    SecretRef,
    error_text,
    secret_value,
)
from tocsin.notify.http import USER_AGENT, Answer, HttpChannel, check_url
from tocsin.notify.message import Message, message_context
from tocsin.notify.retry import Outcome, parse_retry_after
from tocsin.templating import one_line

TYPES = ("sms", "voice")
# what a call is made for: a page (a test, too: "Send a test" and verification codes)
PAGE_KINDS = frozenset({"firing", "escalation", "deadline", "reminder"})
CALL_KINDS = PAGE_KINDS | {"test"}
MAX_SMS = 320  # two segments of GSM-7: a page is read on a lock screen
MAX_SAY = 600  # what a call reads before the keys are named
MAX_BODY = 1600  # Twilio's bound of a message's body

# tocsin's webhooks the gateway calls (api/sms.py)
INBOUND_PATH = "/api/v1/sms/inbound"
STATUS_PATH = "/api/v1/sms/status"
GATHER_PATH = "/api/v1/voice/gather"

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
# control and bidirectional characters, and what XML forbids (surrogates, U+FFFE, U+FFFF):
# TwiML with one of those is malformed, and the call says Twilio's error instead of the page
_CONTROLS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)


# --- what a person receives (pure) ----------------------------------------------------------


def plain(text: str) -> str:
    """Untrusted text as an SMS or a call carries it: control and bidirectional characters,
    and characters XML forbids, removed; whitespace collapsed to single spaces."""
    return one_line(_CONTROLS.sub(" ", text))


def number_of(message: Message) -> str | None:
    """The number a message goes to: the recipient's contact ``address`` (a verified
    contact method), else their ``phone``; None when there is none."""
    recipient = message.recipient or {}
    number = recipient.get("address") or recipient.get("phone") or ""
    return number if _E164.match(number) else None


def _fit(head: str, tail: str, limit: int) -> str:
    """``head`` then ``tail``, the head cut with an ellipsis so that the whole fits ``limit``
    and the tail (what to reply) stays whole."""
    room = limit - len(tail) - (1 if tail else 0)
    if len(head) > room:
        head = head[: max(0, room - 1)].rstrip() + "…"
    return f"{head} {tail}".strip() if tail else head


def instructions(status: str) -> str:
    """What a person may reply to a page, by the incident's status."""
    if status == "triggered":
        return "Reply 1 to acknowledge, 2 to resolve."
    if status == "acknowledged":
        return "Reply 2 to resolve."
    return ""


def sms_body(message: Message, limit: int = MAX_SMS) -> str:
    """The SMS of a message (the default; a channel's ``text`` template may replace it)."""
    title = plain(message.title)
    where = f"tocsin #{message.incident_id}"
    if message.kind in PAGE_KINDS:
        severity = f" {plain(message.severity).upper()}" if message.severity else ""
        late = {
            "escalation": " (escalated)",
            "deadline": " (ack overdue)",
            "reminder": " (still firing)",
        }
        head = f"{where}{severity}{late.get(message.kind, '')}: {title}"
        summary = plain(message.summary)
        if summary:
            head = f"{head} — {summary}"
        if not head.endswith((".", "!", "?")):
            head += "."
        return _fit(head, instructions(message.status), limit)
    if message.kind == "acknowledged":
        by = f" by {plain(message.actor)}" if message.actor else ""
        return _fit(f"{where} acknowledged{by}: {title}.", instructions("acknowledged"), limit)
    if message.kind == "resolved":
        by = f" by {plain(message.actor)}" if message.actor else " (its alerts ended)"
        return _fit(f"{where} resolved{by}: {title}.", "", limit)
    # a message that carries text: a test, a verification code, a status update, ...
    text = plain(message.text or "")
    if message.kind == "test" and not text:
        text = "This is a test notification from tocsin: no action is needed."
    # a test, or a message about no incident (a contact method's verification code): its
    # title alone; news about an incident names it
    alone = message.kind == "test" or message.incident_id <= 0
    head = title if alone else f"{where} {message.kind.replace('_', ' ')}: {title}"
    return _fit(f"{head}: {text}" if text else head, "", limit)


def spoken(message: Message) -> str:
    """What a call says before naming the keys."""
    title = plain(message.title)
    if message.kind == "test":
        text = plain(message.text or "") or "This is a test call from tocsin: no action is needed."
        return one_line(f"{title}. {text}", MAX_SAY)
    severity = f", {plain(message.severity)}" if message.severity else ""
    summary = plain(message.summary)
    said = f"This is tocsin. Incident {message.incident_id}{severity}: {title}."
    if summary:
        said += f" {summary}."
    return one_line(said, MAX_SAY)


def voice_twiml(message: Message, gather_url: str, said: str | None = None) -> str:
    """The TwiML of a call: it says the page, then takes one key (1 acknowledge, 2 resolve)
    and posts it to ``gather_url``; a test is said and the call ends. ElementTree escapes
    every text and attribute, so no alert label can add a verb to the call."""
    said = plain(said) if said is not None else spoken(message)
    response = ET.Element("Response")
    keys = instructions(message.status).replace("Reply", "Press") if message.kind != "test" else ""
    if keys and gather_url:
        gather = ET.SubElement(
            response,
            "Gather",
            {"numDigits": "1", "action": gather_url, "method": "POST", "timeout": "10"},
        )
        ET.SubElement(gather, "Say").text = f"{said} {keys}"
        ET.SubElement(response, "Say").text = "No key was pressed. Goodbye."
    else:
        ET.SubElement(response, "Say").text = said
    return ET.tostring(response, encoding="unicode")


def twiml_answer(verb: str, text: str) -> str:
    """TwiML that answers a webhook with one verb: ``Message`` (an SMS back) or ``Say``
    (on a call); the text escaped."""
    response = ET.Element("Response")
    ET.SubElement(response, verb).text = plain(text)
    return ET.tostring(response, encoding="unicode")


# --- the gateway's answer (pure) ------------------------------------------------------------


def twilio_outcome(answer: Answer, now: float) -> Outcome:
    """A gateway's answer as an Outcome: 2xx with the SID it gave (``ref``); an error with
    Twilio's code and message, permanent but for 429 and 5xx (after ``Retry-After``)."""
    try:
        data = json.loads(answer.body)
    except ValueError:
        data = None
    data = data if isinstance(data, dict) else {}
    if 200 <= answer.status <= 299:
        sid = data.get("sid")
        return Outcome(ok=True, status=answer.status, ref=sid if isinstance(sid, str) else None)
    code = data.get("code")
    text = data.get("message") or answer.body
    said = f"Twilio error {code}: {text}" if code is not None else str(text)
    return Outcome(
        ok=False,
        status=answer.status,
        retry_after_s=parse_retry_after(answer.headers.get("retry-after"), now),
        error=error_text(f"HTTP {answer.status}: {said}"),
        transient=answer.status == 429 or 500 <= answer.status <= 599,
    )


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Twilio's request signature (``X-Twilio-Signature``): base64 of HMAC-SHA1, keyed by
    the auth token, of the URL followed by each parameter's name and value, sorted by name
    (a name given more than once: its distinct values, sorted), as twilio-python computes
    it."""
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    signed = url + "".join(
        name + value for name in sorted(values) for value in sorted(values[name])
    )
    digest = hmac.new(auth_token.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


# --- the channels ---------------------------------------------------------------------------


class TwilioSettings(ChannelSettings, Protocol):
    account_sid: str
    sender: str  # ``from``: the account's number, E.164
    api_url: str

    @property
    def auth_token(self) -> SecretRef: ...


class _TwilioChannel(HttpChannel):
    """What SMS and voice share: the account, its resource URL, the form POST."""

    resource = ""

    def __init__(self, parts: Parts, cfg: TwilioSettings, token: str) -> None:
        base = check_url(cfg.api_url, f"{parts.where}: api_url").rstrip("/")
        sid = quote(cfg.account_sid, safe="")
        super().__init__(parts, f"{base}/2010-04-01/Accounts/{sid}/{self.resource}")
        self.account_sid = cfg.account_sid
        self.auth_token = token
        self.sender = cfg.sender
        self._base = parts.external_url.rstrip("/")
        credentials = base64.b64encode(f"{cfg.account_sid}:{token}".encode()).decode("ascii")
        self._headers = {
            "Authorization": f"Basic {credentials}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }

    def callback(self, path: str) -> str:
        """A webhook of this tocsin the gateway calls ("" without ``global.external_url``)."""
        return f"{self._base}{path}" if self._base else ""

    async def submit(self, form: dict[str, str]) -> Outcome:
        answer = await self.exchange(urlencode(form).encode("ascii"), self._headers)
        if isinstance(answer, Outcome):
            return answer
        return twilio_outcome(answer, self._clock.now())


class SmsChannel(_TwilioChannel):
    kind = "sms"
    resource = "Messages.json"

    def body(self, message: Message) -> str:
        if self._templates.has_custom("text"):
            text = self._templates.render("text", message_context(message))
            return one_line(plain(text), MAX_SMS)
        return sms_body(message)

    async def _send(self, message: Message) -> Outcome:
        to = number_of(message)
        if to is None:
            return _no_number(message)
        form = {"To": to, "From": self.sender, "Body": self.body(message)}
        status = self.callback(STATUS_PATH)
        if status:
            form["StatusCallback"] = status
        return await self.submit(form)


class VoiceChannel(_TwilioChannel):
    kind = "voice"
    resource = "Calls.json"

    def twiml(self, message: Message) -> str:
        said = None
        if self._templates.has_custom("title"):
            said = self._templates.render("title", message_context(message))
        return voice_twiml(message, self.callback(GATHER_PATH), said)

    async def _send(self, message: Message) -> Outcome:
        if message.kind not in CALL_KINDS:
            # acknowledgements, resolutions and news are read, not heard: the person's
            # other channels carry them
            return Outcome(ok=True, error="not sent: voice carries pages only")
        to = number_of(message)
        if to is None:
            return _no_number(message)
        form = {"To": to, "From": self.sender, "Twiml": self.twiml(message)}
        status = self.callback(STATUS_PATH)
        if status:
            form["StatusCallback"] = status
        return await self.submit(form)


def _no_number(message: Message) -> Outcome:
    who = (message.recipient or {}).get("name")
    whose = f"{who} has" if who else "the message names"
    return Outcome(
        ok=False,
        error=f"no phone number: {whose} no E.164 number (users[].phone) to send to",
        transient=False,
    )


def _parts(cfg: TwilioSettings, parts: Parts) -> str:
    if not _E164.match(cfg.sender):
        raise ChannelConfigError(f"{parts.where}: from must be an E.164 number (+14155550100)")
    if not cfg.account_sid:
        raise ChannelConfigError(f"{parts.where}: account_sid is empty")
    return secret_value(parts.secrets, cfg.auth_token, f"{parts.where}: auth_token")


def build_sms(cfg: TwilioSettings, parts: Parts) -> SmsChannel:
    return SmsChannel(parts, cfg, _parts(cfg, parts))


def build_voice(cfg: TwilioSettings, parts: Parts) -> VoiceChannel:
    return VoiceChannel(parts, cfg, _parts(cfg, parts))
