"""The public status page (``/status``) and its Atom feed (``/status/feed.atom``): no
sign-in. What it shows is ``service.status.page``: the components' states, the published
incidents with their public updates, and 90 days of history; nothing internal. Anyone can
ask for it, so the answer is made at most once every ``FRESH_S`` per process."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from tocsin.service import status
from tocsin.service.context import serving
from tocsin.web import access
from tocsin.web.render import ENV, page

router = APIRouter()

FRESH_S = 30.0
_cache: dict[int, tuple[float, dict[str, Any]]] = {}  # by the application's id
_lock = threading.Lock()


async def _view(request: Request) -> dict[str, Any]:
    state = access.app_state(request)
    now = state.clock.now()
    key = id(request.app)
    with _lock:
        cached = _cache.get(key)
    if cached is not None and now - cached[0] < FRESH_S:
        return cached[1]
    view = await asyncio.to_thread(status.page, serving(state))
    with _lock:
        _cache[key] = (now, view)
    return view


def _public(answer: Response) -> Response:
    answer.headers["Cache-Control"] = f"public, max-age={int(FRESH_S)}"
    return answer


@router.get("/status")
async def status_page(request: Request) -> Response:
    view = await _view(request)
    return _public(page("status.html", person=None, **view))


@router.get("/status/feed.atom")
async def status_feed(request: Request) -> Response:
    view = await _view(request)
    base = str(request.base_url).rstrip("/")
    updated = max([u.at for i in view["incidents"] for u in i["updates"]] or [view["now"]])
    body = ENV.get_template("feed.atom").render(
        base=base,
        updated=datetime.fromtimestamp(updated, UTC).isoformat(),
        stamp=lambda ts: datetime.fromtimestamp(ts, UTC).isoformat(),
        **view,
    )
    return _public(Response(body, media_type="application/atom+xml; charset=utf-8"))
