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
from tocsin.alerts.mapping import DEDUP_LABEL
from tocsin.alerts.model import Alert
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
from tocsin.config.intakes import IntakeConfig
from tocsin.errors import NotFound
from tocsin.service import events, sources
from tocsin.service.context import Context

router = APIRouter()


Parser = Callable[[Any, datetime, float, Limits], Parsed]


async def _intake(request: Request, parse: Parser, source: str, what: str) -> Response:
    """Read, parse and store one intake request: 422 for a malformed body, 413 beyond the
    limits, 400 (after storing the valid alerts) when some alerts were invalid."""
    require(request, "intake")
    state = state_of(request)
    try:
        body = await read_json(request, state.config.model.limits.max_body_bytes, what)
    except Abort as abort:
        return abort.response
    return await _store(request, body, parse, source)


async def _store(
    request: Request,
    body: Any,
    parse: Parser,
    source: str,
    keyed_by: str | None = None,
    beats: bool = True,
) -> Response:
    """Parse a body read and store its alerts (the answers of ``_intake``). ``keyed_by``: the
    intake whose alerts with a deduplication key keep their first labels (``service.sources``).
    ``beats``: whether its alerts may beat heartbeats (not when taken without a token by an
    ``anonymous`` intake: a beat needs an intake token, else anyone could keep a dead man's
    switch alive with a fake Watchdog)."""
    state = state_of(request)
    try:
        parsed = parse(
            body, times.to_dt(state.clock.now()), state.config.resolve_timeout_s, state.limits
        )
    except StructuralError as exc:
        return JSONResponse(status_code=422, content={"error": str(exc)})
    except TooLarge as exc:
        return JSONResponse(status_code=413, content={"error": str(exc)})
    if keyed_by is not None and any(DEDUP_LABEL in a.labels for a in parsed.alerts):
        ctx = context(request)
        parsed.alerts = await asyncio.to_thread(_keep_first_labels, ctx, keyed_by, parsed)
    stored = 0
    if parsed.alerts:
        assert state.writer is not None
        stored = (await state.writer.write(parsed.alerts, source)).stored
        if beats:
            await beat_by(request, parsed.alerts)
    return JSONResponse(
        status_code=400 if parsed.errors else 200,
        content={"stored": stored, "errors": parsed.errors},
    )


def _keep_first_labels(ctx: Context, intake: str, parsed: Parsed) -> list[Alert]:
    keyed = [(i, a) for i, a in enumerate(parsed.alerts) if DEDUP_LABEL in a.labels]
    first = sources.keyed(ctx, intake, [(a.labels[DEDUP_LABEL], a.labels) for _, a in keyed])
    alerts = list(parsed.alerts)
    for (i, alert), labels in zip(keyed, first, strict=True):
        alerts[i] = replace(alert, labels=labels)
    return alerts


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


def _keyed(intake: IntakeConfig) -> str | None:
    """The intake's name when its mapping reads a deduplication key, whose alerts keep their
    first labels; None otherwise: a ``dedup_key`` label a payload brings itself (Grafana's
    labels) is a label like any other, not a key that would freeze that alert's labels."""
    return intake.name if intake.parser.spec.dedup_key is not None else None


@router.post("/api/v1/intake/{name}")
async def mapped_intake(name: str, request: Request) -> Response:
    """An intake of ``intakes:`` (docs/sources.md): the tool's JSON read through its mapping.
    An SNS intake takes SNS's messages, each signed (no token: the signature and the topic say
    who sent it); the others need a token of a role that may send alerts, unless the intake is
    ``anonymous``."""
    state = state_of(request)
    intake = next((i for i in state.config.model.intakes if i.name == name), None)
    if intake is None:
        require(request, "intake")  # which intakes exist is not told to just anyone
        raise NotFound(f"no intake is named {name!r} (intakes: in the configuration)")
    limit = state.config.model.limits.max_body_bytes
    if intake.sns is None:
        anonymous = intake.anonymous and "authorization" not in request.headers
        if not anonymous:
            require(request, "intake")
        try:
            body = await read_json(request, limit, "intake")
        except Abort as abort:
            return abort.response
        return await _store(
            request, body, intake.parser.parse, f"intake:{name}", _keyed(intake), not anonymous
        )
    try:
        body = await read_json(request, limit, "SNS message")
    except Abort as abort:
        return abort.response
    cfg = intake.sns
    ctx = context(request)
    outcome = await asyncio.to_thread(sources.receive_sns, ctx, name, cfg, body)
    if outcome.payload is None:
        return JSONResponse(status_code=200, content={"stored": 0, "said": outcome.said})
    try:
        return await _store(
            request, outcome.payload, intake.parser.parse, f"intake:{name}", _keyed(intake)
        )
    except Exception:
        await asyncio.to_thread(sources.forget, ctx, outcome.key)
        raise
