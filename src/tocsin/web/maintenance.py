"""The console's maintenance windows: the windows not over (and the last ended ones), a new
window for a route or a service until a time (or recurring with a configured time interval),
and ending one now. The work is ``service.maintenance``'s, as the API's and the CLI's."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response

from tocsin import times
from tocsin.errors import Invalid
from tocsin.service import maintenance
from tocsin.service.context import serving
from tocsin.web import access
from tocsin.web.render import page

router = APIRouter()

MAX_TEXT = 4000


async def _list_page(
    request: Request, person: access.Person, error: str = "", status: int = 200, **form: str
) -> Response:
    ctx = serving(access.app_state(request))
    found = await asyncio.to_thread(maintenance.windows, ctx, True)
    return page(
        "maintenance.html",
        status=status,
        person=person,
        title="Maintenance",
        current=[w.json() for w in found if w.state != "ended"],
        ended=[w.json() for w in found if w.state == "ended"][:50],
        receivers=ctx.config.receivers,
        intervals=sorted(ctx.config.intervals),
        error=error,
        form={
            "matchers": "",
            "receiver": "",
            "duration": "2h",
            "time_interval": "",
            "comment": "",
            **form,
        },
        flash=request.query_params.get("flash", "")[:200],
    )


@router.get("/maintenance")
@access.handled
async def maintenance_list(request: Request) -> Response:
    """The windows: current and pending first, then the last ended ones; the form."""
    person = access.require(request, "read")
    return await _list_page(request, person)


@router.post("/maintenance")
@access.handled
async def maintenance_create(request: Request) -> Response:
    """A new window, by the signed-in person: from now, for its duration (or recurring)."""
    person, form = await access.acting(request)
    text = str(form.get("matchers") or "")[:MAX_TEXT]
    receiver = str(form.get("receiver") or "").strip()
    duration = str(form.get("duration") or "").strip()[:20]
    interval = str(form.get("time_interval") or "").strip()
    comment = str(form.get("comment") or "").strip()
    kept = {
        "matchers": text,
        "receiver": receiver,
        "duration": duration,
        "time_interval": interval,
        "comment": comment,
    }
    ctx = serving(access.app_state(request))
    try:
        seconds = times.parse_duration(duration) if duration else None
        made = await asyncio.to_thread(
            maintenance.add,
            ctx,
            matchers=[line.strip() for line in text.splitlines() if line.strip()],
            receiver=receiver or None,
            starts_at=None,
            ends_at=ctx.now() + seconds if seconds is not None else None,
            time_interval=interval or None,
            comment=comment,
            created_by=person.user,
        )
    except Invalid as exc:
        return await _list_page(request, person, exc.message, 422, **kept)
    return access.redirect("/maintenance", flash=f"Maintenance window {made.id} created")


@router.post("/maintenance/{window_id}/end")
@access.handled
async def maintenance_end(request: Request, window_id: int) -> Response:
    person, _form = await access.acting(request)
    ctx = serving(access.app_state(request))
    await asyncio.to_thread(maintenance.end, ctx, window_id, person.user)
    return access.redirect("/maintenance", flash=f"Maintenance window {window_id} ended")
