"""The console's sign-in: a signed session cookie and the CSRF tokens of its forms.

A person signs in with an API token, and holds its user and role for the session. The cookie
names the token by its row id and says when the session ends, signed with HMAC-SHA256 under a
key of the server's (derived from the key of signed links, ``store.linkkey``, so that every
process and replica of one server accepts it). The token's secret is never in the cookie.
Each request checks the signature and the time, and the server then checks that the token is
not revoked: revoking it signs the person out everywhere.

A person may instead sign in with their name and password (``service.passwords``). That
cookie, under the same name, starts with ``p.`` and holds the user's name (base64url), the
password's stamp (random, made anew whenever the password is set) and when the session ends,
signed the same way; never the password nor its hash. Each request checks that the user's
password still has that stamp: setting it again or removing it signs them out everywhere.

A person may also sign in through an OpenID Connect provider (``web/oidc.py``, when
``console.oidc`` is configured). That cookie starts with ``o.`` and holds the configured user's
name (base64url) and when the session ends, signed the same way; nothing from the provider
(no token) is kept. Each request checks that OIDC is still configured and the user still is.
While the provider is asked, a short-lived cookie of its own (``FLOW_COOKIE``, path
``/signin``) holds the flow's state, nonce, PKCE verifier and where to go after, signed too.

Every form of a signed-in page carries a CSRF token derived from the session (``csrf``), and
every state-changing request must send it back (a form field, or htmx's header). The sign-in
form, before any session, is guarded the same way by a random cookie of its own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

COOKIE = "tocsin_session"
SIGNIN_COOKIE = "tocsin_signin"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
SESSION_S = 12 * 3600  # a shift; then sign in again
_PURPOSE = b"tocsin console session v1"
_PROCESS_KEY = secrets.token_bytes(32)  # no key of the server's: sessions last this process


def session_key(link_key: bytes | None) -> bytes:
    """The key sessions are signed with: from the server's link key when it has one."""
    base = link_key if link_key is not None else _PROCESS_KEY
    return hmac.new(base, _PURPOSE, hashlib.sha256).digest()


def _sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _seal(key: bytes, fields: list[str], expires: int) -> str:
    """``fields`` and ``expires``, joined by dots, and their signature: a session cookie's
    value (each kind's fields say whose it is)."""
    body = ".".join([*fields, str(expires)])
    return f"{body}.{_sign(key, body)}"


def _unseal(key: bytes, value: str | None, now: float, width: int) -> list[str] | None:
    """The fields of a value ``_seal`` made of ``width`` parts in all (fields, expiry,
    signature), when its signature holds and its time has not passed; else None."""
    if not value or len(value) > MAX_VALUE_CHARS:
        return None
    parts = value.split(".")
    if len(parts) != width:
        return None
    *fields, expires, sig = parts
    if not expires.isascii() or not expires.isdigit() or len(expires) > 12:
        return None
    if not hmac.compare_digest(sig, _sign(key, ".".join(parts[:-1]))):
        return None
    if int(expires) <= now:
        return None
    return fields


def session_value(key: bytes, token_id: int, expires: int) -> str:
    """The cookie's value for a session of token ``token_id`` until ``expires`` (epoch s)."""
    return _seal(key, [str(token_id)], expires)


def session_token(key: bytes, value: str | None, now: float) -> int | None:
    """The token id a cookie's value names, when its signature holds and its time has not
    passed; else None."""
    fields = _unseal(key, value, now, 3)
    if fields is None or not fields[0].isascii() or not fields[0].isdigit():
        return None
    return int(fields[0])


PASSWORD = "p"  # the first field of a password session's cookie
MAX_VALUE_CHARS = 1200  # a name of 200 characters, 4 bytes each, in base64, and the rest
MAX_STAMP_CHARS = 64


@dataclass(frozen=True)
class PasswordSession:
    """What a password session's cookie says: whose it is, and the stamp of the password it
    was signed in with."""

    user: str
    stamp: str


def password_value(key: bytes, user: str, stamp: str, expires: int) -> str:
    """The cookie's value for a session of ``user``, signed in with the password of
    ``stamp``, until ``expires`` (epoch s)."""
    return _seal(key, [PASSWORD, _name_text(user), stamp], expires)


def session_password(key: bytes, value: str | None, now: float) -> PasswordSession | None:
    """The user and stamp a password session's cookie names, when its signature holds and its
    time has not passed; else None (a token's session too)."""
    fields = _unseal(key, value, now, 5)
    if fields is None or fields[0] != PASSWORD:
        return None
    _, name, stamp = fields
    if not stamp or len(stamp) > MAX_STAMP_CHARS:
        return None
    user = _name_of(name)
    return PasswordSession(user, stamp) if user is not None else None


OIDC = "o"  # the first field of an OpenID Connect session's cookie


def _name_text(user: str) -> str:
    return base64.urlsafe_b64encode(user.encode()).decode().rstrip("=")


def _name_of(text: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def oidc_value(key: bytes, user: str, expires: int) -> str:
    """The cookie's value for a session of ``user``, signed in through the OpenID provider,
    until ``expires`` (epoch s)."""
    return _seal(key, [OIDC, _name_text(user)], expires)


def session_oidc(key: bytes, value: str | None, now: float) -> str | None:
    """The user an OpenID Connect session's cookie names, when its signature holds and its
    time has not passed; else None (a token's or a password's session too)."""
    fields = _unseal(key, value, now, 4)
    if fields is None or fields[0] != OIDC:
        return None
    return _name_of(fields[1]) or None


FLOW_COOKIE = "tocsin_oidc"
FLOW_S = 600  # the provider's sign-in must come back within 10 minutes
MAX_FLOW_CHARS = 4000


@dataclass(frozen=True)
class Flow:
    """An OpenID Connect sign-in under way: what the callback must find again."""

    state: str
    nonce: str
    verifier: str  # the PKCE code verifier
    next_path: str
    expires: int


def flow_value(key: bytes, flow: Flow) -> str:
    """The flow's cookie: its fields as JSON in base64url, signed."""
    body = json.dumps(
        [flow.state, flow.nonce, flow.verifier, flow.next_path, flow.expires],
        separators=(",", ":"),
    )
    text = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    return f"{text}.{_sign(key, 'oidc-flow:' + text)}"


def session_flow(key: bytes, value: str | None, now: float) -> Flow | None:
    """The flow a cookie holds, when its signature holds and its 10 minutes have not
    passed; else None."""
    if not value or len(value) > MAX_FLOW_CHARS or value.count(".") != 1:
        return None
    text, sig = value.split(".")
    if not hmac.compare_digest(sig, _sign(key, "oidc-flow:" + text)):
        return None
    body = _name_of(text)
    if body is None:
        return None
    try:
        fields = json.loads(body)
    except ValueError:
        return None
    if (
        not isinstance(fields, list)
        or len(fields) != 5
        or not all(isinstance(f, str) for f in fields[:4])
        or not isinstance(fields[4], int)
    ):
        return None
    if fields[4] <= now:
        return None
    return Flow(*fields)


def csrf(key: bytes, value: str) -> str:
    """The CSRF token of a session (or of a sign-in form's cookie)."""
    return _sign(key, "csrf:" + value)[:40]


def csrf_ok(key: bytes, value: str | None, given: str | None) -> bool:
    """Whether ``given`` is the CSRF token of the session ``value``."""
    if not value or not given:
        return False
    return hmac.compare_digest(csrf(key, value), given)


FIRST_S = 24 * 3600  # a first sign-in link printed at start lasts a day


def first_link(key: bytes, expires: int) -> str:
    """The path of the server's first sign-in link (``tocsin serve`` prints it while the
    server has no admin), good until ``expires``."""
    return f"/signin/first?expires={expires}&sig={_sign(key, f'first:{expires}')}"


def first_ok(key: bytes, expires: str, sig: str, now: float) -> bool:
    """Whether a first sign-in link is the server's and its time has not passed."""
    if not expires.isdigit() or len(expires) > 12 or len(sig) > 100:
        return False
    return hmac.compare_digest(sig, _sign(key, f"first:{expires}")) and int(expires) > now


def new_signin() -> str:
    """A random value for the sign-in form's own cookie."""
    return secrets.token_urlsafe(24)
