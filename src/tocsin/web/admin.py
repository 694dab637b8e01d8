"""The console's admin screen: the API tokens (each a person's, or a machine's for intake),
made, listed and revoked. A new token's secret is shown once, on the page that made it."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response

from tocsin.service import tokens
from tocsin.web import access
from tocsin.web.render import page

router = APIRouter()


def _page(
    request: Request, person: access.Person, made: tuple[str, str] | None, status: int = 200,
    error: str = "",
) -> Response:  # fmt: skip
    state = access.app_state(request)
    found = tokens.tokens(state.db, None, revoked=request.query_params.get("revoked") == "1")
    return page(
        "tokens.html",
        status=status,
        person=person,
        title="Tokens",
        tokens=[tokens.token_json(t) for t in found],
        roles=tokens.ROLES,
        users=sorted(state.config.paging.users),
        made=made,
        error=error,
        flash=request.query_params.get("flash", "")[:200],
    )


@router.get("/admin/tokens")
@access.handled
async def token_list(request: Request) -> Response:
    person = access.require(request, "admin")
    return await asyncio.to_thread(_page, request, person, None)


@router.post("/admin/tokens")
@access.handled
async def token_create(request: Request) -> Response:
    """A new token; its secret on this page only (it is not kept)."""
    person, form = await access.acting(request, "admin")
    state = access.app_state(request)
    user = str(form.get("user") or "").strip()[:200]
    role = str(form.get("role") or "")[:32]
    name = str(form.get("name") or "").strip()[:201]
    made, secret = await asyncio.to_thread(
        tokens.create, state.db, state.clock.now(), user, role, name, state.config.paging.users
    )
    return await asyncio.to_thread(
        _page, request, person, (f"{made.role} token {made.id} for {made.user}", secret)
    )


@router.post("/admin/tokens/{token_id}/revoke")
@access.handled
async def token_revoke(request: Request, token_id: int) -> Response:
    person, _form = await access.acting(request, "admin")
    state = access.app_state(request)
    caller = tokens.Caller(person.user, person.role)
    await asyncio.to_thread(tokens.revoke, state.db, state.clock.now(), token_id, caller)
    return access.redirect("/admin/tokens", flash=f"Token {token_id} revoked")
