"""Slack's Web API as acting from chat needs it (``service/chat.py``): the email of a member's
profile (``users.info``), and an answer to a request's ``response_url`` (an ephemeral message
to the person who pressed or typed). Both through slack_sdk's async clients, bounded in time;
neither raises for Slack's errors or the network's: they say what went wrong.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

log = logging.getLogger("tocsin.notify.channels")

LOOKUP_TIMEOUT_S = 5  # users.info
REPLY_TIMEOUT_S = 10  # a POST to response_url
MAX_EMAIL_CHARS = 320
_FAILURES = (SlackClientError, aiohttp.ClientError, asyncio.TimeoutError, ValueError)


async def member_email(api_url: str, token: str, member: str) -> tuple[str | None, str]:
    """The email of Slack member ``member``'s profile (the app needs the ``users:read.email``
    scope) and "", or None and why Slack did not tell it. An email that can name a tocsin
    user is one Slack confirmed, of the member asked about: a member of another organisation
    (Slack Connect's ``is_stranger``), an unconfirmed email (``is_email_confirmed`` false), a
    deactivated member or a bot is never taken for anyone."""
    client = AsyncWebClient(token=token, base_url=api_url, timeout=LOOKUP_TIMEOUT_S)
    try:
        answer = await client.users_info(user=member)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        return None, f"Slack's users.info answered {str(error or 'an error')[:80]}"
    except _FAILURES as exc:
        log.warning("Slack's users.info failed: %s", exc)
        return None, "Slack's users.info could not be reached"
    user = answer.get("user")
    if not isinstance(user, dict) or user.get("id") != member:
        return None, "Slack's users.info answered about someone else"
    if user.get("deleted") or user.get("is_bot") or user.get("is_stranger"):
        return None, "your Slack account is deactivated, a bot, or of another organisation"
    if user.get("is_email_confirmed") is False:
        return None, "your Slack profile's email is not confirmed"
    profile = user.get("profile")
    email = profile.get("email") if isinstance(profile, dict) else None
    if not isinstance(email, str) or not email or len(email) > MAX_EMAIL_CHARS:
        return None, "your Slack profile shows no email to this app"
    return email, ""


async def answer(response_url: str, text: str) -> bool:
    """Post ``text`` (Slack mrkdwn, escaped) to a request's ``response_url`` as an ephemeral
    message, the original message left as it is; whether Slack took it (a failure is
    logged)."""
    client = AsyncWebhookClient(response_url, timeout=REPLY_TIMEOUT_S)
    try:
        sent = await client.send(text=text, response_type="ephemeral", replace_original=False)
    except _FAILURES as exc:
        log.warning("an answer to Slack's response_url failed: %s", exc)
        return False
    if sent.status_code != 200:
        log.warning("Slack's response_url answered %s: %s", sent.status_code, sent.body[:200])
        return False
    return True
