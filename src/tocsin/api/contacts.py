"""A person's own contact methods and notification rules (``service.contacts``):
``GET``/``PUT /api/v1/me/contact-methods``, ``GET``/``PUT /api/v1/me/notification-rules``,
``POST /api/v1/me/contact-methods/{name}/test``, ``.../verify`` (sends a code) and
``.../verify/confirm`` (``{"code": "123456"}``).

The token's user is the person (``auth.actor``), whatever their role; an admin may act for
another user with ``?user=``. A test and a code are sent while the request waits (in a
worker thread, never in the event loop): the answer says whether the channel took it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tocsin.api.auth import Reader, caller
from tocsin.api.context import context
from tocsin.incidents.lifecycle import MAX_NAME_CHARS
from tocsin.service import contacts
from tocsin.service.context import Context
from tocsin.service.tokens import may

router = APIRouter()

# bounds of what is read before the shared rules (oncall.contacts) say what is wrong in words
MAX_ITEMS = 50
MAX_TEXT = 300

User = Annotated[
    str | None,
    Query(max_length=MAX_NAME_CHARS, description="Another user's (an admin only)."),
]
MethodName = Annotated[str, Path(min_length=1, max_length=40)]


class MethodBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=MAX_TEXT)
    channel: str = Field(min_length=1, max_length=MAX_TEXT)
    address: str | None = Field(default=None, max_length=MAX_TEXT)


class MethodsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact_methods: list[MethodBody] = Field(max_length=MAX_ITEMS)


class RuleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact: str = Field(min_length=1, max_length=MAX_TEXT)
    after: str = Field(default="0s", max_length=32)


class RulesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    notification_rules: list[RuleBody] = Field(max_length=MAX_ITEMS)


class CodeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=32)


def _whose(request: Request, by: str, user: str | None) -> tuple[Context, str]:
    ctx = context(request)
    admin = may(caller(request).role, "admin")
    return ctx, contacts.person_for(ctx, by, admin, user)


@router.get("/api/v1/me/contact-methods")
async def get_methods(request: Request, by: Reader, user: User = None) -> Response:
    """The person's contact methods and rules in force: where each came from (``source``:
    config or user), its address, whether it is verified."""
    ctx, person = _whose(request, by, user)
    return JSONResponse(contacts.view(ctx, person))


@router.put("/api/v1/me/contact-methods")
async def put_methods(
    request: Request, body: MethodsBody, by: Reader, user: User = None
) -> Response:
    """Replace the person's contact methods, in order (the rules must still name them)."""
    ctx, person = _whose(request, by, user)
    given = [m.model_dump() for m in body.contact_methods]
    return JSONResponse(contacts.set_methods(ctx, person, given, by))


@router.get("/api/v1/me/notification-rules")
async def get_rules(request: Request, by: Reader, user: User = None) -> Response:
    """The person's notification rules (as ``GET /api/v1/me/contact-methods`` answers)."""
    ctx, person = _whose(request, by, user)
    return JSONResponse(contacts.view(ctx, person))


@router.put("/api/v1/me/notification-rules")
async def put_rules(request: Request, body: RulesBody, by: Reader, user: User = None) -> Response:
    """Replace the person's notification rules: ``contact`` (a method's name) ``after`` a
    duration (0s to 1h)."""
    ctx, person = _whose(request, by, user)
    given = [r.model_dump() for r in body.notification_rules]
    return JSONResponse(contacts.set_rules(ctx, person, given, by))


@router.post("/api/v1/me/contact-methods/{name}/test")
async def test_method(
    request: Request, name: MethodName, by: Reader, user: User = None
) -> Response:
    """Send a test message through this method alone (at most 3 per 10 minutes)."""
    ctx, person = _whose(request, by, user)
    sent = await asyncio.to_thread(contacts.send_test, ctx, person, name, by)
    return JSONResponse(sent.to_json())


@router.post("/api/v1/me/contact-methods/{name}/verify")
async def verify_method(
    request: Request, name: MethodName, by: Reader, user: User = None
) -> Response:
    """Send a verification code (6 digits, good for 10 minutes) through this method."""
    ctx, person = _whose(request, by, user)
    sent = await asyncio.to_thread(contacts.start_verification, ctx, person, name, by)
    return JSONResponse(sent.to_json())


@router.post("/api/v1/me/contact-methods/{name}/verify/confirm")
async def confirm_method(
    request: Request, name: MethodName, body: CodeBody, by: Reader, user: User = None
) -> Response:
    """The code from the message: the method is verified, and rules use it from now on."""
    ctx, person = _whose(request, by, user)
    return JSONResponse(contacts.confirm(ctx, person, name, body.code))
