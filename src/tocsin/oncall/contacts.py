"""Personal notification rules, GoAlert's model (pure): each person's contact methods and the
timed rules that page them through those methods until the incident is acknowledged.

A **contact method** names a configured channel and the address that channel reaches the
person at; the channel's type decides what address it needs (``ADDRESS_KIND``: a Slack member
ID, an email address, an E.164 phone number, or none for a webhook). Left out, the address is
the person's own (``users[].slack``, ``email``, ``phone``). A **notification rule** says
"through this method, this long after the step pages me" (``slack-dm`` at 0s, ``phone`` after
2m, ``call`` after 5m). The old ``contact: [channels]`` means one method per channel, named as
the channel, each with a rule at 0s (``from_contact``); such a person's pages are exactly what
they were.

A method a person added themselves (not from the configuration) whose address reaches a
person (email, SMS, voice) is verified with a code sent through it before any rule uses it
(``needs_verification``; the code's rules are ``check_code``); until then paging skips it and
says so. Methods from the configuration count as verified: an admin wrote them.

The configuration (``config/paging.py``) and the API (``service/contacts.py``) check methods
and rules with the same function (``problems``), so both refuse the same things.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from tocsin.times import format_duration

MAX_METHODS = 10
MAX_RULES = 10
MAX_AFTER_S = 3600.0  # a rule fires at most an hour after its step
NAME = re.compile(r"[A-Za-z0-9_.-]{1,40}")
MAX_ADDRESS_CHARS = 254

AddressKind = Literal["slack", "email", "phone"]
# what address a channel type needs to reach one person; a type not named needs none (a
# webhook, PagerDuty, the console: the channel itself is the address)
ADDRESS_KIND: dict[str, AddressKind] = {
    "slack": "slack",
    "email": "email",
    "sms": "phone",
    "voice": "phone",
}
# addresses that reach a person directly: a user-added one is verified before use
VERIFIED_KINDS: frozenset[str] = frozenset({"email", "phone"})
_PATTERNS: dict[str, re.Pattern[str]] = {
    "slack": re.compile(r"[UW][A-Z0-9]{2,20}"),
    "email": re.compile(r"[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z0-9-]{2,63}"),
    "phone": re.compile(r"\+[1-9][0-9]{6,14}"),
}
_SAID = {
    "slack": "a Slack member ID (U…)",
    "email": "an email address",
    "phone": "an E.164 phone number (+15551230001)",
}

Source = Literal["config", "user"]


class Owner(Protocol):
    """The person a method belongs to, as far as their own addresses go."""

    @property
    def email(self) -> str | None: ...
    @property
    def slack(self) -> str | None: ...


@dataclass(frozen=True)
class Method:
    """A contact method: ``address`` as given (None: the person's own for its kind)."""

    name: str
    channel: str
    address: str | None = None
    source: Source = "config"
    verified: bool = True  # a user-added method that reaches a person: once its code matched


@dataclass(frozen=True)
class Rule:
    """Page through ``contact`` ``after_s`` seconds after the step pages the person."""

    contact: str
    after_s: float = 0.0


@dataclass(frozen=True)
class Problem:
    """What is wrong, at a place inside the methods and rules: ``("contact_methods", 2,
    "address")``, ``("notification_rules", 0, "contact")``."""

    where: tuple[str | int, ...]
    message: str


@dataclass(frozen=True)
class Planned:
    """One notification a rule makes: through ``contact`` (its ``channel``, at ``address``),
    ``after_s`` after the step. ``legacy``: a method of ``contact:`` at 0s, paged as before."""

    contact: str
    channel: str
    address: str | None
    after_s: float
    legacy: bool = False

    @property
    def key(self) -> str:
        """Its part of the idempotency key: the channel alone for a legacy method (the key of
        before), else the channel, the method and the delay (unique per rule)."""
        if self.legacy:
            return self.channel
        return f"{self.channel}:{self.contact}:{int(self.after_s)}s"


@dataclass(frozen=True)
class Skipped:
    """A rule not followed, and why (a method not verified yet)."""

    contact: str
    channel: str
    reason: str


def address_kind(channel_type: str | None) -> AddressKind | None:
    return ADDRESS_KIND.get(channel_type or "")


def own_address(kind: AddressKind | None, person: Owner) -> str | None:
    """The person's own address of ``kind`` (``users[].slack``, ``email``, ``phone``)."""
    if kind is None:
        return None
    value = person.email if kind == "email" else person.slack if kind == "slack" else None
    if kind == "phone":
        value = getattr(person, "phone", None)
    return value or None


def address_of(method: Method, channel_type: str | None, person: Owner) -> str | None:
    """Where ``method`` reaches the person: its own address, else the person's of its kind
    (None for a channel type that needs no address)."""
    kind = address_kind(channel_type)
    if kind is None:
        return None
    return method.address or own_address(kind, person)


def address_problem(kind: AddressKind, address: str) -> str | None:
    """Why ``address`` is not an address of ``kind``, if it is not."""
    if len(address) > MAX_ADDRESS_CHARS or not _PATTERNS[kind].fullmatch(address):
        return f"{address!r} is not {_SAID[kind]}"
    return None


def needs_verification(method: Method, channel_type: str | None) -> bool:
    """Whether ``method`` waits for its code before rules use it: added by the person, with
    an address that reaches a person (email, SMS, voice), and not verified yet."""
    kind = address_kind(channel_type)
    return method.source == "user" and kind in VERIFIED_KINDS and not method.verified


def problems(
    methods: Sequence[Method],
    rules: Sequence[Rule],
    channel_types: Mapping[str, str],
    person: Owner,
    *,
    check_names: bool = True,
) -> list[Problem]:
    """Everything wrong with a person's methods and rules, each at its place: bounds (at most
    ``MAX_METHODS`` methods and ``MAX_RULES`` rules, a delay of at most an hour), names
    (``NAME``, once each), channels that are not configured, a method with no address for
    its type or a malformed one, a rule naming no method, the same rule twice.
    ``check_names``: off for the methods ``contact:`` makes (named as their channels)."""
    out: list[Problem] = []
    if len(methods) > MAX_METHODS:
        out.append(Problem(("contact_methods",), f"at most {MAX_METHODS} contact methods"))
    if len(rules) > MAX_RULES:
        out.append(Problem(("notification_rules",), f"at most {MAX_RULES} notification rules"))
    seen: set[str] = set()
    for i, m in enumerate(methods):
        here: tuple[str | int, ...] = ("contact_methods", i)
        if check_names and not NAME.fullmatch(m.name):
            out.append(
                Problem((*here, "name"), f"{m.name!r}: a name is 1 to 40 of A-Z a-z 0-9 _ . -")
            )
        if m.name in seen:
            out.append(Problem((*here, "name"), f"contact method {m.name!r} is named twice"))
        seen.add(m.name)
        if m.channel not in channel_types:
            out.append(Problem((*here, "channel"), f"unknown channel {m.channel!r}"))
            continue
        kind = address_kind(channel_types[m.channel])
        if kind is None:
            if m.address:
                out.append(
                    Problem(
                        (*here, "address"),
                        f"channel {m.channel!r} ({channel_types[m.channel]}) takes no address",
                    )
                )
            continue
        address = m.address or own_address(kind, person)
        if not address:
            out.append(
                Problem(
                    (*here, "address"),
                    f"contact method {m.name!r} needs {_SAID[kind]}: give address, or the "
                    f"user's {kind}",
                )
            )
        elif (problem := address_problem(kind, address)) is not None:
            out.append(Problem((*here, "address"), problem))
    pairs: set[tuple[str, float]] = set()
    for i, r in enumerate(rules):
        here = ("notification_rules", i)
        if r.contact not in seen:
            out.append(Problem((*here, "contact"), f"unknown contact method {r.contact!r}"))
        if not 0 <= r.after_s <= MAX_AFTER_S:
            out.append(Problem((*here, "after"), "after must be between 0s and 1h"))
        if (r.contact, r.after_s) in pairs:
            out.append(
                Problem(
                    (*here, "contact"),
                    f"the rule {r.contact} after {format_duration(r.after_s, 'prometheus')} "
                    "is given twice",
                )
            )
        pairs.add((r.contact, r.after_s))
    return out


@dataclass(frozen=True)
class Profile:
    """A person's methods and rules in force, and where they came from: ``legacy`` (made by
    ``contact:``), ``config`` (the configuration's ``contact_methods``) or ``user`` (set by
    the person through the API or the console, over the configuration's)."""

    methods: tuple[Method, ...]
    rules: tuple[Rule, ...]
    origin: Literal["legacy", "config", "user"] = "config"


def from_contact(channels: Sequence[str]) -> tuple[tuple[Method, ...], tuple[Rule, ...]]:
    """What ``contact: [channels]`` means: a method per channel, named as the channel, with
    the person's own address, and a rule at 0s for each."""
    unique = list(dict.fromkeys(channels))
    return (
        tuple(Method(name=c, channel=c) for c in unique),
        tuple(Rule(contact=c) for c in unique),
    )


def plan(
    methods: Sequence[Method],
    rules: Sequence[Rule],
    channel_types: Mapping[str, str],
    person: Owner,
    legacy: bool = False,
) -> tuple[list[Planned], list[Skipped]]:
    """The notifications a step that pages the person makes, in rule order (the earliest
    first where delays differ), and the rules skipped (a method not verified, or gone).
    ``legacy``: the methods are ``contact:``'s, paged as before."""
    by_name = {m.name: m for m in methods}
    out: list[Planned] = []
    skipped: list[Skipped] = []
    for rule in sorted(rules, key=lambda r: r.after_s):
        method = by_name.get(rule.contact)
        if method is None:
            skipped.append(Skipped(rule.contact, "", "no such contact method"))
            continue
        kind = channel_types.get(method.channel)
        if needs_verification(method, kind):
            skipped.append(Skipped(method.name, method.channel, "not verified"))
            continue
        address = address_of(method, kind, person)
        out.append(Planned(method.name, method.channel, address, rule.after_s, legacy))
    return out, skipped


def said(items: Sequence[tuple[str, str]]) -> str:
    """``alice by phone, alice by call``: who and through which method, as the timeline
    says what was cancelled."""
    return ", ".join(f"{person} by {contact}" for person, contact in items)


# --- verification codes --------------------------------------------------------------------

CODE_DIGITS = 6
CODE_TTL_S = 600.0  # a code is good for 10 minutes
CODE_TRIES = 5  # wrong codes before a new one is needed


def code_hash(secret: str, user: str, method: str, code: str) -> str:
    """A code as it is kept (never the code): HMAC-SHA256 under ``secret``, bound to the
    person and the method, so that a code for one method verifies no other."""
    message = f"{user}\0{method}\0{code}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def code_text(code: str) -> str:
    """What the verification message says."""
    return (
        f"Your tocsin verification code is {code}. It is good for "
        f"{int(CODE_TTL_S // 60)} minutes. If you did not ask for it, ignore this message."
    )


Verdict = Literal["verified", "wrong", "expired", "used_up", "none"]


@dataclass(frozen=True)
class Pending:
    """A code sent and not yet matched: its hash, when it expires, wrong tries so far."""

    code_hash: str
    expires_at: float
    tries: int = 0


def check_code(pending: Pending | None, given_hash: str, now: float) -> Verdict:
    """Whether a code given (as its hash) verifies: ``none`` (no code was sent),
    ``expired``, ``used_up`` (too many wrong tries: ask for a new one), ``wrong`` or
    ``verified``."""
    if pending is None:
        return "none"
    if pending.tries >= CODE_TRIES:
        return "used_up"
    if now >= pending.expires_at:
        return "expired"
    if not hmac.compare_digest(pending.code_hash, given_hash):
        return "wrong"
    return "verified"
