"""Alertmanager API v2: the same paths, JSON shapes, defaults, validation and status codes as
Alertmanager 0.25+, so Prometheus and ``amtool`` work against tocsin unchanged.

Errors follow Alertmanager: go-swagger's schema errors are 422 with ``{"code", "message"}``;
a handler's bad request is 400 with a JSON string; a mixed batch of alerts stores the valid
ones and answers 400.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import tempfile
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import orjson
import re2
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.types import Send

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
from tocsin.alerts.silences import silence_json as gettable_silence
from tocsin.api.auth import require
from tocsin.api.context import context, state_of
from tocsin.api.heartbeats import beat_by
from tocsin.api.raw import Abort, read_json
from tocsin.clock import Budget
from tocsin.errors import Conflict, Invalid, NotFound, Unavailable
from tocsin.incidents.flush import Muting
from tocsin.routing.places import Places
from tocsin.routing.tree import Route
from tocsin.service import silences
from tocsin.service.context import Context

router = APIRouter()
log = logging.getLogger("tocsin.api")


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


@dataclass(frozen=True)
class _Read:
    """What a read of the alerts asks for: Alertmanager's query parameters."""

    matchers: list[Matcher]
    receivers: Any  # a compiled RE2 of receiver=, or None
    active: bool
    silenced: bool
    inhibited: bool

    def keep(self, route: Route) -> Callable[[Mapping[str, str]], bool] | None:
        """``receiver=`` as a test of an alert's labels (None without it)."""
        receivers = self.receivers
        if receivers is None:
            return None
        return lambda labels: any(receivers.fullmatch(r.receiver) for r in route.match(labels))

    def shows(self, fp: str, muting: Muting) -> bool:
        silenced = bool(muting.silenced_by.get(fp))
        inhibited = bool(muting.inhibited_by.get(fp))
        if not self.active and not silenced and not inhibited:
            return False
        return (self.silenced or not silenced) and (self.inhibited or not inhibited)


def _read(request: Request, with_unprocessed: bool) -> _Read:
    found = _Read(
        matchers=_filters(request),
        receivers=_receiver_filter(request),
        active=_bool_param(request, "active"),
        silenced=_bool_param(request, "silenced"),
        inhibited=_bool_param(request, "inhibited"),
    )
    if with_unprocessed:
        _bool_param(request, "unprocessed")  # nothing stays unprocessed in tocsin
    return found


SEND_AT_LEAST_S = 1.0  # the time a piece of a streamed answer is given to be sent


class Streamed(StreamingResponse):
    """A JSON answer sent as it is made (chunked), so that a read of many alerts holds a
    chunk of them at a time, not the whole answer. Its first piece is made before the answer
    starts: a bad request, or a budget spent by then, still answers 400 or 503. A budget
    spent after the first bytes went can no longer change the status: the answer then stops
    without its end (no last chunk; the connection is closed), which every HTTP client reports
    as an error (an incomplete body, and JSON that does not parse), never as a shorter list.
    The budget covers the sending too: a client that stops reading holds the read (its
    database snapshot) until the budget is spent (each piece is given ``SEND_AT_LEAST_S``)."""

    def __init__(self, pieces: Generator[bytes, None, None], budget: Budget) -> None:
        super().__init__(pieces, media_type="application/json")
        self.pieces = pieces
        self.budget = budget

    async def stream_response(self, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code}
        try:
            await send({**start, "headers": self.raw_headers})
            async for piece in self.body_iterator:
                async with asyncio.timeout(max(self.budget.left(), SEND_AT_LEAST_S)):
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
        except Unavailable as exc:
            log.warning("%s; the answer was cut short after it started", exc.message)
            return
        except TimeoutError:
            log.warning(
                "%s was cut short after its budget of %g s: the client did not take the answer",
                self.budget.what,
                self.budget.seconds,
            )
            return
        finally:
            with contextlib.suppress(ValueError):  # still being made in its thread
                self.pieces.close()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _streamed(make: Callable[[], Iterator[bytes]], budget: Budget) -> Response:
    """The answer whose pieces ``make`` yields, made in a thread (the event loop goes on
    taking alerts meanwhile)."""
    pieces = make()
    try:
        first = await asyncio.to_thread(next, pieces)
    except Abort as abort:
        return abort.response
    except Unavailable as exc:
        return cut_short(exc)
    return Streamed(_then(first, pieces), budget)


def _then(first: bytes, rest: Iterator[bytes]) -> Generator[bytes, None, None]:
    """``first``, then ``rest`` (a generator, so that closing it closes ``rest``)."""
    yield first
    yield from rest


@router.get("/api/v2/alerts")
async def get_alerts(request: Request) -> Response:
    require(request, "read")
    ctx = context(request)
    budget = silences.read_budget(ctx, "the read of the alerts")
    return await _streamed(lambda: _alerts(request, ctx, budget), budget)


def _alerts(request: Request, ctx: Context, budget: Budget) -> Iterator[bytes]:
    """The alerts the request selects in Alertmanager's shape, by fingerprint: ``[``, then
    each chunk's entries, then ``]``."""
    read = _read(request, True)
    route = ctx.config.route
    # filter= and receiver= narrow the alerts before any silence or inhibition is checked
    with silences.reading(ctx, budget) as firing:
        before = b"["  # sent with the first entries: nothing is sent before them
        for chunk in firing.chunks(read.matchers, read.keep(route)):
            entries = [
                gettable_alert(fp, alert, chunk.muting, route.match(alert.labels))
                for fp, alert in chunk.alerts.items()
                if read.shows(fp, chunk.muting)
            ]
            if entries:
                yield before + _json(entries)[1:-1]
                before = b","
        yield b"[]" if before == b"[" else b"]"


def _json(content: Any) -> bytes:
    """JSON straight to bytes, in the read's own thread: the same compact UTF-8 JSON as
    JSONResponse's."""
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
        await beat_by(request, parsed.alerts)
    if parsed.errors:
        return bad_request("; ".join(parsed.errors))
    return Response(status_code=200)


@router.get("/api/v2/alerts/groups")
async def get_groups(request: Request) -> Response:
    require(request, "read")
    ctx = context(request)
    budget = silences.read_budget(ctx, "the read of the alert groups")
    return await _streamed(lambda: _groups(request, ctx, budget), budget)


def _groups(request: Request, ctx: Context, budget: Budget) -> Iterator[bytes]:
    """The groups of the alerts the request selects, in Alertmanager's order (by label set,
    then receiver; in each, the alerts by fingerprint), in two passes over the alerts. The
    first reads their labels, a chunk at a time, and keeps only each group's place and its
    alerts' fingerprints (``routing.places``: past a bound, in sorted runs in a temporary
    file); the second reads the alerts again a chunk at a time, group after group, and writes
    them. Nothing is sent before the first pass has ended: a budget spent in it answers 503."""
    read = _read(request, False)
    route = ctx.config.route
    receivers = read.receivers
    with silences.reading(ctx, budget) as firing, contextlib.closing(Places(_run_file)) as places:
        for labels, muting in firing.labels(read.matchers, read.keep(route)):
            for fp, each in labels.items():
                if not read.shows(fp, muting):
                    continue
                for taken in route.match(each):
                    if receivers is None or receivers.fullmatch(taken.receiver):
                        places.add(taken, each, fp)
        pieces = _group_entries(firing, route, places.in_order())
        yield b"[" + next(pieces, b"")  # with the first groups: nothing is sent before them
        yield from pieces
        yield b"]"


def _run_file() -> IO[bytes]:
    return tempfile.TemporaryFile(prefix="tocsin-groups-")


def _group_entries(
    firing: silences.Firing, route: Route, groups: Iterator[tuple[Route, Iterator[str]]]
) -> Iterator[bytes]:
    """The groups' JSON, their alerts read a chunk at a time across groups."""
    members = ((n, taken, fp) for n, (taken, fps) in enumerate(groups) for fp in fps)
    current = -1
    tail = b""
    while batch := list(itertools.islice(members, silences.CHUNK)):
        chunk = firing.of([fp for _, _, fp in batch])
        out: list[bytes] = []
        for n, run in itertools.groupby(batch, key=lambda member: member[0]):
            these = list(run)
            taken = these[0][1]
            alerts = [(fp, chunk.alerts[fp]) for _, _, fp in these]
            entries = [
                gettable_alert(fp, alert, chunk.muting, route.match(alert.labels))
                for fp, alert in alerts
            ]
            if n != current:
                if current >= 0:
                    out.append(b"]" + tail + b",")
                out.append(b'{"alerts":[')
                tail = _group_tail(taken, alerts[0][1].labels)
                current = n
            else:
                out.append(b",")
            out.append(_json(entries)[1:-1])
        yield b"".join(out)
    if current >= 0:
        yield b"]" + tail


def _group_tail(taken: Route, labels: Mapping[str, str]) -> bytes:
    """The end of a group's JSON after its alerts: its labels and receiver."""
    return (
        b',"labels":'
        + _json(taken.group_labels(labels))
        + b',"receiver":'
        + _json({"name": taken.receiver})
        + b"}"
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
