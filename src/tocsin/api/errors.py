"""One JSON error shape for every 4xx of tocsin's own API:
``{"error": {"status": 404, "message": "no incident 7", ...}}``.

The service layer raises ``tocsin.errors``; the one handler here gives each kind its status
(``STATUS``): not found 404, conflict 409, invalid 422, too large 413, forbidden 403,
unavailable 503. A few routes answered an invalid request with 400 before the one shape
existed; they keep doing so (``invalid_is_400``). Alertmanager's ``/api/v2`` and PagerDuty's
``/v2/enqueue`` keep their own shapes: those are compatibility contracts (DESIGN.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import accumulate
from typing import Annotated, Any, TypeVar

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tocsin.errors import HTTP_STATUS, Invalid, TocsinError, TooLarge
from tocsin.store.schema import MAX_ROW_ID

_FOREIGN = ("/api/v2/", "/v2/")  # paths whose error shapes belong to another product

STATUS = HTTP_STATUS  # the one table, in tocsin.errors

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
_INVALID_IS_400: set[Callable[..., Any]] = set()


def invalid_is_400(endpoint: Endpoint) -> Endpoint:
    """Mark a route whose invalid input (``Invalid``, and a body that fails its model) is a
    400 with every problem in the message, as it was before the one shape; its malformed
    query parameters stay 422."""
    _INVALID_IS_400.add(endpoint)
    return endpoint


def status_of(exc: TocsinError) -> int:
    """The HTTP status of an error kind (the nearest kind in its ancestry), else 500."""
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500


def _legacy_400(request: Request) -> bool:
    route = request.scope.get("route")
    return getattr(route, "endpoint", None) in _INVALID_IS_400


def problem(status: int, message: str, **extra: Any) -> JSONResponse:
    """The error answer: status, a message a person can act on, and any extra fields."""
    return JSONResponse(
        status_code=status, content={"error": {"status": status, "message": message, **extra}}
    )


def _where(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")] if loc else []
    return ".".join(parts) or "body"


# What a body-level error says when the body as a whole is no JSON object: none at all,
# not JSON, sent as another content type (FastAPI then validates the bytes), or JSON that is
# not an object. Before the bodies were declared models, the routes read them themselves and
# answered these so (issue 16); an object with wrong fields keeps its per-field answers.
_WHOLE_BODY = {"missing", "model_attributes_type", "model_type", "dict_type"}


def _not_an_object(error: Any) -> bool:
    loc = tuple(error.get("loc") or ())
    return error.get("type") == "json_invalid" or (
        loc == ("body",) and error.get("type") in _WHOLE_BODY
    )


def _not_json(error: Any, body: Any) -> bool:
    """None, not JSON, or not sent as JSON; a JSON value that is not an object is JSON."""
    return _not_an_object(error) and (
        error.get("type") in ("json_invalid", "missing") or isinstance(body, bytes)
    )


def install(app: FastAPI) -> None:
    """Answer every HTTP error and request validation error in the one shape."""

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if request.url.path.startswith(_FOREIGN):
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=headers)
        answer = problem(exc.status_code, str(exc.detail))
        answer.headers.update(headers)
        return answer

    @app.exception_handler(TocsinError)
    async def refused(request: Request, exc: TocsinError) -> JSONResponse:
        status = status_of(exc)
        if request.url.path.startswith(_FOREIGN):
            return JSONResponse(exc.message, status)
        if isinstance(exc, Invalid) and not isinstance(exc, TooLarge) and _legacy_400(request):
            return problem(400, exc.message)
        field = exc.detail.get("field")
        if field is None:
            return problem(status, exc.message)
        message = f"{field}: {exc.message}"
        return problem(status, message, details=[{"field": field, "message": exc.message}])

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": _where(e.get("loc")), "message": str(e.get("msg", ""))} for e in exc.errors()
        ]
        if request.url.path.startswith(_FOREIGN):
            return JSONResponse({"detail": details}, 422)
        in_body = [e for e in exc.errors() if (e.get("loc") or ("body",))[0] == "body"]
        if in_body and _legacy_400(request):
            if any(_not_json(e, exc.body) for e in in_body):
                return problem(400, "the body must be JSON")
            return problem(400, "; ".join(f"{d['field']}: {d['message']}" for d in details))
        if any(_not_an_object(e) for e in in_body):
            details = [{"field": "body", "message": "the body must be a JSON object"}]
        first = details[0] if details else {"field": "body", "message": "invalid request"}
        return problem(422, f"{first['field']}: {first['message']}", details=details)


# Row ids in paths (store.schema.MAX_ROW_ID): a larger number names nothing, and is a 422
# like any other malformed path, not a database error.
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="A row id (the number shown).")]


MAX_BODY_BYTES = 1 << 20  # notes, updates, action items: far below this
_OWN_LIMITS = ("/api/v1/alerts", "/api/v1/intake/")  # intakes bound bodies by `limits`


# Native bodies are flat objects. A deeper body is refused before it is parsed, so that no
# parser or validator recurses on it (the intakes bound theirs by orjson's own depth limit).
MAX_BODY_DEPTH = 32
_ESCAPE = re.compile(rb"\\.", re.DOTALL)  # a backslash and the character it escapes
_JSON_STRING = re.compile(rb'"[^"]*"')  # once escapes are gone, linear
_NOT_A_BRACKET = bytes(sorted(set(range(256)) - set(b"[]{}")))
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def too_deep(body: bytes, limit: int = MAX_BODY_DEPTH) -> bool:
    """Whether the JSON text ``body`` opens arrays and objects more than ``limit`` levels
    deep (brackets inside strings do not count). Linear in the body, without recursion."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", _ESCAPE.sub(b"", body)).translate(None, _NOT_A_BRACKET)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


class BodyLimit:
    """ASGI middleware: a body of the native API beyond ``MAX_BODY_BYTES`` is a 413 in the
    one shape, whether it says its length or streams, and one nested deeper than
    ``MAX_BODY_DEPTH`` is a 400, before it is parsed. The intakes keep their own limits."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith("/api/v1/") or path.startswith(_OWN_LIMITS):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            await _too_large(self.limit)(scope, receive, send)
            return
        body = bytearray()

        async def bounded() -> Any:
            message = await receive()
            body.extend(message.get("body", b""))
            if len(body) > self.limit:
                raise HTTPException(413, f"the body is larger than {self.limit} bytes")
            whole = message.get("type") == "http.request" and not message.get("more_body")
            if whole and too_deep(bytes(body)):
                raise HTTPException(
                    400, f"the body is nested more than {MAX_BODY_DEPTH} levels deep"
                )
            return message

        await self.app(scope, bounded, send)


def _too_large(limit: int) -> JSONResponse:
    return problem(413, f"the body is larger than {limit} bytes (or its length is not a number)")
