"""How the native API answers a list: a JSON array of one page, ``X-Total-Count`` with the
number of matches, and ``Link: <…>; rel="next"`` (RFC 8288) while there is a next page.

The link never repeats the request's ``Host`` header (a client chooses it): it starts with the
configured ``global.external_url``, or is relative to the server when none is configured."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import JSONResponse

from tocsin.api.context import state_of

MAX_PAGE = 500
MAX_OFFSET = 10_000_000  # within every database's integers


def page(request: Request, items: list[Any], total: int, limit: int, offset: int) -> JSONResponse:
    answer = JSONResponse(items)
    answer.headers["X-Total-Count"] = str(total)
    if offset + limit < total:
        params = dict(request.query_params)
        params.update(limit=str(limit), offset=str(offset + limit))
        url = f"{_base(request)}{request.url.path}?{urlencode(params)}"
        answer.headers["Link"] = f'<{url}>; rel="next"'
    return answer


def after_page(
    request: Request, items: list[Any], more: bool, limit: int, cursor: str = "after"
) -> JSONResponse:
    """A page read by cursor (items with an ``id``): ``Link`` to the items past the last one
    (``cursor``: ``after`` it, oldest first, or ``before`` it, newest first) while ``more``
    follow (no total: counting a long list costs what reading it does)."""
    answer = JSONResponse(items)
    if more and items:
        params = dict(request.query_params)
        params.update({"limit": str(limit), cursor: str(items[-1]["id"])})
        url = f"{_base(request)}{request.url.path}?{urlencode(params)}"
        answer.headers["Link"] = f'<{url}>; rel="next"'
    return answer


def _base(request: Request) -> str:
    """The configured external URL without its trailing slash, or "" (a relative link)."""
    settings = state_of(request).config.model.global_
    if "external_url" not in settings.model_fields_set:
        return ""
    return settings.external_url.rstrip("/")
