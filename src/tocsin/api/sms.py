"""The SMS gateway's webhooks (Twilio's shape): a person's reply to an SMS page
(``/api/v1/sms/inbound``), a key pressed on a call (``/api/v1/voice/gather``) and delivery
status callbacks (``/api/v1/sms/status``). No token: each request carries the gateway's
signature, which ``service.sms`` checks before anything else, with the replay. Bodies are
forms of at most ``MAX_BODY`` bytes (413 beyond); answers are TwiML. The work (the database,
the engine) runs in a worker thread, off the event loop the server and its engine share."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response

from tocsin.api.context import context
from tocsin.errors import Invalid, TooLarge
from tocsin.notify.sms import GATHER_PATH, INBOUND_PATH, STATUS_PATH, twiml_answer
from tocsin.service import sms

router = APIRouter()

MAX_BODY = 16 * 1024  # a Twilio webhook's form is a few hundred bytes
MAX_FIELDS = 100
_XML = "text/xml; charset=utf-8"


async def _signed(request: Request, path: str) -> sms.Signed:
    """The request as the service checks it: its form, bounded, and its signature."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise TooLarge(f"request body of {length} bytes is larger than the {MAX_BODY} allowed")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise TooLarge(f"request body is larger than the {MAX_BODY} bytes allowed")
    try:
        params = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Invalid(
            f"the body is not a form (application/x-www-form-urlencoded): {exc}"
        ) from None
    return sms.Signed(
        path=path,
        query=request.url.query,
        params=params,
        signature=request.headers.get("x-twilio-signature", ""),
    )


@router.post(INBOUND_PATH)
async def inbound(request: Request) -> Response:
    """A reply to an SMS page (the gateway's incoming-message webhook): "1" acknowledges,
    "2" resolves; answered with an SMS back (TwiML ``<Message>``)."""
    signed = await _signed(request, INBOUND_PATH)
    answer = await asyncio.to_thread(sms.reply, context(request), signed)
    return Response(twiml_answer("Message", answer), media_type=_XML)


@router.post(GATHER_PATH)
async def gather(request: Request) -> Response:
    """A key pressed on a call tocsin made: 1 acknowledges, 2 resolves (TwiML ``<Say>``)."""
    signed = await _signed(request, GATHER_PATH)
    answer = await asyncio.to_thread(sms.gather, context(request), signed)
    return Response(twiml_answer("Say", answer), media_type=_XML)


@router.post(STATUS_PATH, status_code=204)
async def status(request: Request) -> Response:
    """A message's or call's delivery status; a failure goes on the incident's timeline."""
    signed = await _signed(request, STATUS_PATH)
    await asyncio.to_thread(sms.status, context(request), signed)
    return Response(status_code=204)
