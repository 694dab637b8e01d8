"""Rows of the console's passwords (``service/passwords.py`` decides): a user's hash, role and
stamp, and the failed sign-ins counted per user name. Each function runs inside the caller's
transaction; no password reaches this module, only argon2id hashes of them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, text, update

from tocsin.store.schema import signin_failures, user_passwords

# the same in SQLite and PostgreSQL
_FAIL = text(
    "INSERT INTO signin_failures (user_name, failures, first_at) VALUES (:user, 1, :now)"
    " ON CONFLICT (user_name) DO UPDATE SET failures = signin_failures.failures + 1"
)


@dataclass(frozen=True)
class PasswordRow:
    """A user's password as stored: its hash (never shown), the role it signs in as, the
    stamp its sessions name, when it was set."""

    user: str
    hash: str
    role: str
    stamp: str
    updated_at: float


def get(conn: Connection, user: str) -> PasswordRow | None:
    row = conn.execute(select(user_passwords).where(user_passwords.c.user_name == user)).first()
    if row is None:
        return None
    return PasswordRow(row.user_name, row.hash, row.role, row.stamp, row.updated_at)


def any_admin(conn: Connection) -> bool:
    """Whether any user's password signs in as an admin."""
    found = conn.execute(
        select(user_passwords.c.user_name).where(user_passwords.c.role == "admin").limit(1)
    ).first()
    return found is not None


def put(conn: Connection, user: str, hash_: str, role: str, stamp: str, now: float) -> None:
    """Set ``user``'s password (its hash), replacing any before it."""
    conn.execute(delete(user_passwords).where(user_passwords.c.user_name == user))
    conn.execute(
        insert(user_passwords).values(
            user_name=user, hash=hash_, role=role, stamp=stamp, updated_at=now
        )
    )


def rehash(conn: Connection, user: str, old: str, new: str) -> bool:
    """Replace the hash ``old`` of ``user`` by ``new`` (the same password under argon2's
    present parameters), keeping the stamp: its sessions go on. False when the password
    changed meanwhile."""
    done = conn.execute(
        update(user_passwords)
        .where(user_passwords.c.user_name == user, user_passwords.c.hash == old)
        .values(hash=new)
    )
    return done.rowcount == 1


def remove(conn: Connection, user: str) -> bool:
    """Remove ``user``'s password; False when there was none."""
    done = conn.execute(delete(user_passwords).where(user_passwords.c.user_name == user))
    return done.rowcount == 1


def failures(conn: Connection, user: str, since: float) -> int:
    """How many sign-ins with ``user`` failed in its window, when that started after
    ``since`` (an older one has passed)."""
    row = conn.execute(
        select(signin_failures.c.failures).where(
            signin_failures.c.user_name == user, signin_failures.c.first_at > since
        )
    ).first()
    return int(row.failures) if row is not None else 0


def fail(conn: Connection, user: str, now: float, since: float) -> int:
    """Count one failed sign-in with ``user``: a window that started at or before ``since``
    has passed and starts again at ``now``. The passed windows of every name are dropped (a
    guesser's made-up names do not pile up). The count in the window, this one included."""
    conn.execute(delete(signin_failures).where(signin_failures.c.first_at <= since))
    conn.execute(_FAIL, {"user": user, "now": now})  # one statement: two guesses at once count
    return failures(conn, user, since)


def forget_failures(conn: Connection, user: str) -> None:
    """A sign-in with ``user`` succeeded: its window ends."""
    conn.execute(delete(signin_failures).where(signin_failures.c.user_name == user))
