"""A person's own contact methods and notification rules (GoAlert's model): read them, change
them, send a test through one, verify one with a code. The API (``api/contacts.py``), the
console (``web/contacts.py``) and the CLI come here.

The configuration gives each user a starting point (``users[].contact_methods`` and
``notification_rules``, or the old ``contact:``). The first change a person makes stores all
of their methods and rules (``store.contacts``); from then on those are theirs, and paging
reads them over the configuration's. Each method keeps where it came from: one copied from
the configuration (same name, channel and address) counts as verified, for an admin wrote
it; one the person added whose address reaches a person (email, SMS, voice) is verified with
a code sent through it before rules use it. Both are checked by the one rule the
configuration uses (``oncall.contacts.problems``).

A test and a code are messages of kind ``test`` sent at once through the method alone (the
code in its ``text``), not through the outbox: they belong to no incident, and the person
wants to know now whether it arrived. Each person may have ``SENDS`` of each sent per
``SENDS_WINDOW_S`` (``TooMany``).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tocsin import times
from tocsin.config import Config
from tocsin.errors import Conflict, Forbidden, Invalid, NotFound, TooMany, Unavailable
from tocsin.notify.base import ChannelConfigError
from tocsin.notify.http import http_session
from tocsin.notify.message import Message
from tocsin.notify.registry import build_channel
from tocsin.notify.retry import Outcome
from tocsin.oncall.contacts import (
    CODE_DIGITS,
    CODE_TTL_S,
    Method,
    Problem,
    Profile,
    Rule,
    address_kind,
    address_of,
    check_code,
    code_hash,
    code_text,
    needs_verification,
    problems,
)
from tocsin.service.context import Context
from tocsin.store import contacts as rows
from tocsin.store import linkkey
from tocsin.store.db import begin_write

SENDS = 3  # tests (and, apart, codes) per person per window
SENDS_WINDOW_S = 600.0


# --- who -----------------------------------------------------------------------------------


def person_for(ctx: Context, actor: str, admin: bool, user: str | None = None) -> str:
    """Whose methods a request is about: the caller's own, or (``user``) another person's,
    which only an admin may change or read. The person must be a configured user."""
    name = user or actor
    if name != actor and not admin:
        raise Forbidden("only an admin may see or change another person's contact methods")
    if name not in ctx.config.paging.users:
        if name == actor:
            raise NotFound(f"{name!r} is not one of the configured users (users: in tocsin.yaml)")
        raise NotFound(f"no user {name!r}")
    return name


# --- reading -------------------------------------------------------------------------------


def _configured(config: Config, user: str) -> Profile:
    paging = config.paging
    found = paging.profiles.get(user)
    if found is not None:
        return found
    return Profile((), (), origin="config")


def _current(ctx: Context, conn: Any, user: str) -> tuple[Profile, rows.Stored | None]:
    stored = rows.stored(conn, user)
    if stored is not None:
        return stored.profile(), stored
    return _configured(ctx.config, user), None


def _method_json(ctx: Context, user: str, m: Method) -> dict[str, Any]:
    config = ctx.config
    cfg = config.paging.channels.get(m.channel)
    kind = cfg.type if cfg is not None else None
    person = config.paging.users[user]
    return {
        "name": m.name,
        "channel": m.channel,
        "channel_type": kind,
        "address": address_of(m, kind, person),
        "given_address": m.address,
        "address_kind": address_kind(kind),
        "source": m.source,
        "verified": not needs_verification(m, kind),
        "needs_verification": needs_verification(m, kind),
    }


def view(ctx: Context, user: str) -> dict[str, Any]:
    """A person's methods and rules in force, with where they came from (``origin``:
    ``user`` when the person set their own, ``config`` or ``legacy`` (``contact:``) when the
    configuration's apply; each method's ``source``) and whether each is verified."""
    with ctx.db.connect() as conn:
        profile, stored = _current(ctx, conn, user)
        pending = {
            m.name: rows.pending_code(conn, user, m.name) is not None for m in profile.methods
        }
    methods = []
    for m in profile.methods:
        shown = _method_json(ctx, user, m)
        shown["code_sent"] = pending[m.name]
        methods.append(shown)
    return {
        "user": user,
        "origin": profile.origin,
        "methods": methods,
        "rules": [_rule_json(r) for r in profile.rules],
        "updated_at": times.to_dt(stored.updated_at).isoformat() if stored else None,
        "updated_by": stored.updated_by if stored else None,
        "channels": sorted(ctx.config.paging.channels),
    }


def _rule_json(r: Rule) -> dict[str, Any]:
    return {
        "contact": r.contact,
        "after": times.format_duration(r.after_s, "prometheus"),
        "after_s": r.after_s,
    }


# --- changing ------------------------------------------------------------------------------


def _raise(found: list[Problem], methods_changed: bool) -> None:
    """The first problem as an error: a rule left naming a method removed is a ``Conflict``
    (change the rules first), anything else ``Invalid`` (with the field it is at)."""
    for p in found if methods_changed else ():
        if p.where[0] == "notification_rules" and p.message.startswith("unknown contact"):
            index = p.where[1] if len(p.where) > 1 else 0
            raise Conflict(
                f"notification rule {int(index) + 1} uses {p.message.split(' ', 2)[2]}, "
                "which is not among the contact methods: change the rules first",
                field=".".join(str(x) for x in p.where),
            )
    first = found[0]
    raise Invalid(first.message, field=".".join(str(x) for x in first.where))


def _check(
    ctx: Context, user: str, methods: Sequence[Method], rules: Sequence[Rule], changed: str
) -> None:
    if not methods:
        raise Invalid("at least one contact method", field="contact_methods")
    if not rules:
        raise Invalid("at least one notification rule", field="notification_rules")
    person = ctx.config.paging.users[user]
    found = problems(methods, rules, ctx.config.paging.channel_types, person)
    if found:
        _raise(found, changed == "methods")


def _stored_methods(
    ctx: Context, user: str, methods: Sequence[Method], before: rows.Stored | None
) -> list[rows.StoredMethod]:
    """The methods as stored: one equal to the configuration's (name, channel, address) is
    the configuration's; another is the person's own, still verified if it was before with
    the same channel and address."""
    config = ctx.config
    person = config.paging.users[user]
    types = config.paging.channel_types
    configured = {m.name: m for m in _configured(config, user).methods}
    earlier = {m.name: m for m in before.methods} if before else {}
    out = []
    for m in methods:
        kind = types.get(m.channel)
        same = configured.get(m.name)
        if (
            same is not None
            and same.channel == m.channel
            and address_of(same, kind, person) == address_of(m, kind, person)
        ):
            out.append(rows.StoredMethod(m.name, m.channel, same.address, "config", None))
            continue
        was = earlier.get(m.name)
        kept = (
            was.verified_at
            if was is not None
            and was.source == "user"
            and was.channel == m.channel
            and was.address == m.address
            else None
        )
        out.append(rows.StoredMethod(m.name, m.channel, m.address, "user", kept))
    return out


def set_methods(
    ctx: Context, user: str, methods: Sequence[Mapping[str, Any]], by: str
) -> dict[str, Any]:
    """Replace a person's contact methods (in order: ``name``, ``channel``, ``address``);
    the rules stay as they are and must still name methods that exist."""
    given = [
        Method(str(m["name"]), str(m["channel"]), (m.get("address") or None), "user", False)
        for m in methods
    ]
    with begin_write(ctx.db) as conn:
        profile, stored = _current(ctx, conn, user)
        _check(ctx, user, given, profile.rules, "methods")
        kept = _stored_methods(ctx, user, given, stored)
        rows.replace(conn, user, kept, profile.rules, ctx.now(), by)
    return view(ctx, user)


def set_rules(
    ctx: Context, user: str, rules: Sequence[Mapping[str, Any]], by: str
) -> dict[str, Any]:
    """Replace a person's notification rules (``contact``, ``after``: a duration of at most
    an hour); the methods stay as they are."""
    given = []
    for i, r in enumerate(rules):
        try:
            after = times.parse_duration(str(r.get("after", "0s")))
        except ValueError as exc:
            raise Invalid(f"{exc}", field=f"notification_rules.{i}.after") from None
        given.append(Rule(str(r["contact"]), after))
    with begin_write(ctx.db) as conn:
        profile, stored = _current(ctx, conn, user)
        methods = list(profile.methods)
        _check(ctx, user, methods, given, "rules")
        kept = _stored_methods(ctx, user, methods, None) if stored is None else list(stored.methods)
        rows.replace(conn, user, kept, given, ctx.now(), by)
    return view(ctx, user)


# --- sending: a test, a code ---------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """What a test or a code did: sent, or the channel's error."""

    user: str
    method: str
    channel: str
    ok: bool
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "user": self.user,
            "contact": self.method,
            "channel": self.channel,
            "sent": self.ok,
        }
        if self.error:
            out["error"] = self.error
        return out


def _method(ctx: Context, conn: Any, user: str, name: str) -> Method:
    profile, _stored = _current(ctx, conn, user)
    for m in profile.methods:
        if m.name == name:
            return m
    raise NotFound(f"{user} has no contact method {name!r}")


def _recipient(ctx: Context, user: str, m: Method) -> dict[str, str]:
    """The person as a message to them through ``m`` names them (as paging does)."""
    person = ctx.config.paging.users[user]
    cfg = ctx.config.paging.channels.get(m.channel)
    kind = cfg.type if cfg is not None else None
    recipient = {
        "name": person.name,
        "email": person.email or "",
        "slack": person.slack or "",
        "contact": m.name,
    }
    if person.full_name:
        recipient["full_name"] = person.full_name
    if person.phone:
        recipient["phone"] = person.phone
    address = address_of(m, kind, person)
    what = address_kind(kind)
    if address and what:
        recipient["address"] = address
        recipient[what] = address
    return recipient


def _message(ctx: Context, user: str, m: Method, title: str, text: str, key: str) -> Message:
    now = ctx.now()
    return Message(
        kind="test",
        incident_id=0,
        title=title,
        status="triggered",
        severity=None,
        summary=text.split("\n", 1)[0],
        group_labels={},
        alerts=(),
        idempotency_key=key,
        created_at=times.to_dt(now).isoformat(),
        external_url=ctx.config.model.global_.external_url.rstrip("/") + "/me/notifications",
        recipient=_recipient(ctx, user, m),
        text=text,
    )


def _deliver(ctx: Context, channel: str, message: Message) -> Outcome:
    """One attempt through ``channel``, now (in this thread: the API calls this from a worker
    thread, never from its event loop)."""
    cfg = ctx.config.paging.channels.get(channel)
    if cfg is None:
        return Outcome(ok=False, error=f"channel {channel!r} is not configured", transient=False)

    async def attempt() -> Outcome:
        session = http_session()
        try:
            try:
                built = build_channel(
                    cfg,
                    http=session,
                    clock=ctx.clock,
                    external_url=ctx.config.model.global_.external_url,
                )
            except ChannelConfigError as exc:
                return Outcome(ok=False, error=str(exc), transient=False)
            return await built.send(message)
        finally:
            await session.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(attempt())
    raise Unavailable("a test is sent from a worker thread, not the event loop")


def _limit(conn: Any, user: str, kind: str, now: float, what: str) -> None:
    if rows.sent_since(conn, user, kind, now - SENDS_WINDOW_S) >= SENDS:
        raise TooMany(
            f"at most {SENDS} {what} per {int(SENDS_WINDOW_S // 60)} minutes: try again later"
        )


def send_test(ctx: Context, user: str, name: str, by: str) -> Sent:
    """A message of kind ``test`` through one of the person's methods alone, to them, now."""
    now = ctx.now()
    with begin_write(ctx.db) as conn:
        m = _method(ctx, conn, user, name)
        _limit(conn, user, "test", now, "tests")
        rows.record_send(conn, user, "test", name, now, SENDS_WINDOW_S)
    text = (
        f"This is a test from tocsin of {user}'s contact method {name} ({m.channel}), sent by "
        f"{by}. Pages will reach you here."
    )
    key = f"test:{user}:{name}:{now:.6f}"
    outcome = _deliver(ctx, m.channel, _message(ctx, user, m, f"Test of {name}", text, key))
    return Sent(user, name, m.channel, outcome.ok, "" if outcome.ok else outcome.error[:300])


def _secret(conn: Any) -> str:
    key = linkkey.link_key(conn)
    return key.hex() if key is not None else "tocsin contact codes"


def start_verification(ctx: Context, user: str, name: str, by: str) -> Sent:
    """Send a new code (``CODE_DIGITS`` digits, good for ``CODE_TTL_S``) through a method the
    person added, as a ``test`` message with the code in its text; the code before it, if
    any, no longer verifies. Only its hash is kept."""
    now = ctx.now()
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    with begin_write(ctx.db) as conn:
        m = _method(ctx, conn, user, name)
        kind = ctx.config.paging.channel_types.get(m.channel)
        if not needs_verification(m, kind):
            why = (
                "is from the configuration"
                if m.source == "config"
                else "is verified already"
                if m.verified
                else "needs no verification (its address reaches no person)"
            )
            raise Conflict(f"contact method {name!r} {why}")
        _limit(conn, user, "code", now, "codes")
        rows.record_send(conn, user, "code", name, now, SENDS_WINDOW_S)
        hashed = code_hash(_secret(conn), user, name, code)
        rows.set_code(conn, user, name, hashed, m.address, now + CODE_TTL_S, now)
    key = f"code:{user}:{name}:{now:.6f}"
    message = _message(ctx, user, m, "Your verification code", code_text(code), key)
    outcome = _deliver(ctx, m.channel, message)
    return Sent(user, name, m.channel, outcome.ok, "" if outcome.ok else outcome.error[:300])


def confirm(ctx: Context, user: str, name: str, code: str) -> dict[str, Any]:
    """The code a person read in the message: right, the method is verified (and rules use
    it from now on); wrong, expired, or after ``CODE_TRIES`` wrong ones, ``Invalid`` or
    ``Conflict`` saying so."""
    given = code.strip()
    if not (len(given) == CODE_DIGITS and given.isdigit()):
        raise Invalid(f"the code is {CODE_DIGITS} digits", field="code")
    now = ctx.now()
    with begin_write(ctx.db) as conn:
        m = _method(ctx, conn, user, name)
        kind = ctx.config.paging.channel_types.get(m.channel)
        if not needs_verification(m, kind):
            raise Conflict(f"contact method {name!r} needs no code")
        found = rows.pending_code(conn, user, name)
        pending = found[0] if found is not None and found[1] == m.address else None
        verdict = check_code(pending, code_hash(_secret(conn), user, name, given), now)
        if verdict == "wrong":
            rows.wrong_try(conn, user, name)
    # the wrong try is counted even though this answers an error
    if verdict == "none":
        raise Conflict(f"no code was sent to {name!r}: ask for one first")
    if verdict == "used_up":
        raise Conflict("too many wrong codes: ask for a new one")
    if verdict == "expired":
        raise Conflict("the code has expired: ask for a new one")
    if verdict == "wrong":
        raise Invalid("wrong code", field="code")
    with begin_write(ctx.db) as conn:
        rows.verified(conn, user, name, now)
        rows.clear_code(conn, user, name)
    return view(ctx, user)


# --- who a number belongs to -------------------------------------------------------------------


def users_by_phone(ctx: Context) -> dict[str, str]:
    """Phone number (E.164) -> user name, for an inbound SMS or call: each user's
    ``phone``, the phone addresses of the configuration's contact methods, and those of
    methods people added and verified (a number not verified is nobody's). A number two
    people share is left out (it names nobody)."""
    config = ctx.config
    types = config.paging.channel_types
    found: dict[str, set[str]] = {}
    for name, person in config.paging.users.items():
        if person.phone:
            found.setdefault(person.phone, set()).add(name)
        profile = config.paging.profiles.get(name)
        for m in profile.methods if profile else ():
            if address_kind(types.get(m.channel)) == "phone":
                address = address_of(m, types.get(m.channel), person)
                if address:
                    found.setdefault(address, set()).add(name)
    with ctx.db.connect() as conn:
        own = rows.verified_addresses(conn)
    for name, channel, address in own:
        if address_kind(types.get(channel)) == "phone" and name in config.paging.users:
            found.setdefault(address, set()).add(name)
    return {number: next(iter(names)) for number, names in found.items() if len(names) == 1}
