"""What a page's "Open" link leads to, until the web console exists: the incident's text
behind a signed, expiring link (``service.share``), with no token. A link that is not the
server's answers 403, an expired one 410, each with a sentence saying what to do."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from tocsin.api.context import context
from tocsin.api.errors import RowId
from tocsin.errors import Forbidden
from tocsin.incidents.share import MAX_SIGNATURE_CHARS
from tocsin.service import share

router = APIRouter()

# plain text, never sniffed as HTML, never cached or passed on in a Referer
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'",
}


@router.get("/share/incidents/{incident_id}", response_class=PlainTextResponse)
async def shared_incident(
    request: Request,
    incident_id: RowId,
    expires: Annotated[int, Query(ge=0, le=253402300799, description="Unix seconds.")],
    sig: Annotated[str, Query(max_length=MAX_SIGNATURE_CHARS)],
) -> PlainTextResponse:
    """The incident as text, for whoever holds a link the server signed (a page's "Open"
    link); no token."""
    try:
        text = share.shared_text(context(request), incident_id, expires, sig)
    except share.LinkExpired as exc:
        return PlainTextResponse(f"410 Gone: {exc.message}\n", status_code=410, headers=HEADERS)
    except Forbidden as exc:
        return PlainTextResponse(
            f"403 Forbidden: {exc.message}\n", status_code=403, headers=HEADERS
        )
    return PlainTextResponse(text, headers=HEADERS)
