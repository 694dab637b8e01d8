"""PagerDuty's v3 webhooks come back: an acknowledgement or a resolve made in PagerDuty acts
on the tocsin incident it was forwarded from (``service.events.from_pagerduty``). No token:
the request is verified by its ``X-PagerDuty-Signature`` against the pagerduty channels'
``webhook_secret``; a forged, replayed or stale request is refused and changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from tocsin.api.context import context
from tocsin.api.raw import read_bounded
from tocsin.service import events

router = APIRouter()

MAX_BODY = 256 * 1024  # a v3 webhook event is a few KiB; read before its signature is checked


@router.post("/api/v1/pagerduty/webhook")
async def pagerduty_webhook(request: Request) -> dict[str, Any]:
    """A v3 webhook event (``incident.acknowledged``, ``incident.resolved``; others are
    answered and ignored, so that PagerDuty does not send them again). 403: not signed with a
    configured secret, or too old; 409: the event was received before; 404: no PagerDuty
    webhook is configured; 413: a body over ``MAX_BODY`` (it is read before it is verified,
    so it is bounded)."""
    body = await read_bounded(request, MAX_BODY)
    signature = request.headers.get("x-pagerduty-signature")
    return await asyncio.to_thread(events.from_pagerduty, context(request), body, signature)
