"""Acting from chat (issue 21): a Slack button press or slash command, once its request is
Slack's, done as the tocsin user who pressed or typed it.

In the order a request meets it:

- ``verify``: the request is signed with the signing secret of a configured slack channel
  (``X-Slack-Signature``: HMAC-SHA256 over ``v0:<timestamp>:<body>``, checked by slack_sdk's
  ``SignatureVerifier`` on tocsin's clock), its timestamp within 5 minutes of that clock, and
  it was not seen before (``store.inbound.first_time``: a replay is refused);
- ``answer_now``: what a slash command can be answered at once (help, who is on call, a
  refusal) and whether the rest is queued;
- ``carry_out`` (queued: it runs after the answer, Slack waits 3 s at most): who the person
  is (``person``: their ``slack:`` member ID, else their Slack profile's email through
  ``users.info``), whether their ``role:`` may (``service.tokens.may``, the rule of every
  door), the use case (``service.incidents``, ``service.runs``), and the answer posted to the
  request's ``response_url`` as an ephemeral message (``answerable`` first: that URL is
  Slack's host, else the request is refused before anything is done).

The words of requests and answers are ``incidents.chat``'s. Every refusal is a sentence for
the person; nothing is changed by a request that is refused.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

from slack_sdk.signature import Clock as SlackClock
from slack_sdk.signature import SignatureVerifier

from tocsin import times
from tocsin.clock import Clock
from tocsin.config import Config
from tocsin.errors import Conflict, Forbidden, Invalid, NotFound, TocsinError, Unavailable
from tocsin.incidents import chat
from tocsin.incidents.chat import Ask, Asked, ChatUser
from tocsin.notify import chat as slack_api
from tocsin.notify.base import ChannelConfigError, resolve_secret, secret_value
from tocsin.notify.slack import slack_escape
from tocsin.service import incidents, paging, runs
from tocsin.service.context import Context
from tocsin.service.record import incident
from tocsin.service.tokens import may
from tocsin.store import inbound
from tocsin.store.db import begin_write

log = logging.getLogger("tocsin.service.chat")

SOURCE = "slack"  # inbound_seen's source
MAX_SKEW_S = 300  # Slack's own rule: a request more than 5 minutes off is refused
_SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")
_SECONDS = re.compile(r"[0-9]{1,12}")

OFF = (
    "Slack is not set up here: no slack channel has a signing_secret "
    "(docs/paging.md, Acting from Slack)"
)


class BadSignature(Forbidden):
    """The request is not one Slack signed now: no signature, a wrong one, or a stale
    timestamp (the API answers 401)."""


class NotMapped(Forbidden):
    """The Slack member is no tocsin user; ``message`` says how to become one."""


@dataclass(frozen=True)
class SlackApp:
    """A slack channel configured as a Slack app: what verifies its requests and, with a bot
    token, looks its members up (``users.info`` at ``api_url``)."""

    channel: str
    signing_secret: str
    token: str | None
    api_url: str


def apps(config: Config) -> list[SlackApp]:
    """The slack channels with a signing secret, their secrets resolved (Unavailable when a
    signing secret cannot be read: a file or variable that is gone; a bot token that cannot
    be read only leaves that app without the lookup by email)."""
    out = []
    for ch in config.model.channels:
        if ch.type != "slack" or ch.signing_secret is None:
            continue
        where = f"channel {ch.name!r}"
        try:
            secret = secret_value(resolve_secret, ch.signing_secret, f"{where}: signing_secret")
        except ChannelConfigError as exc:
            raise Unavailable(f"the Slack app's settings cannot be read: {exc.message}") from None
        token = None
        if ch.token is not None:
            try:
                token = secret_value(resolve_secret, ch.token, f"{where}: token")
            except ChannelConfigError as exc:  # only the lookup by email needs it
                log.warning("no lookup of Slack members by email: %s", exc.message)
        out.append(SlackApp(ch.name, secret, token, ch.api_url))
    return out


class _OnClock(SlackClock):
    """slack_sdk's verifier on tocsin's clock (a virtual one in tests)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock.now()


def verify(ctx: Context, timestamp: str | None, signature: str | None, body: bytes) -> SlackApp:
    """The app whose signing secret signed this request, once the request is recorded as seen.
    NotFound when no app is configured (the endpoints are off); BadSignature when the
    signature is missing or wrong or the timestamp more than 5 minutes off; Conflict when
    the same request came before (a replay). Nothing is recorded for a refused request but
    a replay's first arrival."""
    found = apps(ctx.config)
    if not found:
        raise NotFound(OFF)
    # ASCII digits only: "²".isdigit() is true (a header byte 0xB2, read as Latin-1), and
    # int() of it would fail into a server error
    if not timestamp or not _SECONDS.fullmatch(timestamp):
        raise BadSignature(
            "X-Slack-Request-Timestamp is missing or not a number of seconds: "
            "this request is not from Slack"
        )
    if not signature or not _SIGNATURE.match(signature):
        raise BadSignature(
            "X-Slack-Signature is missing or not v0= and 64 hex digits: "
            "this request is not from Slack"
        )
    now = ctx.now()
    skew = now - int(timestamp)
    if abs(skew) > MAX_SKEW_S:
        side = "behind" if skew > 0 else "ahead of"
        raise BadSignature(
            f"the request is stale: its timestamp is {times.format_duration(abs(skew))} "
            f"{side} this server's clock (Slack's requests are accepted for 5 minutes); "
            "a replayed request, or a clock to set right"
        )
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("the body is not UTF-8 form data") from None
    clock = _OnClock(ctx.clock)
    signed = (
        a
        for a in found
        if SignatureVerifier(a.signing_secret, clock).is_valid(body, timestamp, signature)
    )
    signer = next(signed, None)
    if signer is None:
        raise BadSignature(
            "the signature does not match: this request was not signed with the signing "
            "secret of a slack channel configured here"
        )
    with begin_write(ctx.db) as conn:
        if not inbound.first_time(conn, SOURCE, signature, now):
            raise Conflict("this request came before: a replay is refused, and nothing was done")
    return signer


def answerable(signer: SlackApp, asked: Asked) -> Asked:
    """The request, when its ``response_url`` is one tocsin may post its answer to: Slack's
    host (``incidents.chat.answers_to``). The URL comes from the body: even signed, it must
    never point tocsin's requests at another host (an address inside its network).
    Invalid (400) otherwise, before anything is done."""
    if not chat.answers_to(asked.response_url, signer.api_url):
        raise Invalid(
            "response_url is not Slack's (hooks.slack.com, or the host of the slack "
            "channel's api_url): refused, and nothing was done"
        )
    return asked


# --- who --------------------------------------------------------------------------------


def configured(config: Config, user: ChatUser) -> str | None:
    """The tocsin user whose ``slack:`` is this member's ID; None when no user says so.
    Never by handle: Slack's handles can be renamed and are not unique across the
    organisations of a Slack Connect channel (``users[].slack`` must be a member ID)."""
    for u in config.paging.users.values():
        if u.slack and u.slack == user.id:
            return u.name
    return None


def _lookup_app(found: list[SlackApp], signer: SlackApp) -> SlackApp | None:
    """The app whose bot token looks members up: the one that signed, else any with one."""
    if signer.token:
        return signer
    return next((a for a in found if a.token), None)


async def person(ctx: Context, signer: SlackApp, user: ChatUser) -> str:
    """The tocsin user who pressed or typed: by ``slack:`` (their member ID), else by the email of
    their Slack profile matched to a user's ``email:``; NotMapped, saying how to be mapped."""
    name = configured(ctx.config, user)
    if name is not None:
        return name
    app = _lookup_app(apps(ctx.config), signer)
    if app is None:
        raise NotMapped(chat.not_mapped(user))
    assert app.token is not None
    email, why = await slack_api.member_email(app.api_url, app.token, user.id)
    if email is None:
        raise NotMapped(chat.not_mapped(user, why))
    email = email.strip().lower()
    for u in ctx.config.paging.users.values():
        if u.email and u.email.strip().lower() == email:
            return u.name
    raise NotMapped(chat.not_mapped(user, "no tocsin user has your Slack profile's email"))


def check_role(config: Config, name: str, ask: Ask) -> None:
    """Forbidden, in a sentence, when the user's ``role:`` may not do what they ask (a viewer
    may read, not act): ``service.tokens.may``, as at every door."""
    role = config.paging.users[name].role
    if not may(role, "respond" if ask.acts else "read"):
        raise Forbidden(chat.not_allowed(name, role, ask))


# --- doing it ---------------------------------------------------------------------------


def oncall(ctx: Context) -> str:
    """Who is on call now, in each schedule (``service.paging.oncall_now``)."""
    found = paging.oncall_now(ctx, times.to_dt(ctx.now()))
    return chat.oncall_text(chat.oncall_rows(found))


def act(ctx: Context, name: str, ask: Ask) -> str:
    """Do what ``name`` asked, through the use case every door calls; the answer, whether it
    was done or refused (a refusal changes nothing). Runs in a worker thread: each use case
    opens its own transaction."""
    assert ask.target is not None
    try:
        if ask.action == "acknowledge":
            found = incidents.acknowledge(ctx, ask.target, by=name, detail={"via": "slack"})
            first = found.get("acknowledged_by")  # who did it first (the use case is idempotent)
            return chat.done(ask, name) if first == name else chat.already(ask, first)
        if ask.action == "resolve":
            found = incidents.resolve(ctx, ask.target, by=name, detail={"via": "slack"})
            first = found.get("resolved_by")  # None: its alerts resolved by themselves
            if first != name:
                return chat.already(ask, first)
            return chat.done(ask, name, found.get("warning") or "")
        if ask.action == "escalate":
            incidents.escalate(ctx, ask.target, by=name)
            return chat.done(ask, name, "the next step of its escalation is paged")
        return _approve(ctx, name, ask)
    except NotFound as exc:
        return exc.message[:1].upper() + exc.message[1:]
    except (Conflict, Invalid, Forbidden) as exc:
        if ask.action == "approve":
            return chat.refused(ask, exc.message)
        now = incident(ctx, ask.target)
        by = now.get("resolved_by") if now.get("status") == "resolved" else None
        return chat.refused(ask, exc.message, now.get("status"), by)


def _approve(ctx: Context, name: str, ask: Ask) -> str:
    """Approve a run from chat: the command shown in the message is the run's own (its
    digest); a destructive run needs its first line typed, so only in the console."""
    assert ask.target is not None
    run = runs.run_of(ctx, ask.target)
    if run.risk == "destructive":
        base = ctx.config.model.global_.external_url.rstrip("/")
        console = f"{base}/incidents/{run.incident_id}"
        return chat.destructive(run.id, run.incident_id, console)
    approved = runs.approve(ctx, run.id, name, run.digest)
    what = f"step {approved.step} of #{approved.incident_id} runs now"
    return chat.done(ask, name, what)


# --- the two doors' halves ----------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What the request is answered with at once, and whether the work is queued
    (``carry_out``, its answer posted to ``response_url``)."""

    text: str
    queued: bool = False


def answer_now(ctx: Context, asked: Asked) -> Answer:
    """A slash command's answer within Slack's 3 s: help, who is on call and refusals at once;
    an action (or a person known only by their email) queued. Reads the database for who is
    on call: call it in a worker thread."""
    ask = asked.ask
    if ask.action == "help":
        return Answer(slack_escape(chat.usage(asked.command, ask.problem)))
    name = configured(ctx.config, asked.user)
    if name is None:  # only their Slack profile can tell: that asks Slack, after the answer
        if not any(a.token for a in apps(ctx.config)):
            return Answer(slack_escape(chat.not_mapped(asked.user)))
        return Answer(slack_escape(chat.doing(ask)), queued=True)
    try:
        check_role(ctx.config, name, ask)
    except Forbidden as exc:
        return Answer(slack_escape(exc.message))
    if ask.action == "oncall":
        return Answer(slack_escape(oncall(ctx)))
    return Answer(slack_escape(chat.doing(ask)), queued=True)


async def carry_out(ctx: Context, signer: SlackApp, asked: Asked) -> str:
    """The queued half: who, whether they may, do it; the answer (escaped for Slack) is
    posted to the request's ``response_url`` and returned. Never raises: what went wrong
    is logged and said."""
    try:
        name = await person(ctx, signer, asked.user)
        check_role(ctx.config, name, asked.ask)
        if asked.ask.action == "oncall":
            text = await asyncio.to_thread(oncall, ctx)
        else:
            text = await asyncio.to_thread(act, ctx, name, asked.ask)
    except TocsinError as exc:
        text = exc.message
    except Exception:  # a bug or the database: the person is told, the log says what
        log.exception("a request from Slack failed")
        text = "tocsin could not do it: an error on the server (its log says which)"
    text = slack_escape(text)
    await slack_api.answer(asked.response_url, text)
    return text
