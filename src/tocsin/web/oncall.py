"""The console's on-call view: who is on call now in each schedule, the next 14 days of each
schedule as a bar of shifts (overrides included), the overrides that have not ended, a form
to add one and a button to remove one, and each schedule's calendar feed."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response

from tocsin import times
from tocsin.errors import Invalid
from tocsin.oncall.schedule import Shift
from tocsin.service import paging
from tocsin.service.context import Context, serving
from tocsin.web import access
from tocsin.web.render import page

router = APIRouter()

DAYS = 14


def _bars(found: list[Any], now: datetime, end: datetime) -> list[dict[str, Any]]:
    """Shifts as bars over [now, end): where each starts and how wide it is, in percent."""
    span = (end - now).total_seconds()
    return [
        {
            "users": ", ".join(shift.users) or "nobody",
            "start": shift.start,
            "end": shift.end,
            "left": round(max(0.0, (shift.start - now).total_seconds()) / span * 100, 2),
            "width": round(
                (min(shift.end, end) - max(shift.start, now)).total_seconds() / span * 100, 2
            ),
        }
        for shift in found
        if shift.end > now and shift.start < end
    ]


def _view(ctx: Context) -> dict[str, Any]:
    now = times.to_dt(ctx.now())
    end = now + timedelta(days=DAYS)
    overrides = [
        {**paging.override_json(override_id, o), "start_dt": o.start, "end_dt": o.end}
        for override_id, o in paging.overrides(ctx)
    ]
    schedules = []
    for entry in paging.oncall_now(ctx, now):
        name = entry["schedule"]
        layers = [
            {"name": rotation, "bars": _bars(found, now, end)}
            for rotation, found in paging.layer_shifts(ctx, name, now, end)
        ]
        mine = [
            Shift((o["user"],), o["start_dt"], o["end_dt"])
            for o in overrides
            if o["schedule"] == name
        ]
        schedules.append(
            {
                **entry,
                "layers": layers,
                "override_bars": _bars(mine, now, end),
                "bars": _bars(paging.schedule_shifts(ctx, name, now, end), now, end),
            }
        )
    return {
        "now": now,
        "schedules": schedules,
        "overrides": overrides,
        "users": sorted(ctx.config.paging.users),
        "days": [(now + timedelta(days=d)).strftime("%a %d") for d in range(DAYS)],
    }


@router.get("/oncall")
@access.handled
async def oncall_page(request: Request) -> Response:
    person = access.require(request, "read")
    view = await asyncio.to_thread(_view, serving(access.app_state(request)))
    return page(
        "oncall.html",
        person=person,
        title="On call",
        flash=request.query_params.get("flash", "")[:200],
        error="",
        **view,
    )


def _when(value: str, name: str, now: float) -> datetime:
    """A time from the form's ``datetime-local`` field, in UTC (``times.parse_time``)."""
    try:
        return times.parse_time(value, around=now)
    except Invalid as exc:
        raise Invalid(
            f"{name}: {exc.message}; give a date and time, such as 2026-12-24T18:00"
        ) from None


@router.post("/oncall/overrides")
@access.handled
async def override_add(request: Request) -> Response:
    """Someone takes a schedule (from whoever is on call, or from one person) or joins it."""
    person, form = await access.acting(request)
    schedule = str(form.get("schedule") or "")[:200]
    user = str(form.get("user") or "")[:200]
    replaces = str(form.get("replaces") or "*")[:200]
    reason = str(form.get("reason") or "")[: paging.MAX_REASON_CHARS + 1]
    ctx = serving(access.app_state(request))
    try:
        start = _when(str(form.get("start") or ""), "from", ctx.now())
        end = _when(str(form.get("end") or ""), "until", ctx.now())
        await asyncio.to_thread(
            paging.add_override,
            ctx,
            schedule,
            user,
            start,
            end,
            person.user,
            None if replaces == "+" else replaces,
            reason,
        )
    except Invalid as exc:
        view = await asyncio.to_thread(_view, ctx)
        return page(
            "oncall.html",
            status=422,
            person=person,
            title="On call",
            flash="",
            error=exc.message,
            **view,
        )
    return access.redirect(
        "/oncall", flash=f"{user} is on call in {schedule} from {start:%d %b %H:%M} UTC"
    )


@router.post("/oncall/overrides/{override_id}/remove")
@access.handled
async def override_remove(request: Request, override_id: int) -> Response:
    await access.acting(request)
    ctx = serving(access.app_state(request))
    await asyncio.to_thread(paging.remove_override, ctx, override_id)
    return access.redirect("/oncall", flash="Override removed")
