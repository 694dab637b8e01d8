"""What a Twilio-shaped SMS gateway tells tocsin: a person's reply to an SMS page, a key
pressed on a call, a message's or call's delivery status. Each request is checked before
anything is read or changed: its ``X-Twilio-Signature`` (``notify.sms.signature``, keyed by
the auth token of the sms or voice channel whose account sent it, over the URL the gateway
called: ``global.external_url`` and the webhook's path), then that it was not received
before (``store.inbound.first_time``: a replay changes nothing).

A reply is read by ``incidents.replies`` and acted on as the person whose number sent it
(``person_of``), through ``service.incidents`` like every other door, with their configured
role (``users[].role``: a viewer is told no). A delivery that failed (an SMS undelivered, a
call not answered) goes on the incident's timeline, naming the person and the last four
digits of the number.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tocsin import times
from tocsin.config import SmsChannelConfig, VoiceChannelConfig
from tocsin.errors import Conflict, Forbidden, Invalid, NotFound
from tocsin.incidents.replies import USAGE, masked, parse_digits, parse_reply
from tocsin.notify.base import ChannelConfigError, resolve_secret
from tocsin.notify.sms import signature
from tocsin.service import contacts, incidents
from tocsin.service.context import Context
from tocsin.service.record import incident
from tocsin.service.tokens import may
from tocsin.store import inbound, repo, sms
from tocsin.store.db import begin_write
from tocsin.templating import one_line

SOURCE = "twilio"  # the source of inbound_seen rows
# Twilio's signature covers no time: a request is remembered long, or a captured "1" could
# acknowledge the latest incident paged to that number the day after
KEEP = inbound.KEEP_UNDATED_S
MAX_ANSWER = 300
# what a status callback says of a delivery that failed: an SMS, or a call nobody took
FAILED = frozenset({"failed", "undelivered", "busy", "no-answer"})


@dataclass(frozen=True)
class Signed:
    """A request from the gateway as it arrived: the webhook's path and query, the form's
    parameters in order, and its ``X-Twilio-Signature`` ("" when it carries none)."""

    path: str
    query: str
    params: Sequence[tuple[str, str]]
    signature: str

    def get(self, name: str) -> str:
        """A parameter's first value ("" when absent)."""
        return next((value for key, value in self.params if key == name), "")


def _accounts(ctx: Context) -> dict[str, list[str]]:
    """The auth tokens of each account of the configured sms and voice channels."""
    out: dict[str, list[str]] = {}
    for cfg in ctx.config.paging.channels.values():
        if not isinstance(cfg, SmsChannelConfig | VoiceChannelConfig):
            continue
        try:
            token = resolve_secret(cfg.auth_token)
        except ChannelConfigError:
            continue  # a channel that cannot be built signs nothing (config check says why)
        if token:
            out.setdefault(cfg.account_sid, []).append(token)
    return out


def verify(ctx: Context, request: Signed) -> None:
    """Nothing when the request is signed by the gateway account of a configured sms or voice
    channel, over the URL it called; else Forbidden, saying why."""
    if not request.signature:
        raise Forbidden("the request carries no X-Twilio-Signature: it is not the SMS gateway's")
    tokens = _accounts(ctx).get(request.get("AccountSid"))
    if not tokens:
        raise Forbidden(
            "the request's AccountSid is not the account of a configured sms or voice channel"
        )
    url = ctx.config.model.global_.external_url.rstrip("/") + request.path
    if request.query:
        url += "?" + request.query
    for token in tokens:
        expected = signature(token, url, request.params)
        if hmac.compare_digest(expected.encode(), request.signature.encode()):
            return
    raise Forbidden(
        "the X-Twilio-Signature does not match this request; the gateway must call "
        f"{url} (global.external_url) and sign with the channel's auth_token"
    )


def _first_time(ctx: Context, key: str) -> None:
    """Conflict when the gateway's request ``key`` was received before (a replay)."""
    with begin_write(ctx.db) as conn:
        fresh = inbound.first_time(conn, SOURCE, key, ctx.now(), KEEP)
    if not fresh:
        raise Conflict("this request was received before (a replay): nothing changes")


def person_of(ctx: Context, number: str) -> str | None:
    """The user a phone number belongs to, or None: each user's ``phone``, the phone
    addresses of contact methods, and those people added and verified
    (``service.contacts.users_by_phone``: a number two people share is nobody's)."""
    if not number:
        return None
    return contacts.users_by_phone(ctx).get(number)


def _refusal(ctx: Context, who: str) -> str | None:
    """Why ``who`` may not act from a phone (their role), or None."""
    user = ctx.config.paging.users.get(who)
    role = user.role if user is not None else "viewer"
    if not may(role, "respond"):
        return f"{who} may not acknowledge or resolve incidents (role {role})."
    return None


def _act(ctx: Context, incident_id: int, action: str, who: str, via: str) -> str:
    """Acknowledge or resolve as ``who``; what to tell them."""
    try:
        now = incident(ctx, incident_id)
    except NotFound:
        return f"There is no incident #{incident_id}."
    if now["status"] == "resolved" or (action == "acknowledge" and now["status"] == "acknowledged"):
        return f"#{incident_id} is already {now['status']}."
    try:
        if action == "acknowledge":
            done = incidents.acknowledge(ctx, incident_id, by=who, detail={"via": via})
            verb = "Acknowledged"
        else:
            done = incidents.resolve(ctx, incident_id, by=who, detail={"via": via})
            verb = "Resolved"
    except NotFound:
        return f"There is no incident #{incident_id}."
    except Conflict as exc:
        return f"#{incident_id} was not changed: {exc.message}."
    title = done.get("title") or ""
    return one_line(f"{verb} #{incident_id}: {title}." if title else f"{verb} #{incident_id}.")


def reply(ctx: Context, request: Signed) -> str:
    """A person's SMS reply (the gateway's incoming-message webhook): what to answer them.
    Forbidden when not signed, Conflict when received before; nothing changes then."""
    verify(ctx, request)
    sid = request.get("MessageSid") or request.get("SmsSid")
    if not sid:
        raise Invalid("an incoming message needs its MessageSid")
    _first_time(ctx, f"sms:{sid}")
    number = request.get("From")
    who = person_of(ctx, number)
    if who is None:
        return "This number is not a tocsin user's."
    refused = _refusal(ctx, who)
    if refused:
        return refused
    asked = parse_reply(request.get("Body"))
    if asked.action == "help":
        return USAGE
    incident_id = asked.incident_id
    if incident_id is None:
        # the newest page the action still applies to; else the newest, whose answer
        # says what became of it
        still = ("triggered",) if asked.action == "acknowledge" else ("triggered", "acknowledged")
        with ctx.db.connect() as conn:
            latest = sms.latest_to(conn, number, still) or sms.latest_to(conn, number)
        if latest is None:
            return "No incident was paged to this number; reply with its number (ack 12)."
        incident_id = int(latest.incident_id)
    return one_line(_act(ctx, incident_id, asked.action, who, "sms"), MAX_ANSWER)


def gather(ctx: Context, request: Signed) -> str:
    """A key pressed on a call tocsin made: what the call says next. Forbidden when not
    signed, Conflict when received before (the call and the key)."""
    verify(ctx, request)
    call = request.get("CallSid")
    if not call:
        raise Invalid("a key pressed needs its CallSid")
    digits = request.get("Digits")
    _first_time(ctx, f"gather:{call}:{digits}")
    with ctx.db.connect() as conn:
        row = sms.get(conn, call)
    if row is None or row.kind != "voice":
        return "This is not a call tocsin made. Goodbye."
    who = row.user_name or person_of(ctx, row.to_number)
    if not who:
        return "This call was to no tocsin user. Goodbye."
    refused = _refusal(ctx, who)
    if refused:
        return refused
    action = parse_digits(digits)
    if action == "help":
        return "Press 1 to acknowledge, 2 to resolve. Goodbye."
    return one_line(_act(ctx, int(row.incident_id), action, who, "voice"), MAX_ANSWER)


def status(ctx: Context, request: Signed) -> dict[str, Any]:
    """A delivery status callback: the message's or call's status kept; a failure (an SMS
    undelivered, a call busy or not answered) on the incident's timeline, once. What was
    recorded (``known`` False: not a message or call of ours)."""
    verify(ctx, request)
    sid = request.get("MessageSid") or request.get("SmsSid") or request.get("CallSid")
    said = request.get("MessageStatus") or request.get("SmsStatus") or request.get("CallStatus")
    if not sid or not said:
        raise Invalid("a status callback needs MessageSid or CallSid and its status")
    code = request.get("ErrorCode") or None
    now = ctx.now()
    with begin_write(ctx.db) as conn:
        if not inbound.first_time(conn, SOURCE, f"status:{sid}:{said}", now, KEEP):
            raise Conflict("this request was received before (a replay): nothing changes")
        row, changed = sms.set_status(conn, sid, said, code, now)
        if row is not None and changed and said in FAILED:
            repo.add_timeline(
                conn,
                row.incident_id,
                times.to_dt(now),
                "phone_failed",
                _failure(row, said, code),
            )
    if row is None:
        return {"known": False, "sid": sid}
    return {"known": True, "sid": sid, "status": row.status, "changed": changed}


def _failure(row: Any, said: str, code: str | None) -> dict[str, Any]:
    return {
        "medium": row.kind,
        "channel": row.channel,
        "person": row.user_name or "",
        "number": masked(row.to_number),
        "status": said,
        "error_code": code,
        "sid": row.sid,
    }
