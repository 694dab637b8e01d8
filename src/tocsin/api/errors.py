"""One JSON error shape for every 4xx of tocsin's own API:
``{"error": {"status": 404, "message": "no incident 7", ...}}``.

Alertmanager's ``/api/v2`` and PagerDuty's ``/v2/enqueue`` keep their own shapes: those are
compatibility contracts (DESIGN.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tocsin.store.schema import MAX_ROW_ID

_FOREIGN = ("/api/v2/", "/v2/")  # paths whose error shapes belong to another product


def problem(status: int, message: str, **extra: Any) -> JSONResponse:
    """The error answer: status, a message a person can act on, and any extra fields."""
    return JSONResponse(
        status_code=status, content={"error": {"status": status, "message": message, **extra}}
    )


def _where(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")] if loc else []
    return ".".join(parts) or "body"


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

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": _where(e.get("loc")), "message": str(e.get("msg", ""))} for e in exc.errors()
        ]
        if request.url.path.startswith(_FOREIGN):
            return JSONResponse({"detail": details}, 422)
        first = details[0] if details else {"field": "body", "message": "invalid request"}
        return problem(422, f"{first['field']}: {first['message']}", details=details)


# Row ids in paths (store.schema.MAX_ROW_ID): a larger number names nothing, and is a 422
# like any other malformed path, not a database error.
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="A row id (the number shown).")]


MAX_BODY_BYTES = 1 << 20  # notes, updates, action items: far below this
_OWN_LIMITS = ("/api/v1/alerts", "/api/v1/intake/")  # intakes bound bodies by `limits`


class BodyLimit:
    """ASGI middleware: a body of the native API beyond ``MAX_BODY_BYTES`` is a 413 in the
    one shape, whether it says its length or streams; it is never read whole into memory.
    The intakes keep their own configured limits."""

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
        seen = 0

        async def bounded() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise HTTPException(413, f"the body is larger than {self.limit} bytes")
            return message

        await self.app(scope, bounded, send)


def _too_large(limit: int) -> JSONResponse:
    return problem(413, f"the body is larger than {limit} bytes (or its length is not a number)")
