"""The action links of a page or a status update (issue 21): acknowledge or resolve an
incident from the message itself, from a phone, without signing in.

A GET shows what the link will do and acts on nothing: mail scanners fetch every link of a
message before its reader does. The button on that page POSTs the same link, which acts once
(``service.share.act_by_link``); a used, expired or altered link says so plainly."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData, QueryParams

from tocsin.errors import Forbidden, Invalid
from tocsin.incidents.share import (
    LINK_ACTIONS,
    MAX_NONCE_CHARS,
    MAX_SIGNATURE_CHARS,
    allowed_actions,
)
from tocsin.service import record
from tocsin.service.context import serving
from tocsin.service.share import ActionLink, act_by_link, used_by
from tocsin.web import access
from tocsin.web.render import incident_name, page

router = APIRouter()
SAID = {"acknowledge": "Acknowledged", "resolve": "Resolved"}


def _link(action: str, incident_id: int, values: QueryParams | FormData) -> ActionLink:
    who, nonce = str(values.get("who") or ""), str(values.get("n") or "")
    expires, sig = str(values.get("expires") or ""), str(values.get("sig") or "")
    if action not in LINK_ACTIONS:
        raise Invalid(f"no action {action[:40]!r}")
    if not expires.isdigit() or len(expires) > 12 or len(sig) > MAX_SIGNATURE_CHARS:
        raise Forbidden("this link is not valid; use the buttons of the message you received")
    if len(nonce) > MAX_NONCE_CHARS or not who or len(who) > 200:
        raise Forbidden("this link is not valid; use the buttons of the message you received")
    return ActionLink(action, incident_id, who, nonce, int(expires), sig)


def _answer(link: ActionLink, found: dict[str, Any], used: Any, done: str) -> Response:
    return page(
        "act.html",
        person=None,
        title=f"{done or link.action.capitalize()} #{link.incident_id}",
        link=link,
        incident=found,
        shown=incident_name(found),
        used=used,
        done=done,
        allowed=link.action in allowed_actions(found["status"]),
    )


@router.get("/act/{action}/{incident_id}")
@access.handled
async def confirm(request: Request, action: str, incident_id: int) -> Response:
    """What the link will do, and the one button that does it."""
    link = _link(action, incident_id, request.query_params)
    ctx = serving(access.app_state(request))
    before = await asyncio.to_thread(used_by, ctx, link)
    found = await asyncio.to_thread(record.incident, ctx, incident_id)
    return _answer(link, found, before, "")


@router.post("/act/{action}/{incident_id}")
@access.handled
async def act(request: Request, action: str, incident_id: int) -> Response:
    """The button: act once, as the person the link was sent to."""
    link = _link(action, incident_id, await access.read_form(request))
    ctx = serving(access.app_state(request))
    found = await asyncio.to_thread(act_by_link, ctx, link)
    return _answer(link, found, None, SAID[action])
