"""API tokens: ``Authorization: Bearer <token>``, or HTTP basic with the token as password
(Prometheus's ``basic_auth``). Tokens are stored hashed; each belongs to a user, who is the one
acting (``actor``), and its role decides what it may do."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from tocsin.api.state import AppState
from tocsin.service.tokens import Need, may
from tocsin.store import repo
from tocsin.store.repo import TokenRow

CACHE_S = 10.0


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status_code=401,
        detail=message,
        headers={"WWW-Authenticate": 'Bearer realm="tocsin", Basic realm="tocsin"'},
    )


def identify(request: Request) -> TokenRow:
    """The caller's token (its user and role), or 401 without a valid one. Looked up at most
    every ``CACHE_S`` seconds per token and process: a revoked token is refused within that
    time everywhere, and at once by the process that revoked it (``forget``)."""
    token = _token(request)
    if token is None:
        raise _unauthorized("authentication required: send an API token")
    return _identity(request, token)


def _identity(request: Request, token: str) -> TokenRow:
    state: AppState = request.app.state.tocsin
    now = state.clock.now()
    cached = state.token_cache.get(token)
    if cached is not None and cached[1] > now:
        identity = cached[0]
    else:
        with state.db.connect() as conn:
            identity = repo.token_identity(conn, token)
        if len(state.token_cache) > 10_000:
            state.token_cache.clear()
        state.token_cache[token] = (identity, now + CACHE_S)
    if identity is None:
        raise _unauthorized("invalid or revoked API token")
    request.state.identity = identity
    request.state.actor = identity.user
    return identity


def forget(request: Request, token_id: int) -> None:
    """This process stops accepting a revoked token at once."""
    cache = request.app.state.tocsin.token_cache
    for secret, (identity, _until) in list(cache.items()):
        if identity is not None and identity.id == token_id:
            cache.pop(secret, None)


def require(request: Request, need: Need, allow_query_token: bool = False) -> str:
    """The caller's role, or an HTTP error: 401 without a valid token, 403 when the role
    does not allow ``need``. Intake may be anonymous when the configuration says so. The
    token's user is kept as ``request.state.actor`` (who acknowledged, who resolved). Calendar
    feeds may take the token as ``?token=`` (calendar clients cannot send headers)."""
    state: AppState = request.app.state.tocsin
    token = _token(request)
    if token is None and allow_query_token:
        token = request.query_params.get("token") or None
    if token is None:
        if need == "intake" and state.config.model.api.anonymous_intake:
            request.state.actor = "anonymous"
            return "anonymous"
        raise _unauthorized("authentication required: send an API token")
    role = _identity(request, token).role
    if not may(role, need):
        raise HTTPException(status_code=403, detail=f"a {role} token may not do this")
    return role


def actor(request: Request) -> str:
    """Who acts: the user of the caller's token (``api`` when none was asked for)."""
    return str(getattr(request.state, "actor", "api"))


def needs(need: Need, allow_query_token: bool = False) -> Callable[[Request], Awaitable[str]]:
    """A route's dependency: the caller may do ``need`` (else 401/403), and is named."""

    async def who(request: Request) -> str:
        require(request, need, allow_query_token)
        return actor(request)

    return who


# The routes of the native API take the caller as a parameter: the token is checked (401/403)
# before the path, query and body are validated, and its name is the one on the timeline.
Reader = Annotated[str, Depends(needs("read"))]
FeedReader = Annotated[str, Depends(needs("read", allow_query_token=True))]  # calendar clients
Responder = Annotated[str, Depends(needs("respond"))]
Admin = Annotated[str, Depends(needs("admin"))]


async def _identified(request: Request) -> TokenRow:
    return identify(request)


# The caller's token whatever its role (``GET /api/v1/whoami``).
Identified = Annotated[TokenRow, Depends(_identified)]


def caller(request: Request) -> TokenRow:
    """The token a route's ``Reader``/``Responder``/``Admin`` dependency identified."""
    identity: TokenRow = request.state.identity
    return identity
