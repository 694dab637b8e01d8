"""Passwords for the console: a person may sign in with their user name and a password set on
the server host (``tocsin users password``), as well as with an API token.

Only an argon2id hash is kept (``argon2-cffi``'s ``PasswordHasher``: RFC 9106's low-memory
profile), with the role the password signs in as and a random stamp that its sessions name:
setting the password again or removing it changes or drops the stamp, which ends every
session signed in with the one before. No password is stored, logged or returned.

Checking is argon2's own verification, constant-time; a name with no password is checked
against a dummy hash all the same, so that the time taken does not tell which names have one.
A hash made under older parameters is made again at the next successful sign-in.

Wrong guesses are throttled per user name (known or not): after ``MAX_FAILURES`` failures in
``WINDOW_S`` seconds from the first, every sign-in with that name is refused (``TooMany``,
the right password too) until the window passes. The count is kept in a table
(``signin_failures``), so every process and replica of the server shares it; two guesses at
the very same moment may each pass the check before either is counted.

The CLI (on the server host) and the console (``POST /signin/password``) both come here.
"""

from __future__ import annotations

import functools
import secrets
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine

from tocsin.errors import Invalid, NotFound, TooMany
from tocsin.incidents.lifecycle import MAX_NAME_CHARS
from tocsin.service.tokens import check_user
from tocsin.store import passwords as rows
from tocsin.store.db import begin_write

MIN_CHARS = 8
MAX_CHARS = 200  # argon2 hashes anything; the bound keeps a form's guess cheap to refuse
ROLES = ("viewer", "responder", "admin")  # not intake: its tokens are for machines
MAX_FAILURES = 5
WINDOW_S = 15 * 60
_HASHER = PasswordHasher()  # argon2id


@dataclass(frozen=True)
class Password:
    """A user's password as the doors see it, never its hash: the role it signs in as, the
    stamp its sessions name, when it was set."""

    user: str
    role: str
    stamp: str
    updated_at: float


def _of(row: rows.PasswordRow) -> Password:
    return Password(row.user, row.role, row.stamp, row.updated_at)


def normal(password: str) -> str:
    """A password as it is hashed and checked: Unicode NFC, so that the same characters typed
    on two keyboards are one password."""
    return unicodedata.normalize("NFC", password)


def check_new(password: str) -> str:
    """A new password, normalized, or ``Invalid``: ``MIN_CHARS`` to ``MAX_CHARS``
    characters, none a control character. The message never repeats the password."""
    given = normal(password)
    if len(given) < MIN_CHARS:
        raise Invalid(f"password: at least {MIN_CHARS} characters (this one has {len(given)})")
    if len(given) > MAX_CHARS:
        raise Invalid(f"password: at most {MAX_CHARS} characters")
    if not given.isprintable():
        raise Invalid("password: control characters (a tab, a newline) are not allowed")
    return given


def check_role(role: str) -> str:
    if role not in ROLES:
        raise Invalid(f"role: must be one of {', '.join(ROLES)} (intake tokens are for machines)")
    return role


def set_password(
    db: Engine, now: float, user: str, role: str, password: str, users: Collection[str] = ()
) -> Password:
    """Set ``user``'s password (``user`` checked against the configured ``users``), signing in
    as ``role``; it replaces any before it, whose sessions end. Only its hash is kept."""
    check_role(role)
    owner = check_user(user, role, users)
    hashed = _HASHER.hash(check_new(password))
    stamp = secrets.token_hex(16)
    with begin_write(db) as conn:
        rows.put(conn, owner, hashed, role, stamp, now)
        rows.forget_failures(conn, owner)
    return Password(owner, role, stamp, now)


def remove_password(db: Engine, user: str) -> None:
    """Remove ``user``'s password: its sessions end; ``NotFound`` when there is none."""
    name = user.strip()
    with begin_write(db) as conn:
        removed = len(name) <= MAX_NAME_CHARS and rows.remove(conn, name)
    if not removed:
        raise NotFound(f"{name!r} has no password")


def current(db: Engine, user: str) -> Password | None:
    """``user``'s password as it stands (its role and stamp), or None."""
    if len(user) > MAX_NAME_CHARS:
        return None
    with db.connect() as conn:
        row = rows.get(conn, user)
    return _of(row) if row is not None else None


@functools.cache
def _dummy() -> str:
    """A hash no password is checked against but to take the time a real check takes."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password(db: Engine, now: float, user: str, password: str) -> Password | None:
    """The password of ``user`` when ``password`` is it, else None (one answer for a wrong
    name and a wrong password); ``TooMany`` after ``MAX_FAILURES`` failures with this name in
    ``WINDOW_S``, whatever the password. A success ends the name's window of failures."""
    name = user.strip()
    if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
        return None  # no password can belong to it: nothing to count or to time
    since = now - WINDOW_S
    with db.connect() as conn:
        if rows.failures(conn, name, since) >= MAX_FAILURES:
            raise TooMany(
                f"too many wrong passwords for {name!r}: wait up to {WINDOW_S // 60} minutes and "
                "try again"
            )
        row = rows.get(conn, name)
    given = normal(password)
    ok = False
    if MIN_CHARS <= len(given) <= MAX_CHARS:  # no stored password is outside these bounds
        if row is None:
            _verify(_dummy(), given)
        else:
            ok = _verify(row.hash, given)
    if not ok or row is None:
        with begin_write(db) as conn:
            rows.fail(conn, name, now, since)
        return None
    with begin_write(db) as conn:
        rows.forget_failures(conn, name)
        if _HASHER.check_needs_rehash(row.hash):
            rows.rehash(conn, name, row.hash, _HASHER.hash(given))
    return _of(row)
