"""Alertmanager API v2: the same paths, JSON shapes, defaults, validation and status codes as
Alertmanager 0.25+, so Prometheus and ``amtool`` work against tocsin unchanged.

Errors follow Alertmanager: go-swagger's schema errors are 422 with ``{"code", "message"}``;
a handler's bad request is 400 with a JSON string; a mixed batch of alerts stores the valid
ones and answers 400.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
import re2
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from tocsin import __version__, times
from tocsin.alerts.matchers import Matcher, MatcherError, parse_matcher
from tocsin.alerts.model import Alert
from tocsin.alerts.payloads import (
    StructuralError,
    TooLarge,
    format_time,
    parse_silence,
    parse_v2,
)
from tocsin.alerts.silences import CHECK_EVERY
from tocsin.alerts.silences import silence_json as gettable_silence
from tocsin.api.auth import require
from tocsin.api.context import context, state_of
from tocsin.api.raw import Abort, read_json
from tocsin.clock import Budget
from tocsin.errors import Conflict, Invalid, NotFound, Unavailable
from tocsin.incidents.flush import Muting
from tocsin.routing.tree import Route
from tocsin.service import silences
from tocsin.service.context import Context

router = APIRouter()


def swagger_error(message: str, code: int = 602) -> JSONResponse:
    return JSONResponse(status_code=422, content={"code": code, "message": message})


def bad_request(message: str) -> JSONResponse:
    return JSONResponse(status_code=400, content=message)


def cut_short(exc: Unavailable) -> JSONResponse:
    """A read that spent its time budget (``api.read_budget``): 503, and why."""
    return JSONResponse(status_code=503, content=exc.message)


def _bool_param(request: Request, name: str, default: bool = True) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return default
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise Abort(swagger_error(f"{name} in query must be of type boolean: {value!r}", 600))


def _filters(request: Request) -> list[Matcher]:
    try:
        return [parse_matcher(f) for f in request.query_params.getlist("filter")]
    except MatcherError as exc:
        raise Abort(bad_request(str(exc))) from None


def _receiver_filter(request: Request) -> Any:
    value = request.query_params.get("receiver")
    if value is None:
        return None
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(f"^(?:{value})$", options)
    except re2.error as exc:
        raise Abort(bad_request(f"failed to parse receiver param: {exc}")) from None


def gettable_alert(fp: str, alert: Alert, muting: Muting, routes: list[Route]) -> dict[str, Any]:
    """An alert in Alertmanager's shape; ``routes``: the routes it goes to (``Route.match``)."""
    silenced = muting.silenced_by.get(fp, [])
    inhibited = muting.inhibited_by.get(fp, [])
    return {
        "annotations": alert.annotations,
        "endsAt": format_time(alert.ends_at),
        "fingerprint": fp,
        "receivers": [{"name": r.receiver} for r in routes],
        "startsAt": format_time(alert.starts_at),
        "status": {
            "inhibitedBy": inhibited,
            "silencedBy": silenced,
            "state": "suppressed" if silenced or inhibited else "active",
        },
        "updatedAt": format_time(alert.updated_at),
        "generatorURL": alert.generator_url,
        "labels": alert.labels,
    }


def _selected(
    request: Request, ctx: Context, with_unprocessed: bool, budget: Budget
) -> list[tuple[dict[str, Any], list[Route]]]:
    """The alerts the request selects, each in Alertmanager's shape with the routes it goes
    to."""
    show_active = _bool_param(request, "active")
    show_silenced = _bool_param(request, "silenced")
    show_inhibited = _bool_param(request, "inhibited")
    if with_unprocessed:
        _bool_param(request, "unprocessed")  # nothing stays unprocessed in tocsin
    matchers = _filters(request)
    receivers = _receiver_filter(request)
    now = times.to_dt(ctx.now())
    route = ctx.config.route

    def routed(alert: Alert) -> bool:
        return any(receivers.fullmatch(r.receiver) for r in route.match(alert.labels))

    # filter= and receiver= narrow the alerts before any silence or inhibition is checked
    keep = routed if receivers is not None else None
    alerts, muting = silences.firing(ctx, now, matchers, keep, budget)
    out = []
    for count, fp in enumerate(sorted(alerts)):
        if count % CHECK_EVERY == 0:
            budget.check()
        routes = route.match(alerts[fp].labels)
        entry = gettable_alert(fp, alerts[fp], muting, routes)
        status = entry["status"]
        if not show_active and status["state"] == "active":
            continue
        if not show_silenced and status["silencedBy"]:
            continue
        if not show_inhibited and status["inhibitedBy"]:
            continue
        out.append((entry, routes))
    return out


@router.get("/api/v2/alerts")
async def get_alerts(request: Request) -> Response:
    require(request, "read")
    ctx = context(request)
    budget = silences.read_budget(ctx, "the read of the alerts")
    try:
        body = await asyncio.to_thread(
            lambda: _json([entry for entry, _ in _selected(request, ctx, True, budget)])
        )
    except Abort as abort:
        return abort.response
    except Unavailable as exc:
        return cut_short(exc)
    return Response(body, media_type="application/json")


def _json(content: Any) -> bytes:
    """A large answer's JSON, encoded in the read's own thread rather than in the event loop
    (which would stop taking alerts meanwhile), straight to bytes (JSONResponse made the text,
    then its bytes). The same compact UTF-8 JSON. What such a read holds is still mostly the
    alerts and their entries: 200,000 in one group peak at about 780 MB (docs/storms.md)."""
    return orjson.dumps(content)


@router.post("/api/v2/alerts")
async def post_alerts(request: Request) -> Response:
    require(request, "intake")
    state = state_of(request)
    try:
        body = await read_json(request, state.config.model.limits.max_body_bytes, "alerts")
        now = times.to_dt(state.clock.now())
        parsed = parse_v2(body, now, state.config.resolve_timeout_s, state.limits)
    except Abort as abort:
        return abort.response
    except StructuralError as exc:
        return swagger_error(str(exc))
    except TooLarge as exc:
        return JSONResponse(status_code=413, content=str(exc))
    if parsed.alerts:
        assert state.writer is not None
        await state.writer.write(parsed.alerts, "api")
    if parsed.errors:
        return bad_request("; ".join(parsed.errors))
    return Response(status_code=200)


@router.get("/api/v2/alerts/groups")
async def get_groups(request: Request) -> Response:
    require(request, "read")
    ctx = context(request)
    budget = silences.read_budget(ctx, "the read of the alert groups")
    try:
        body = await asyncio.to_thread(lambda: _json(_groups(request, ctx, budget)))
    except Abort as abort:
        return abort.response
    except Unavailable as exc:
        return cut_short(exc)
    return Response(body, media_type="application/json")


def _groups(request: Request, ctx: Context, budget: Budget) -> list[dict[str, Any]]:
    selected = _selected(request, ctx, False, budget)
    receivers = _receiver_filter(request)
    groups: dict[str, dict[str, Any]] = {}
    for count, (entry, routes) in enumerate(selected):
        if count % CHECK_EVERY == 0:
            budget.check()
        for route in routes:
            if receivers is not None and not receivers.fullmatch(route.receiver):
                continue
            key = route.group_key(entry["labels"])
            group = groups.setdefault(
                key,
                {
                    "alerts": [],
                    "labels": route.group_labels(entry["labels"]),
                    "receiver": {"name": route.receiver},
                },
            )
            group["alerts"].append(entry)
    # Alertmanager orders groups by their label set, then by receiver
    return sorted(
        groups.values(), key=lambda g: (sorted(g["labels"].items()), g["receiver"]["name"])
    )


# --------------------------------------------------------------------------- silences


@router.get("/api/v2/silences")
async def get_silences(request: Request) -> Response:
    require(request, "read")
    ctx = context(request)
    try:
        matchers = _filters(request)
    except Abort as abort:
        return abort.response
    now = times.to_dt(ctx.now())
    return JSONResponse([gettable_silence(s, now) for s in silences.silences(ctx, matchers, now)])


def _uuid_or_error(silence_id: str) -> JSONResponse | None:
    try:
        uuid.UUID(silence_id)
    except ValueError:
        return swagger_error(f'silenceID in path must be of type uuid: "{silence_id}"', 601)
    return None


@router.get("/api/v2/silence/{silence_id}")
async def get_silence(request: Request, silence_id: str) -> Response:
    require(request, "read")
    error = _uuid_or_error(silence_id)
    if error is not None:
        return error
    ctx = context(request)
    try:
        found = silences.silence(ctx, silence_id)
    except NotFound:
        return Response(status_code=404)
    return JSONResponse(gettable_silence(found, times.to_dt(ctx.now())))


@router.delete("/api/v2/silence/{silence_id}")
async def delete_silence(request: Request, silence_id: str) -> Response:
    require(request, "respond")
    error = _uuid_or_error(silence_id)
    if error is not None:
        return error
    try:
        silences.expire_silence(context(request), silence_id)
    except NotFound:
        return Response(status_code=404)
    except Conflict as exc:  # Alertmanager answers an expired silence with a 500
        return JSONResponse(status_code=500, content=exc.message)
    return Response(status_code=200)


@router.post("/api/v2/silences")
async def post_silences(request: Request) -> Response:
    require(request, "respond")
    try:
        body = await read_json(request, 1024 * 1024, "silence")
        silence_id, matchers, starts, ends, created_by, comment = parse_silence(body)
    except Abort as abort:
        return abort.response
    except StructuralError as exc:
        return swagger_error(str(exc))
    except ValueError as exc:
        return bad_request(str(exc))
    try:
        new_id = silences.add_silence(
            context(request), silence_id, matchers, starts, ends, created_by, comment
        )
    except Invalid as exc:
        return bad_request(exc.message)
    except NotFound as exc:
        return JSONResponse(status_code=404, content=exc.message)
    return JSONResponse({"silenceID": new_id})


# --------------------------------------------------------------------------- status


# The Alertmanager release whose API v2 this module implements. amtool compares its own version
# with versionInfo.version, string for string, and warns on every call when they differ; tocsin's
# own version rides in versionInfo.revision.
ALERTMANAGER_API_VERSION = "0.25.0"


@router.get("/api/v2/status")
async def get_status(request: Request) -> Response:
    require(request, "read")
    state = state_of(request)
    return JSONResponse(
        {
            "cluster": {"name": "", "peers": [], "status": "disabled"},
            "config": {"original": state.config.alertmanager_yaml()},
            "uptime": format_time(times.to_dt(state.started_at)),
            "versionInfo": {
                "branch": "tocsin",
                "buildDate": "",
                "buildUser": "tocsin",
                "goVersion": "python",
                "revision": f"tocsin {__version__}",
                "version": ALERTMANAGER_API_VERSION,
            },
        }
    )


@router.get("/api/v2/receivers")
async def get_receivers(request: Request) -> Response:
    require(request, "read")
    return JSONResponse([{"name": n} for n in state_of(request).config.receivers])
