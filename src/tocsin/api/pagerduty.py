"""PagerDuty's v3 webhooks come back: an acknowledgement or a resolve made in PagerDuty acts
on the tocsin incident it was forwarded from (``service.events.from_pagerduty``). No token:
the request is verified by its ``X-PagerDuty-Signature`` against the pagerduty channels'
``webhook_secret``; a forged, replayed or stale request is refused and changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from tocsin.api.context import context
from tocsin.service import events

router = APIRouter()


@router.post("/api/v1/pagerduty/webhook")
async def pagerduty_webhook(request: Request) -> dict[str, Any]:
    """A v3 webhook event (``incident.acknowledged``, ``incident.resolved``; others are
    answered and ignored, so that PagerDuty does not send them again). 403: not signed with a
    configured secret, or too old; 409: the event was received before; 404: no PagerDuty
    webhook is configured."""
    body = await request.body()
    signature = request.headers.get("x-pagerduty-signature")
    return await asyncio.to_thread(events.from_pagerduty, context(request), body, signature)
