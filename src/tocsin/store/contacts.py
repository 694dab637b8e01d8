"""People's own contact methods and notification rules (``oncall/contacts.py``), their
verification codes and the tests and codes sent to them. Each function runs inside the
caller's transaction.

A person with a row in ``contact_profiles`` set their own methods and rules; those replace
the configuration's for them (``profiles``, which the escalate stage reads). A method keeps
where it came from (``source``: ``config``, copied from the configuration, or ``user``) and,
for a user-added one, when its code matched (``verified_at``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, update

from tocsin.oncall.contacts import Method, Pending, Profile, Rule
from tocsin.store.schema import (
    contact_codes,
    contact_methods,
    contact_profiles,
    contact_sends,
    notification_rules,
)


@dataclass(frozen=True)
class StoredMethod:
    name: str
    channel: str
    address: str | None
    source: str  # config | user
    verified_at: float | None

    def method(self) -> Method:
        return Method(
            self.name,
            self.channel,
            self.address,
            "user" if self.source == "user" else "config",
            self.source != "user" or self.verified_at is not None,
        )


@dataclass(frozen=True)
class Stored:
    """A person's own methods and rules, as stored, in their order."""

    methods: tuple[StoredMethod, ...]
    rules: tuple[Rule, ...]
    updated_at: float
    updated_by: str

    def profile(self) -> Profile:
        return Profile(tuple(m.method() for m in self.methods), self.rules, origin="user")


def _read(conn: Connection, users: Sequence[str] | None) -> dict[str, Stored]:
    heads = select(contact_profiles)
    methods = select(contact_methods).order_by(contact_methods.c.position)
    rules = select(notification_rules).order_by(notification_rules.c.position)
    if users is not None:
        heads = heads.where(contact_profiles.c.user_name.in_(list(users)))
        methods = methods.where(contact_methods.c.user_name.in_(list(users)))
        rules = rules.where(notification_rules.c.user_name.in_(list(users)))
    found: dict[str, list[StoredMethod]] = {}
    for r in conn.execute(methods):
        found.setdefault(r.user_name, []).append(
            StoredMethod(r.name, r.channel, r.address, r.source, r.verified_at)
        )
    ruled: dict[str, list[Rule]] = {}
    for r in conn.execute(rules):
        ruled.setdefault(r.user_name, []).append(Rule(r.contact, float(r.after_s)))
    return {
        h.user_name: Stored(
            tuple(found.get(h.user_name, ())),
            tuple(ruled.get(h.user_name, ())),
            float(h.updated_at),
            h.updated_by,
        )
        for h in conn.execute(heads)
    }


def stored(conn: Connection, user: str) -> Stored | None:
    """A person's own methods and rules (None: they set none; the configuration's apply)."""
    return _read(conn, [user]).get(user)


_PROFILES = "tocsin_contact_profiles"


def profiles(conn: Connection) -> dict[str, Profile]:
    """Every person's own methods and rules, by name: what paging reads over the
    configuration's (a few rows per person who set their own). Read once per transaction:
    an engine batch escalating thousands of incidents reads them once, and a change to them
    commits in a transaction of its own."""
    transaction = conn.get_transaction()
    cached = conn.info.get(_PROFILES)
    if transaction is not None and cached is not None and cached[0] is transaction:
        found: dict[str, Profile] = cached[1]
        return found
    found = {user: s.profile() for user, s in _read(conn, None).items()}
    if transaction is not None:
        conn.info[_PROFILES] = (transaction, found)
    return found


def replace(
    conn: Connection,
    user: str,
    methods: Sequence[StoredMethod],
    rules: Sequence[Rule],
    now: float,
    by: str,
) -> None:
    """Set a person's own methods and rules (all of them, in order)."""
    conn.info.pop(_PROFILES, None)  # what this transaction read of them is stale now
    conn.execute(delete(contact_methods).where(contact_methods.c.user_name == user))
    conn.execute(delete(notification_rules).where(notification_rules.c.user_name == user))
    conn.execute(delete(contact_profiles).where(contact_profiles.c.user_name == user))
    conn.execute(insert(contact_profiles).values(user_name=user, updated_at=now, updated_by=by))
    if methods:
        conn.execute(
            insert(contact_methods),
            [
                {
                    "user_name": user,
                    "name": m.name,
                    "channel": m.channel,
                    "address": m.address,
                    "position": i,
                    "source": m.source,
                    "verified_at": m.verified_at,
                    "created_at": now,
                }
                for i, m in enumerate(methods)
            ],
        )
    if rules:
        conn.execute(
            insert(notification_rules),
            [
                {"user_name": user, "position": i, "contact": r.contact, "after_s": r.after_s}
                for i, r in enumerate(rules)
            ],
        )
    # a code sent to a method that is gone, or now has another address, verifies nothing
    kept = {m.name: m.address for m in methods if m.source == "user"}
    for row in conn.execute(select(contact_codes).where(contact_codes.c.user_name == user)):
        if row.method not in kept or kept[row.method] != row.address:
            clear_code(conn, user, row.method)


def verified(conn: Connection, user: str, method: str, now: float) -> None:
    conn.execute(
        update(contact_methods)
        .where(contact_methods.c.user_name == user, contact_methods.c.name == method)
        .values(verified_at=now)
    )


# --- verification codes ----------------------------------------------------------------------


def pending_code(conn: Connection, user: str, method: str) -> tuple[Pending, str | None] | None:
    """The code sent to a method and not yet matched, and the address it went to."""
    conn.info.pop(_PROFILES, None)
    row = conn.execute(
        select(contact_codes).where(
            contact_codes.c.user_name == user, contact_codes.c.method == method
        )
    ).first()
    if row is None:
        return None
    return Pending(row.code_hash, float(row.expires_at), int(row.tries)), row.address


def set_code(
    conn: Connection,
    user: str,
    method: str,
    code_hash: str,
    address: str | None,
    expires_at: float,
    now: float,
) -> None:
    """A new code for a method (the one before it, if any, verifies nothing any more)."""
    clear_code(conn, user, method)
    conn.execute(
        insert(contact_codes).values(
            user_name=user,
            method=method,
            code_hash=code_hash,
            address=address,
            expires_at=expires_at,
            tries=0,
            sent_at=now,
        )
    )


def wrong_try(conn: Connection, user: str, method: str) -> None:
    conn.execute(
        update(contact_codes)
        .where(contact_codes.c.user_name == user, contact_codes.c.method == method)
        .values(tries=contact_codes.c.tries + 1)
    )


def clear_code(conn: Connection, user: str, method: str) -> None:
    conn.execute(
        delete(contact_codes).where(
            contact_codes.c.user_name == user, contact_codes.c.method == method
        )
    )


# --- tests and codes sent ----------------------------------------------------------------------


def sent_since(conn: Connection, user: str, kind: str, since: float) -> int:
    """How many messages of ``kind`` (test, code) went to a person's methods since then."""
    row = conn.execute(
        select(func.count()).where(
            contact_sends.c.user_name == user,
            contact_sends.c.kind == kind,
            contact_sends.c.at >= since,
        )
    ).first()
    return int(row[0]) if row is not None else 0


def record_send(
    conn: Connection, user: str, kind: str, method: str, now: float, keep_s: float
) -> None:
    """Record a message sent (and forget the person's older than ``keep_s``)."""
    conn.execute(
        delete(contact_sends).where(
            contact_sends.c.user_name == user, contact_sends.c.at < now - keep_s
        )
    )
    conn.execute(insert(contact_sends).values(user_name=user, kind=kind, method=method, at=now))


def verified_addresses(conn: Connection) -> list[tuple[str, str, str]]:
    """(user, channel, address) of every user-added method verified, with an address of its
    own: what a number an SMS comes from may belong to."""
    rows = conn.execute(
        select(contact_methods.c.user_name, contact_methods.c.channel, contact_methods.c.address)
        .where(
            contact_methods.c.source == "user",
            contact_methods.c.verified_at.is_not(None),
            contact_methods.c.address.is_not(None),
        )
        .order_by(contact_methods.c.user_name, contact_methods.c.position)
    )
    return [(r.user_name, r.channel, r.address) for r in rows]
