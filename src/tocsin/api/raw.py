"""Raw request bodies, for the compatibility contracts only: Alertmanager's ``/api/v2`` and
the intakes (its webhook, PagerDuty's ``/v2/enqueue``, the generic JSON) answer a body too
large, or not JSON, in their products' own shapes and codes, and bound bodies by ``limits``.
The native API declares its bodies as pydantic models instead (``api.errors``). Signed
webhooks read their exact bytes, bounded, with ``read_bounded``."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.responses import JSONResponse

from tocsin.errors import TooLarge


class Abort(Exception):
    """A request answered early, with ``response``."""

    def __init__(self, response: Response) -> None:
        self.response = response


async def read_json(request: Request, limit: int, what: str) -> Any:
    """The request body as JSON, at most ``limit`` bytes (413 beyond), 400 when not JSON."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise Abort(
            JSONResponse(
                status_code=413,
                content=f"request body of {length} bytes is larger than the {limit} allowed",
            )
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Abort(
                JSONResponse(
                    status_code=413,
                    content=f"request body is larger than the {limit} bytes allowed",
                )
            )
    try:
        return orjson.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Abort(
            JSONResponse(
                status_code=400,
                content={
                    "code": 400,
                    "message": f'parsing {what} body from "" failed, because {exc}',
                },
            )
        ) from None


async def read_bounded(request: Request, limit: int) -> bytes:
    """The raw body (a signature covers its exact bytes), at most ``limit`` bytes: TooLarge
    (413, the one error shape) beyond, before any more of it is read. A Content-Length that is
    not ASCII digits is not trusted (the stream is still bounded)."""
    declared = request.headers.get("content-length")
    digits = declared is not None and declared.isascii() and declared.isdigit()
    if digits and int(str(declared)) > limit:
        raise TooLarge(f"the body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"the body is larger than {limit} bytes")
    return bytes(body)
