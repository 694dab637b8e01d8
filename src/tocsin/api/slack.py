"""The Slack app's two request URLs (issue 21): ``POST /api/v1/slack/interactions`` (a button
of a page pressed) and ``POST /api/v1/slack/commands`` (``/tocsin ack 12``).

No token: a request is Slack's when its signature is (``service.chat.verify``), and it acts
once (a replay is refused). Slack waits 3 s for an answer, so the answer comes at once and the
work is queued: it runs after the answer is sent, in this server's event loop (Starlette's
background task of the request; the use case in a worker thread, in its own transaction),
and its result goes to the request's ``response_url`` as an ephemeral message.

Refusals: a body over 64 KiB 413, no slack channel with a signing secret 404, a missing or
wrong signature or a stale timestamp 401, a replay 409, a body that is no Slack request (or
whose ``response_url`` is not Slack's host) 400;
each in the one error shape, and none changes anything.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.responses import JSONResponse

from tocsin.api.context import context
from tocsin.api.errors import invalid_is_400, problem
from tocsin.errors import TooLarge
from tocsin.incidents.chat import parse_command_form, parse_interaction, ssl_check
from tocsin.service import chat
from tocsin.service.context import Context

router = APIRouter()

MAX_SLACK_BODY = 64 * 1024  # Slack's payloads are a few KiB


async def _body(request: Request) -> bytes:
    """The raw body (the signature covers its bytes), at most ``MAX_SLACK_BODY``."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_SLACK_BODY):
        raise TooLarge(f"the body is larger than {MAX_SLACK_BODY} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_SLACK_BODY:
            raise TooLarge(f"the body is larger than {MAX_SLACK_BODY} bytes")
    return bytes(body)


async def _verified(request: Request, body: bytes) -> tuple[Context, chat.SlackApp] | Response:
    ctx = context(request)
    try:
        signer = await asyncio.to_thread(
            chat.verify,
            ctx,
            request.headers.get("x-slack-request-timestamp"),
            request.headers.get("x-slack-signature"),
            body,
        )
    except chat.BadSignature as exc:
        return problem(401, exc.message)
    return ctx, signer


@router.post("/api/v1/slack/interactions", include_in_schema=False)
@invalid_is_400
async def interactions(request: Request, background: BackgroundTasks) -> Response:
    """A button of a page pressed: 200 at once; acknowledge, resolve, escalate or approve
    after, the answer to the person through ``response_url``."""
    body = await _body(request)
    verified = await _verified(request, body)
    if isinstance(verified, Response):
        return verified
    ctx, signer = verified
    asked = parse_interaction(body)
    if asked is not None:
        background.add_task(chat.carry_out, ctx, signer, chat.answerable(signer, asked))
    return Response(status_code=200)


@router.post("/api/v1/slack/commands", include_in_schema=False)
@invalid_is_400
async def commands(request: Request, background: BackgroundTasks) -> Response:
    """``/tocsin …``: help, who is on call and refusals answered at once; an action answered
    "Acknowledging #12…" and done after, its result through ``response_url``. Slack's
    certificate check of the URL (``ssl_check=1``, unsigned) is answered 200, nothing done."""
    body = await _body(request)
    if ssl_check(body):
        return Response(status_code=200)
    verified = await _verified(request, body)
    if isinstance(verified, Response):
        return verified
    ctx, signer = verified
    asked = chat.answerable(signer, parse_command_form(body))
    answer = await asyncio.to_thread(chat.answer_now, ctx, asked)
    if answer.queued:
        background.add_task(chat.carry_out, ctx, signer, asked)
    return JSONResponse({"response_type": "ephemeral", "text": answer.text})
