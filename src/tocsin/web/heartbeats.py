"""The console's heartbeats (``/heartbeats``): each configured heartbeat monitor with its
state, last beat and deadline, missed ones first; what ``GET /api/v1/heartbeats`` lists."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response

from tocsin import words
from tocsin.service import heartbeats
from tocsin.service.context import serving
from tocsin.web import access
from tocsin.web.render import page

router = APIRouter()


@router.get("/heartbeats")
@access.handled
async def heartbeat_list(request: Request) -> Response:
    """The heartbeats: missed first, then the others, in the configuration's order."""
    person = access.require(request, "read")
    ctx = serving(access.app_state(request))
    found = await asyncio.to_thread(heartbeats.listing, ctx)
    found.sort(key=lambda h: h["state"] != "missed")  # stable: the file's order kept
    for each in found:
        each["beats_said"] = words.count(each["beats"], "beat")
    return page("heartbeats.html", person=person, title="Heartbeats", heartbeats=found)
