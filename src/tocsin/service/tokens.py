"""API tokens: each belongs to a user, who is the one named on the timeline for what is done
with it. Create one (its secret is shown once, only its hash is kept), list them (never a
secret), revoke one. Admins manage every token; others list and revoke their own.

The CLI (on the server host) and the API (``/api/v1/tokens``) both come here.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, Engine

from tocsin import times
from tocsin.alerts.payloads import format_time
from tocsin.errors import Conflict, Forbidden, Invalid, NotFound
from tocsin.incidents.lifecycle import MAX_NAME_CHARS
from tocsin.store import passwords, repo
from tocsin.store.db import begin_write
from tocsin.store.repo import ROLES as ROLES  # the roles a token or a password may have
from tocsin.store.repo import TokenRow

PREFIX = "tocsin_"
# What each role may do, at every door (the API's routes, the console's pages and actions).
Need = Literal["read", "intake", "respond", "admin"]
ALLOWED: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "intake": frozenset({"intake"}),
    "responder": frozenset({"read", "intake", "respond"}),
    "admin": frozenset({"read", "intake", "respond", "admin"}),
}


def may(role: str, need: Need) -> bool:
    """Whether a token of ``role`` may do ``need``."""
    return need in ALLOWED.get(role, frozenset())


MACHINE_ROLES = ("intake",)  # tokens for machines (Prometheus, Alertmanager): any user name


@dataclass(frozen=True)
class Caller:
    """Who asks: a token's user and role (``admin`` may manage every token)."""

    user: str
    role: str

    @property
    def admin(self) -> bool:
        return self.role == "admin"


def token_json(token: TokenRow) -> dict[str, Any]:
    """A token as the doors show it: never its secret, nor its hash."""
    return {
        "id": token.id,
        "user": token.user,
        "role": token.role,
        "name": token.name,
        "created_at": format_time(times.to_dt(token.created_at)),
        "revoked_at": (
            format_time(times.to_dt(token.revoked_at)) if token.revoked_at is not None else None
        ),
    }


def check_user(user: str, role: str, users: Collection[str]) -> str:
    """The user a new token belongs to, or ``Invalid``: a name (at most MAX_NAME_CHARS
    printable characters) and, when the configuration names users, one of them (but for the
    intake role, whose tokens are for machines)."""
    name = user.strip()
    if not name:
        raise Invalid("user: a token belongs to a user: name one")
    if len(name) > MAX_NAME_CHARS:
        raise Invalid(f"user: at most {MAX_NAME_CHARS} characters")
    if not name.isprintable():
        raise Invalid("user: control characters are not allowed in a name")
    if users and role not in MACHINE_ROLES and name not in users:
        known = sorted(users)
        shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
        raise Invalid(f"user: no user {name!r} in the configuration (users: {shown})")
    return name


def create(
    db: Engine,
    now: float,
    user: str,
    role: str,
    name: str = "",
    users: Collection[str] = (),
) -> tuple[TokenRow, str]:
    """A new token of ``role`` for ``user`` (checked against the configured ``users``), and
    its secret, which is not kept: show it once."""
    if role not in ROLES:
        raise Invalid(f"role: must be one of {', '.join(ROLES)}")
    owner = check_user(user, role, users)
    if len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise Invalid(f"name: at most {MAX_NAME_CHARS} printable characters")
    secret = PREFIX + secrets.token_urlsafe(32)
    with begin_write(db) as conn:
        token_id = repo.create_token(conn, name, role, secret, now, user=owner)
        made = repo.get_token(conn, token_id)
    assert made is not None
    return made, secret


def _any_admin(conn: Connection) -> bool:
    """Whether any admin token is valid or any password signs in as an admin."""
    return any(t.role == "admin" for t in repo.list_tokens(conn)) or passwords.any_admin(conn)


def identity(db: Engine, secret: str) -> TokenRow | None:
    """The valid (unrevoked) token whose secret this is (a sign-in with it)."""
    with db.connect() as conn:
        return repo.token_identity(conn, secret)


def by_id(db: Engine, token_id: int) -> TokenRow | None:
    """The token with this id, revoked or not (a session names its token by id)."""
    if not repo.is_row_id(token_id):
        return None
    with db.connect() as conn:
        return repo.get_token(conn, token_id)


def has_admin(db: Engine) -> bool:
    """Whether the server has an admin: a valid admin token or an admin's password (a new
    server has neither)."""
    with db.connect() as conn:
        return _any_admin(conn)


def first_admin(
    db: Engine, now: float, user: str, users: Collection[str] = ()
) -> tuple[TokenRow, str]:
    """The server's first admin token, for ``user``, and its secret: Conflict once any admin
    token is valid or any password signs in as an admin (what makes a first sign-in link good
    once). Checked and made in one write transaction."""
    owner = check_user(user, "admin", users)
    secret = PREFIX + secrets.token_urlsafe(32)
    with begin_write(db) as conn:
        if _any_admin(conn):
            raise Conflict("this server has an admin already: sign in with your token or password")
        token_id = repo.create_token(conn, "console first sign-in", "admin", secret, now, owner)
        made = repo.get_token(conn, token_id)
    assert made is not None
    return made, secret


def tokens(db: Engine, caller: Caller | None = None, revoked: bool = False) -> list[TokenRow]:
    """The tokens ``caller`` may see (an admin's or the server host's, None: all; else the
    caller's own), oldest first; revoked ones too with ``revoked``."""
    mine = None if caller is None or caller.admin else caller.user
    with db.connect() as conn:
        return repo.list_tokens(conn, user=mine, revoked=revoked)


def revoke(db: Engine, now: float, token_id: int, caller: Caller | None = None) -> TokenRow:
    """Revoke a token: from now on it is refused (a running server may accept it for up to
    ``api.auth.CACHE_S`` seconds more). ``caller`` (None: the server host) may revoke any
    token as an admin, else only their own."""
    with begin_write(db) as conn:
        token = repo.get_token(conn, token_id) if repo.is_row_id(token_id) else None
        if token is None:
            raise NotFound(f"no token {token_id}")
        if caller is not None and not caller.admin and token.user != caller.user:
            raise Forbidden(f"token {token_id} is not yours: only an admin may revoke it")
        if not repo.revoke_token(conn, token_id, now):
            raise Conflict(f"token {token_id} was revoked already")
        revoked = repo.get_token(conn, token_id)
    assert revoked is not None
    return revoked
