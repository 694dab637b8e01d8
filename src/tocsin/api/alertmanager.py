"""Alertmanager API v2: the same paths, JSON shapes, defaults, validation and status codes as
Alertmanager 0.25+, so Prometheus and ``amtool`` work against tocsin unchanged.

Errors follow Alertmanager: go-swagger's schema errors are 422 with ``{"code", "message"}``;
a handler's bad request is 400 with a JSON string; a mixed batch of alerts stores the valid
ones and answers 400.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

import orjson
import re2
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from tocsin import __version__
from tocsin.alerts.matchers import Matcher, MatcherError, matches_filter, parse_matcher
from tocsin.alerts.model import Alert
from tocsin.alerts.payloads import (
    StructuralError,
    TooLarge,
    format_time,
    parse_silence,
    parse_v2,
)
from tocsin.alerts.silences import (
    Silence,
    SilenceState,
    can_update,
    expire,
    silence_matches_filter,
    silence_sort_key,
    validate,
)
from tocsin.api.auth import require
from tocsin.api.state import AppState
from tocsin.incidents.flush import Muting, mute
from tocsin.routing.tree import Route
from tocsin.store import repo
from tocsin.store.db import begin_write

router = APIRouter()


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.tocsin
    return state


def swagger_error(message: str, code: int = 602) -> JSONResponse:
    return JSONResponse(status_code=422, content={"code": code, "message": message})


def bad_request(message: str) -> JSONResponse:
    return JSONResponse(status_code=400, content=message)


async def read_json(request: Request, limit: int, what: str) -> Any:
    """The request body as JSON, at most ``limit`` bytes (413 beyond), 400 when not JSON."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise _Abort(
            JSONResponse(
                status_code=413,
                content=f"request body of {length} bytes is larger than the {limit} allowed",
            )
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _Abort(
                JSONResponse(
                    status_code=413,
                    content=f"request body is larger than the {limit} bytes allowed",
                )
            )
    try:
        return orjson.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Abort(
            JSONResponse(
                status_code=400,
                content={
                    "code": 400,
                    "message": f'parsing {what} body from "" failed, because {exc}',
                },
            )
        ) from None


class _Abort(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _bool_param(request: Request, name: str, default: bool = True) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return default
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise _Abort(swagger_error(f"{name} in query must be of type boolean: {value!r}", 600))


def _filters(request: Request) -> list[Matcher]:
    try:
        return [parse_matcher(f) for f in request.query_params.getlist("filter")]
    except MatcherError as exc:
        raise _Abort(bad_request(str(exc))) from None


def _receiver_filter(request: Request) -> Any:
    value = request.query_params.get("receiver")
    if value is None:
        return None
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(f"^(?:{value})$", options)
    except re2.error as exc:
        raise _Abort(bad_request(f"failed to parse receiver param: {exc}")) from None


def gettable_alert(fp: str, alert: Alert, muting: Muting, route: Route) -> dict[str, Any]:
    silenced = muting.silenced_by.get(fp, [])
    inhibited = muting.inhibited_by.get(fp, [])
    return {
        "annotations": alert.annotations,
        "endsAt": format_time(alert.ends_at),
        "fingerprint": fp,
        "receivers": [{"name": r.receiver} for r in route.match(alert.labels)],
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


def _current(state: AppState, now: datetime) -> tuple[dict[str, Alert], Muting]:
    with state.db.connect() as conn:
        active = repo.active_alerts(conn, now)
        silences = repo.active_silences(conn, now)
    alerts = {a.fingerprint: a.alert for a in active}
    firing = {fp: a.labels for fp, a in alerts.items()}
    return alerts, mute(alerts, silences, state.config.inhibit_rules, firing, now)


def _selected(request: Request, state: AppState, with_unprocessed: bool) -> list[dict[str, Any]]:
    show_active = _bool_param(request, "active")
    show_silenced = _bool_param(request, "silenced")
    show_inhibited = _bool_param(request, "inhibited")
    if with_unprocessed:
        _bool_param(request, "unprocessed")  # nothing stays unprocessed in tocsin
    matchers = _filters(request)
    receivers = _receiver_filter(request)
    now = repo.to_dt(state.clock.now())
    alerts, muting = _current(state, now)
    route = state.config.route
    out = []
    for fp in sorted(alerts):
        alert = alerts[fp]
        entry = gettable_alert(fp, alert, muting, route)
        status = entry["status"]
        if receivers is not None and not any(
            receivers.fullmatch(r["name"]) for r in entry["receivers"]
        ):
            continue
        if not show_active and status["state"] == "active":
            continue
        if not show_silenced and status["silencedBy"]:
            continue
        if not show_inhibited and status["inhibitedBy"]:
            continue
        if not matches_filter(matchers, alert.labels):
            continue
        out.append(entry)
    return out


@router.get("/api/v2/alerts")
async def get_alerts(request: Request) -> Response:
    require(request, "read")
    try:
        body = await asyncio.to_thread(_selected, request, state_of(request), True)
    except _Abort as abort:
        return abort.response
    return JSONResponse(body)


@router.post("/api/v2/alerts")
async def post_alerts(request: Request) -> Response:
    require(request, "intake")
    state = state_of(request)
    try:
        body = await read_json(request, state.config.model.limits.max_body_bytes, "alerts")
        now = repo.to_dt(state.clock.now())
        parsed = parse_v2(body, now, state.config.resolve_timeout_s, state.limits)
    except _Abort as abort:
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
    state = state_of(request)
    try:
        selected = await asyncio.to_thread(_selected, request, state, False)
    except _Abort as abort:
        return abort.response
    receivers = _receiver_filter(request)
    groups: dict[str, dict[str, Any]] = {}
    for entry in selected:
        for route in state.config.route.match(entry["labels"]):
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
    ordered = sorted(
        groups.values(), key=lambda g: (sorted(g["labels"].items()), g["receiver"]["name"])
    )
    return JSONResponse(ordered)


# --------------------------------------------------------------------------- silences


def gettable_silence(silence: Silence, now: datetime) -> dict[str, Any]:
    return {
        "id": silence.id,
        "status": {"state": silence.state(now).value},
        "updatedAt": format_time(silence.updated_at),
        "comment": silence.comment,
        "createdBy": silence.created_by,
        "endsAt": format_time(silence.ends_at),
        "matchers": [
            {"isEqual": m.is_equal, "isRegex": m.is_regex, "name": m.name, "value": m.value}
            for m in silence.matchers
        ],
        "startsAt": format_time(silence.starts_at),
    }


@router.get("/api/v2/silences")
async def get_silences(request: Request) -> Response:
    require(request, "read")
    state = state_of(request)
    try:
        matchers = _filters(request)
    except _Abort as abort:
        return abort.response
    now = repo.to_dt(state.clock.now())
    with state.db.connect() as conn:
        found = repo.list_silences(conn)
    found = [s for s in found if silence_matches_filter(s, matchers)]
    found.sort(key=lambda s: silence_sort_key(s, now))
    return JSONResponse([gettable_silence(s, now) for s in found])


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
    state = state_of(request)
    with state.db.connect() as conn:
        silence = repo.get_silence(conn, silence_id)
    if silence is None:
        return Response(status_code=404)
    return JSONResponse(gettable_silence(silence, repo.to_dt(state.clock.now())))


@router.delete("/api/v2/silence/{silence_id}")
async def delete_silence(request: Request, silence_id: str) -> Response:
    require(request, "respond")
    error = _uuid_or_error(silence_id)
    if error is not None:
        return error
    state = state_of(request)
    now = repo.to_dt(state.clock.now())
    with begin_write(state.db) as conn:
        silence = repo.get_silence(conn, silence_id)
        if silence is None:
            return Response(status_code=404)
        try:
            repo.save_silence(conn, expire(silence, now))
        except ValueError as exc:
            return JSONResponse(status_code=500, content=str(exc))
    return Response(status_code=200)


@router.post("/api/v2/silences")
async def post_silences(request: Request) -> Response:
    require(request, "respond")
    state = state_of(request)
    try:
        body = await read_json(request, 1024 * 1024, "silence")
        silence_id, matchers, starts, ends, created_by, comment = parse_silence(body)
    except _Abort as abort:
        return abort.response
    except StructuralError as exc:
        return swagger_error(str(exc))
    except ValueError as exc:
        return bad_request(str(exc))
    now = repo.to_dt(state.clock.now())
    if starts >= ends:
        return bad_request("Failed to create silence: start time must be before end time")
    if ends < now:
        return bad_request("Failed to create silence: end time can't be in the past")
    wanted = Silence(
        id=silence_id or "",
        matchers=tuple(matchers),
        starts_at=starts,
        ends_at=ends,
        created_by=created_by,
        comment=comment,
        updated_at=now,
    )
    problems = validate(wanted)
    if problems:
        return bad_request("invalid silence: " + "; ".join(problems))
    with begin_write(state.db) as conn:
        if silence_id:
            old = repo.get_silence(conn, silence_id)
            if old is None:
                return JSONResponse(status_code=404, content="silence not found")
            if can_update(old, wanted, now):
                repo.save_silence(conn, wanted)
                return JSONResponse({"silenceID": silence_id})
            if old.state(now) is not SilenceState.EXPIRED:
                repo.save_silence(conn, expire(old, now))
        new_id = str(uuid.uuid4())
        start = max(starts, now)
        repo.save_silence(
            conn,
            Silence(
                id=new_id,
                matchers=tuple(matchers),
                starts_at=start,
                ends_at=ends,
                created_by=created_by,
                comment=comment,
                updated_at=now,
            ),
        )
    return JSONResponse({"silenceID": new_id})


# --------------------------------------------------------------------------- status


@router.get("/api/v2/status")
async def get_status(request: Request) -> Response:
    require(request, "read")
    state = state_of(request)
    return JSONResponse(
        {
            "cluster": {"name": "", "peers": [], "status": "disabled"},
            "config": {"original": state.config.alertmanager_yaml()},
            "uptime": format_time(repo.to_dt(state.started_at)),
            "versionInfo": {
                "branch": "main",
                "buildDate": "",
                "buildUser": "tocsin",
                "goVersion": "python",
                "revision": "",
                "version": __version__,
            },
        }
    )


@router.get("/api/v2/receivers")
async def get_receivers(request: Request) -> Response:
    require(request, "read")
    return JSONResponse([{"name": n} for n in state_of(request).config.receivers])
