"""Who is on call, and the overrides people make: on call now (per schedule, until when,
who is next), override add/list/remove, and the shifts a calendar feed shows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tocsin.errors import Invalid, NotFound
from tocsin.oncall.schedule import (
    Override,
    Schedule,
    Shift,
    next_handoff,
    on_call,
    override_problems,
    shifts,
    user_shifts,
)
from tocsin.service.context import Context
from tocsin.store import outbox, repo
from tocsin.store.db import begin_write

MAX_FEED_DAYS = 92
MAX_REASON_CHARS = 1000
_FOREVER_S = 10 * 365 * 24 * 3600.0  # "has not ended": the next ten years


def _overrides(ctx: Context, start: datetime, end: datetime) -> list[Override]:
    with ctx.db.connect() as conn:
        return [o for _id, o in outbox.overrides_between(conn, start.timestamp(), end.timestamp())]


def _shift_json(shift: Shift | None) -> dict[str, Any] | None:
    if shift is None:
        return None
    return {
        "users": list(shift.users),
        "start": shift.start.isoformat(),
        "end": shift.end.isoformat(),
    }


def schedule(ctx: Context, name: str) -> Schedule:
    """The configured schedule ``name``, or NotFound."""
    found = ctx.config.paging.schedules.get(name)
    if found is None:
        raise NotFound(f"no schedule {name!r}")
    return found


def oncall_now(ctx: Context, at: datetime, name: str | None = None) -> list[dict[str, Any]]:
    """Who is on call in each schedule (or the one named) at ``at``, until when, and who is
    next."""
    paging = ctx.config.paging
    if name:
        schedule(ctx, name)
    names = [name] if name else sorted(paging.schedules)
    found = _overrides(ctx, at - timedelta(days=1), at + timedelta(days=MAX_FEED_DAYS))
    out = []
    for schedule_name in names:
        mine = [o for o in found if o.schedule == schedule_name]
        users = on_call(paging.schedules[schedule_name], at, mine)
        nxt = next_handoff(paging.schedules[schedule_name], at, mine)
        out.append(
            {
                "schedule": schedule_name,
                "at": at.isoformat(),
                "users": [
                    {
                        "name": u,
                        "full_name": paging.users[u].full_name if u in paging.users else None,
                        "email": paging.users[u].email if u in paging.users else None,
                        "timezone": paging.users[u].timezone if u in paging.users else None,
                    }
                    for u in users
                ],
                "until": nxt.start.isoformat() if nxt else None,
                "next": _shift_json(nxt),
            }
        )
    return out


def schedule_shifts(ctx: Context, name: str, start: datetime, end: datetime) -> list[Shift]:
    """The shifts of schedule ``name`` over [start, end), overrides included."""
    found = [o for o in _overrides(ctx, start, end) if o.schedule == name]
    return shifts(schedule(ctx, name), start, end, found)


def layer_shifts(
    ctx: Context, name: str, start: datetime, end: datetime
) -> list[tuple[str, list[Shift]]]:
    """Each layer of schedule ``name`` on its own over [start, end), as (its rotation's name,
    its shifts): what the final shifts (``schedule_shifts``) are made of, before overrides
    and before a later layer wins."""
    found = schedule(ctx, name)
    return [
        (layer.rotation.name, shifts(replace(found, layers=(layer,)), start, end))
        for layer in found.layers
    ]


def user(ctx: Context, name: str) -> None:
    """NotFound unless ``name`` is a configured user."""
    if name not in ctx.config.paging.users:
        raise NotFound(f"no user {name!r}")


def shifts_of(ctx: Context, name: str, start: datetime, end: datetime) -> list[Shift]:
    """A person's on-call shifts over every schedule in [start, end), by start."""
    user(ctx, name)
    found = _overrides(ctx, start, end)
    mine: list[Shift] = []
    for schedule_name, sched in sorted(ctx.config.paging.schedules.items()):
        relevant = [o for o in found if o.schedule == schedule_name]
        mine.extend(user_shifts(sched, name, start, end, relevant))
    mine.sort(key=lambda s: s.start)
    return mine


def override_json(override_id: int, o: Override) -> dict[str, Any]:
    return {
        "id": override_id,
        "schedule": o.schedule,
        "user": o.user,
        "replaces": o.replaces,
        "start": o.start.isoformat(),
        "end": o.end.isoformat(),
    }


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def add_override(
    ctx: Context,
    schedule_name: str,
    user_name: str,
    start: datetime,
    end: datetime,
    by: str,
    replaces: str | None = None,
    reason: str = "",
) -> dict[str, Any]:
    """``user_name`` takes (``replaces``: a user, or ``*`` for whoever is on call) or joins
    a schedule from ``start`` to ``end`` (UTC when they carry no offset); the override."""
    if len(reason) > MAX_REASON_CHARS:
        raise Invalid(f"reason: at most {MAX_REASON_CHARS} characters")
    override = Override(schedule_name, _aware(start), _aware(end), user_name, replaces)
    paging = ctx.config.paging
    error = override_problems(override, paging.schedules, paging.users)
    if error:
        raise Invalid(error)
    with begin_write(ctx.db) as conn:
        new_id = outbox.add_override(conn, override, by, ctx.now(), reason)
    return override_json(new_id, override)


def overrides(ctx: Context, schedule_name: str | None = None) -> list[tuple[int, Override]]:
    """Overrides that have not ended (of one schedule, when named), by start."""
    now = ctx.now()
    with ctx.db.connect() as conn:
        return outbox.overrides_between(conn, now, now + _FOREVER_S, schedule_name)


def remove_override(ctx: Context, override_id: int) -> None:
    with begin_write(ctx.db) as conn:
        if not repo.is_row_id(override_id) or not outbox.delete_override(conn, override_id):
            raise NotFound(f"no override {override_id}")
