"""Who the caller is, and API tokens: ``GET /api/v1/whoami`` (any valid token), ``GET
/api/v1/tokens`` and ``DELETE /api/v1/tokens/{id}`` (an admin: every token; a responder:
their own), ``POST /api/v1/tokens`` (admin). A token's secret appears once, in the answer to
its creation; lists never carry it. Each route calls ``service.tokens``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tocsin.api.auth import Admin, Identified, Responder, caller, forget
from tocsin.api.context import state_of
from tocsin.api.errors import RowId
from tocsin.incidents.lifecycle import MAX_NAME_CHARS
from tocsin.service import tokens
from tocsin.store.repo import TokenRow

router = APIRouter()


def _caller(request: Request) -> tokens.Caller:
    identity = caller(request)
    return tokens.Caller(user=identity.user, role=identity.role)


@router.get("/api/v1/whoami")
async def whoami(identity: Identified) -> Response:
    """The caller's token: the user it acts for, its role, its id and what it is for."""
    return JSONResponse(
        {"user": identity.user, "role": identity.role, "token": identity.id, "name": identity.name}
    )


@router.get("/api/v1/tokens")
async def list_tokens(
    request: Request,
    _by: Responder,
    revoked: Annotated[bool, Query(description="Revoked tokens too.")] = False,
) -> Response:
    """Tokens, oldest first, without their secrets: every token for an admin, else the
    caller's own."""
    found = tokens.tokens(state_of(request).db, _caller(request), revoked)
    return JSONResponse([tokens.token_json(t) for t in found])


class NewToken(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=1, max_length=MAX_NAME_CHARS, description="Who acts with it.")
    role: str = Field(max_length=16, description="viewer, responder, admin or intake.")
    name: str = Field(default="", max_length=MAX_NAME_CHARS, description="What it is for.")


@router.post("/api/v1/tokens", status_code=201)
async def create_token(request: Request, _by: Admin, body: NewToken) -> Response:
    """A new token for a user; its secret (``token``) is in this answer only. With users in
    the configuration, the user must be one of them (any name for an intake token)."""
    state = state_of(request)
    made, secret = tokens.create(
        state.db,
        state.clock.now(),
        body.user,
        body.role,
        body.name,
        users=state.config.paging.users,
    )
    return JSONResponse({**tokens.token_json(made), "token": secret}, status_code=201)


@router.delete("/api/v1/tokens/{token_id}")
async def revoke_token(request: Request, _by: Responder, token_id: RowId) -> Response:
    """Revoke a token (an admin: any; a responder: their own). This server refuses it at
    once, other replicas within ten seconds."""
    state = state_of(request)
    revoked: TokenRow = tokens.revoke(state.db, state.clock.now(), token_id, _caller(request))
    forget(request, token_id)
    return JSONResponse(tokens.token_json(revoked))
