"""The console's replay (``/replay``): the stored alerts of the last days run through the
configuration in force on the simulator's pipeline, beside what really happened
(``service/replay.py``). For admins: a replay costs the server a simulation.

The console replays only the configuration in force: a candidate file is replayed from the
command line on the host (``tocsin replay --config``), so that no form ever names a file for
the server to read. Read-only: nothing is written to the database. One replay at a time per
process (another is refused: ``TooMany``), each bounded by ``MAX_ALERTS``."""

from __future__ import annotations

import asyncio
import functools
import threading
from typing import Any

from fastapi import APIRouter, Request, Response

from tocsin.errors import Invalid, TooMany
from tocsin.service import replay
from tocsin.service.context import Context, serving
from tocsin.simulate.replay import play
from tocsin.web import access
from tocsin.web.render import page

router = APIRouter()

WINDOWS = (1, 7, 30)  # a replay's window, in days
MAX_ALERTS = 2_000  # the console's bound (about 40 s): a larger window from the command line


_RUNNING = threading.Lock()  # one console replay at a time in this process


def _replay(ctx: Context, days: int) -> dict[str, Any]:
    if not _RUNNING.acquire(blocking=False):
        raise TooMany("a replay is running already; try again when it has finished")
    try:
        return _replayed(ctx, days)
    finally:
        _RUNNING.release()


def _replayed(ctx: Context, days: int) -> dict[str, Any]:
    now = ctx.now()
    # the server's log stays the server's while the simulation runs (``quiet=False``)
    player = functools.partial(play, quiet=False)
    made = replay.replay(ctx, ctx.config, now - days * 86400, now, player, max_alerts=MAX_ALERTS)
    data = made.to_json()
    real, candidate = data["real"], data["candidate"]
    people = sorted({p["person"] for side in (real, candidate) for p in side["people"]})

    def of(side: dict[str, Any], name: str) -> dict[str, Any]:
        found = [p for p in side["people"] if p["person"] == name]
        return found[0] if found else {"pages": 0, "out_of_hours": 0, "timezone": "UTC"}

    return {
        "result": data,
        "people": [(name, of(real, name), of(candidate, name)) for name in people],
        "channels": sorted(real["channels"].keys() | candidate["channels"].keys()),
    }


@router.get("/replay")
@access.handled
async def replay_page(request: Request) -> Response:
    person = access.require(request, "admin")
    raw = request.query_params.get("days")
    view: dict[str, Any] = {"result": None}
    if raw is not None:
        if raw not in {str(w) for w in WINDOWS}:  # not isdigit(): "¹" is a digit to it
            raise Invalid(f"days must be one of {', '.join(map(str, WINDOWS))}")
        ctx = serving(access.app_state(request))
        view = await asyncio.to_thread(_replay, ctx, int(raw))
    return page(
        "replay.html",
        person=person,
        title="Replay",
        days=int(raw) if raw is not None else None,
        windows=WINDOWS,
        max_alerts=MAX_ALERTS,
        **view,
    )
