"""The console's page of a person's own notifications (``/me/notifications``): their contact
methods and notification rules (where each came from, whether it is verified), with forms to
add, remove and reorder them, send a test, and verify a method with the code it received.

Every form posts with the session's CSRF token and comes back to the page with what happened
(or what was refused). The page is the signed-in person's; an admin may open another's with
``?user=``. The use cases are ``service.contacts``, as the API's.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response

from tocsin.errors import Invalid, TocsinError
from tocsin.service import contacts
from tocsin.service.context import Context, serving
from tocsin.web import access
from tocsin.web.render import page

router = APIRouter()
PATH = "/me/notifications"
MAX_FIELD = 300


def _context(request: Request) -> Context:
    return serving(access.app_state(request))


def _whose(request: Request, person: access.Person, given: str | None) -> tuple[Context, str]:
    ctx = _context(request)
    asked = (given or "").strip()[:200] or None
    return ctx, contacts.person_for(ctx, person.user, person.may("admin"), asked)


def _back(user: str, person: access.Person, **query: str) -> Response:
    if user != person.user:
        query["user"] = user
    return access.redirect(PATH, **query)


@router.get(PATH)
@access.handled
async def notifications_page(request: Request) -> Response:
    """The person's methods and rules, and the forms that change them."""
    person = access.require(request, "read")
    ctx, user = _whose(request, person, request.query_params.get("user"))
    shown = await asyncio.to_thread(contacts.view, ctx, user)
    return page(
        "notifications.html",
        person=person,
        title="My notifications" if user == person.user else f"Notifications of {user}",
        view=shown,
        mine=user == person.user,
        flash=request.query_params.get("flash", "")[:300],
        error=request.query_params.get("error", "")[:300],
    )


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return str(value).strip()[:MAX_FIELD] if isinstance(value, str) else ""


def _methods(shown: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": m["name"], "channel": m["channel"], "address": m["given_address"]}
        for m in shown["methods"]
    ]


def _rules(shown: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"contact": r["contact"], "after": r["after"]} for r in shown["rules"]]


def _moved(items: list[dict[str, Any]], index: int, step: int) -> list[dict[str, Any]]:
    """``items`` with the one at ``index`` moved by ``step`` (-1 up, 1 down)."""
    if not 0 <= index < len(items):
        raise Invalid("no such row: reload the page")
    other = index + step
    if 0 <= other < len(items):
        items[index], items[other] = items[other], items[index]
    return items


def _index(form: Any) -> int:
    text = _field(form, "index")
    if not text.isdigit():
        raise Invalid("no such row: reload the page")
    return int(text)


def _change(ctx: Context, user: str, action: str, form: Any, by: str) -> str:
    """Carry out one form's action; what the page then says."""
    shown = contacts.view(ctx, user)
    methods, rules = _methods(shown), _rules(shown)
    name = _field(form, "name")
    if action == "add-method":
        address = _field(form, "address") or None
        methods.append({"name": name, "channel": _field(form, "channel"), "address": address})
        contacts.set_methods(ctx, user, methods, by)
        return f"Contact method {name} added"
    if action == "remove-method":
        contacts.set_methods(ctx, user, [m for m in methods if m["name"] != name], by)
        return f"Contact method {name} removed"
    if action in ("method-up", "method-down"):
        moved = _moved(methods, _index(form), -1 if action == "method-up" else 1)
        contacts.set_methods(ctx, user, moved, by)
        return "Contact methods reordered"
    if action == "add-rule":
        rules.append({"contact": _field(form, "contact"), "after": _field(form, "after") or "0s"})
        contacts.set_rules(ctx, user, rules, by)
        return "Notification rule added"
    if action == "remove-rule":
        index = _index(form)
        contacts.set_rules(ctx, user, [r for i, r in enumerate(rules) if i != index], by)
        return "Notification rule removed"
    if action in ("rule-up", "rule-down"):
        moved = _moved(rules, _index(form), -1 if action == "rule-up" else 1)
        contacts.set_rules(ctx, user, moved, by)
        return "Notification rules reordered"
    if action == "test":
        sent = contacts.send_test(ctx, user, name, by)
        if not sent.ok:
            raise Invalid(f"the test through {name} failed: {sent.error}")
        return f"Test sent through {name}"
    if action == "verify":
        sent = contacts.start_verification(ctx, user, name, by)
        if not sent.ok:
            raise Invalid(f"the code could not be sent through {name}: {sent.error}")
        return f"A code was sent through {name}: enter it below"
    if action == "confirm":
        contacts.confirm(ctx, user, name, _field(form, "code"))
        return f"{name} is verified"
    raise Invalid(f"no such action {action!r}")


@router.post(PATH + "/{action}")
@access.handled
async def notifications_change(request: Request, action: str) -> Response:
    person, form = await access.acting(request, "read")
    ctx, user = _whose(request, person, _field(form, "user") or None)
    try:
        said = await asyncio.to_thread(_change, ctx, user, action[:40], form, person.user)
    except TocsinError as exc:
        return _back(user, person, error=exc.message[:300])
    return _back(user, person, flash=said)
