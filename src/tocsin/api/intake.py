"""The other intakes: Alertmanager's webhook (v4), PagerDuty Events API v2, and tocsin's own
generic JSON (docs/intake.md)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from tocsin import ratelimit, times
from tocsin.alerts.payloads import (
    Limits,
    PagerDutyInvalid,
    Parsed,
    StructuralError,
    TooLarge,
    finish,
    parse_generic,
    parse_pagerduty,
    parse_webhook,
)
from tocsin.api.auth import require
from tocsin.api.context import context, state_of
from tocsin.api.heartbeats import beat_by
from tocsin.api.raw import Abort, read_json
from tocsin.service import events

router = APIRouter()


Parser = Callable[[Any, datetime, float, Limits], Parsed]


async def _intake(request: Request, parse: Parser, source: str, what: str) -> Response:
    """Read, parse and store one intake request: 422 for a malformed body, 413 beyond the
    limits, 400 (after storing the valid alerts) when some alerts were invalid."""
    require(request, "intake")
    state = state_of(request)
    try:
        body = await read_json(request, state.config.model.limits.max_body_bytes, what)
        parsed = parse(
            body, times.to_dt(state.clock.now()), state.config.resolve_timeout_s, state.limits
        )
    except Abort as abort:
        return abort.response
    except StructuralError as exc:
        return JSONResponse(status_code=422, content={"error": str(exc)})
    except TooLarge as exc:
        return JSONResponse(status_code=413, content={"error": str(exc)})
    stored = 0
    if parsed.alerts:
        assert state.writer is not None
        stored = (await state.writer.write(parsed.alerts, source)).stored
        await beat_by(request, parsed.alerts)
    return JSONResponse(
        status_code=400 if parsed.errors else 200,
        content={"stored": stored, "errors": parsed.errors},
    )


@router.post("/api/v1/intake/alertmanager")
async def alertmanager_webhook(request: Request) -> Response:
    """Alertmanager's webhook receiver payload, version 4."""
    return await _intake(request, parse_webhook, "alertmanager-webhook", "webhook")


@router.post("/api/v1/alerts")
async def generic_alerts(request: Request) -> Response:
    """tocsin's documented generic JSON shape (docs/server.md)."""
    return await _intake(request, parse_generic, "generic", "alerts")


# PagerDuty answers 429 beyond its per-routing-key rate; tocsin keeps the same promise to
# the sender: a token bucket per routing key.
_PD_RATE_PER_MIN = 120


def _allow(buckets: dict[str, tuple[float, float]], key: str, now: float) -> bool:
    tokens, last = buckets.get(key, (float(_PD_RATE_PER_MIN), now))
    tokens, wait = ratelimit.take(tokens, last, _PD_RATE_PER_MIN, now)
    if wait == 0 and len(buckets) > 100_000:
        buckets.clear()
    buckets[key] = (tokens, now)
    return wait == 0


def _pd_invalid(errors: list[str]) -> JSONResponse:
    return JSONResponse(
        status_code=400,
        content={"status": "invalid event", "message": "Event object is invalid", "errors": errors},
    )


@router.post("/v2/enqueue")
async def pagerduty_enqueue(request: Request) -> Response:
    """PagerDuty Events API v2: trigger, acknowledge and resolve by ``dedup_key``."""
    require(request, "intake")
    state = state_of(request)
    try:
        body = await read_json(request, 512 * 1024, "event")
    except Abort as abort:
        if abort.response.status_code == 400:
            return _pd_invalid(["Event object is not valid JSON"])
        return abort.response
    try:
        event = parse_pagerduty(body)
    except PagerDutyInvalid as exc:
        return _pd_invalid(exc.errors)
    if not _allow(state.rate_buckets, str(body.get("routing_key")), state.clock.now()):
        return JSONResponse(
            status_code=429,
            content={
                "status": "throttle exceeded",
                "message": "Requests for this service "
                "are arriving too quickly. Please retry "
                "later.",
            },
        )
    ctx = context(request)
    now = times.to_dt(ctx.now())
    dedup = event.dedup_key or uuid.uuid4().hex
    known = events.labels_of(ctx, dedup)
    if event.action == "trigger":
        assert event.alert is not None
        alert = replace(event.alert, labels={**event.alert.labels, "dedup_key": dedup})
        if known is None:
            events.remember(ctx, dedup, alert.labels, now)
        else:
            alert = replace(alert, labels=known)
        parsed = finish([alert], now, state.config.resolve_timeout_s, state.limits)
        if parsed.errors:
            return _pd_invalid(parsed.errors)
        assert state.writer is not None
        await state.writer.write(parsed.alerts, "pagerduty")
        await beat_by(request, parsed.alerts)
    elif event.action == "resolve" and known is not None:
        stored = events.current(ctx, known)
        if stored is not None:
            resolved = replace(stored, ends_at=now, updated_at=now, timeout=False)
            assert state.writer is not None
            await state.writer.write([resolved], "pagerduty")
    elif event.action == "acknowledge" and known is not None:
        await asyncio.to_thread(events.acknowledge, ctx, dedup, known)
    return JSONResponse(
        status_code=202,
        content={"status": "success", "message": "Event processed", "dedup_key": dedup},
    )
