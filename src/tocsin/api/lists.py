"""How the native API answers a list: a JSON array of one page, ``X-Total-Count`` with the
number of matches, and ``Link: <…>; rel="next"`` (RFC 8288) while there is a next page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import JSONResponse

MAX_PAGE = 500
MAX_OFFSET = 10_000_000  # within every database's integers


def page(request: Request, items: list[Any], total: int, limit: int, offset: int) -> JSONResponse:
    answer = JSONResponse(items)
    answer.headers["X-Total-Count"] = str(total)
    if offset + limit < total:
        params = dict(request.query_params)
        params.update(limit=str(limit), offset=str(offset + limit))
        url = str(request.url.replace(query=urlencode(params)))
        answer.headers["Link"] = f'<{url}>; rel="next"'
    return answer
