"""The console's pages and actions. Each reads or acts through the service layer
(``tocsin.service``) as the signed-in person, whose name the timeline records.

Reading needs a role that may read (viewer, responder, admin); acting needs one that may
respond, and the form's CSRF token. A page asked for without a session leads to the sign-in
form and back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.datastructures import FormData

from tocsin import times
from tocsin.alerts.payloads import finish
from tocsin.errors import Conflict, Forbidden, Invalid, TocsinError, TooMany, Unavailable
from tocsin.incidents.lifecycle import MAX_NAME_CHARS, MAX_NOTE_CHARS, STATUSES
from tocsin.incidents.share import MAX_SIGNATURE_CHARS
from tocsin.incidents.updates import MAX_MESSAGE_CHARS, STAGES
from tocsin.service import (
    incidents,
    passwords,
    record,
    runs,
    silences,
    testing,
    tokens,
    updates,
)
from tocsin.service.context import Context, serving
from tocsin.service.share import LinkExpired, check_link
from tocsin.service.tokens import may
from tocsin.web import access, live, session
from tocsin.web import runs as runs_page
from tocsin.web.access import LINK, Person, SignIn
from tocsin.web.render import incident_name, page

router = APIRouter()

PAGE = 50  # incidents per page
EVENTS = 50  # the latest timeline events on an incident's page
EVENTS_PAGE = 200  # a page of the whole timeline
NOTIFICATIONS = 100  # the latest notifications on an incident's page
RUNS = 50  # the latest runs of runbook commands on an incident's page
SHOWN_ALERTS = 100  # an incident's alerts on its page (the record says how many in all)
MAX_PAGE_NUMBER = 10_000
ACTIONS: dict[str, Callable[[Context, int, str], dict[str, Any]]] = {
    "acknowledge": incidents.acknowledge,
    "resolve": incidents.resolve,
    "escalate": incidents.escalate,
}


# --------------------------------------------------------------------------- sign-in


@router.get("/")
async def home() -> Response:
    return access.redirect("/incidents")


@router.get("/signin")
async def signin_form(request: Request) -> Response:
    return _signin_page(request, "", access.safe_next(request.query_params.get("next")), 200)


def _signin_page(request: Request, error: str, next_path: str, status: int) -> Response:
    oidc = access.app_state(request).config.model.console.oidc
    return _form_before_session(
        request, "signin.html", status, title="Sign in", error=error, next_path=next_path,
        oidc_name=oidc.name if oidc is not None else None,
        oidc_href="/signin/oidc?" + urlencode({"next": next_path}),
    )  # fmt: skip


def _form_before_session(request: Request, template: str, status: int, **values: Any) -> Response:
    """A form posted before any session (sign-in, first sign-in): its CSRF token comes from a
    random cookie of its own, set here."""
    value = session.new_signin()
    answer = page(
        template,
        status=status,
        person=None,
        csrf=session.csrf(access.signing_key(request), value),
        **values,
    )
    answer.set_cookie(
        session.SIGNIN_COOKIE, value, max_age=3600, httponly=True, samesite="strict",
        secure=request.url.scheme == "https", path="/signin",
    )  # fmt: skip
    return answer


async def _posted_signin(request: Request) -> tuple[FormData, str] | Response:
    """A sign-in form as posted, with where to go after; or the form again, saying why it
    was refused (too large, or not from this console's form: its CSRF token)."""
    try:
        form = await access.read_form(request)
    except Invalid as exc:
        return _signin_page(request, exc.message, "/incidents", 413)
    next_path = access.safe_next(str(form.get("next") or ""))
    given = form.get(session.CSRF_FIELD)
    if not session.csrf_ok(
        access.signing_key(request),
        request.cookies.get(session.SIGNIN_COOKIE),
        given if isinstance(given, str) else None,
    ):
        return _signin_page(
            request, "The sign-in form expired; it is fresh now: try again.", next_path, 403
        )
    return form, next_path


@router.post("/signin")
async def signin(request: Request) -> Response:
    """Sign in with an API token: its user and role become the session's."""
    posted = await _posted_signin(request)
    if isinstance(posted, Response):
        return posted
    form, next_path = posted
    secret = str(form.get("token") or "").strip()
    state = access.app_state(request)
    token = None
    if secret and len(secret) <= 200:
        token = await asyncio.to_thread(tokens.identity, state.db, secret)
    if token is None:
        return _signin_page(request, "That token is not valid, or it was revoked.", next_path, 401)
    if not may(token.role, "read"):
        return _signin_page(
            request, f"An {token.role} token is for machines; sign in with your own.", next_path,
            403,
        )  # fmt: skip
    return _session(request, token.id, access.redirect(next_path))


WRONG_PASSWORD = "That name or password is wrong."


@router.post("/signin/password")
async def signin_password(request: Request) -> Response:
    """Sign in with a user name and the password set for it (``tocsin users password``): its
    role becomes the session's. One answer for a wrong name and a wrong password (401);
    refused (429) after too many wrong ones for the name."""
    posted = await _posted_signin(request)
    if isinstance(posted, Response):
        return posted
    form, next_path = posted
    user, password = form.get("user"), form.get("password")
    if not isinstance(user, str) or not isinstance(password, str):
        return _signin_page(request, WRONG_PASSWORD, next_path, 401)
    state = access.app_state(request)
    try:
        found = await asyncio.to_thread(
            passwords.check_password, state.db, state.clock.now(), user[:1000], password[:1000]
        )
    except TooMany as exc:
        return _signin_page(request, exc.message, next_path, 429)
    if found is None:
        return _signin_page(request, WRONG_PASSWORD, next_path, 401)
    expires = int(state.clock.now()) + session.SESSION_S
    value = session.password_value(access.signing_key(request), found.user, found.stamp, expires)
    return access.start_session(request, value, access.redirect(next_path))


def _session(request: Request, token_id: int, answer: Response) -> Response:
    """``answer``, which starts a session of token ``token_id``."""
    expires = int(access.app_state(request).clock.now()) + session.SESSION_S
    value = session.session_value(access.signing_key(request), token_id, expires)
    return access.start_session(request, value, answer)


def _first_page(request: Request, error: str, status: int) -> Response:
    return _form_before_session(
        request,
        "first.html",
        status,
        title="First sign-in",
        error=error,
        users=sorted(access.app_state(request).config.paging.users),
        expires=request.query_params.get("expires", "")[:12],
        sig=request.query_params.get("sig", "")[:100],
    )


FIRST_INVALID = "That first sign-in link is not valid, or it expired; sign in with a token."
FIRST_USED = (
    "This server has an admin already: its first sign-in link is used up. Sign in with a token"
    " or a password."
)


@router.get("/signin/first")
async def first_form(request: Request) -> Response:
    """The first sign-in link ``tocsin serve`` prints while the server has no admin: a GET
    only shows what it will do (mail and chat scanners fetch links); the button acts."""
    q = request.query_params
    state = access.app_state(request)
    if not session.first_ok(
        access.signing_key(request), q.get("expires", ""), q.get("sig", ""), state.clock.now()
    ):
        return _signin_page(request, FIRST_INVALID, "/incidents", 403)
    if await asyncio.to_thread(tokens.has_admin, state.db):
        return _signin_page(request, FIRST_USED, "/incidents", 409)
    return _first_page(request, "", 200)


@router.post("/signin/first")
async def first_signin(request: Request) -> Response:
    """Become the server's first admin: an admin token for the name given, and a session."""
    state = access.app_state(request)
    posted = await _posted_signin(request)
    if isinstance(posted, Response):
        return posted
    form, _next = posted
    expires, sig = str(form.get("expires") or ""), str(form.get("sig") or "")
    if not session.first_ok(access.signing_key(request), expires, sig, state.clock.now()):
        return _signin_page(request, FIRST_INVALID, "/incidents", 403)
    user = str(form.get("user") or "").strip()[:200]
    try:
        token, _secret = await asyncio.to_thread(
            tokens.first_admin, state.db, state.clock.now(), user, state.config.paging.users
        )
    except Conflict as exc:
        return _signin_page(request, exc.message, "/incidents", 409)
    except Invalid as exc:
        return _first_page(request, exc.message, 422)
    return _session(
        request,
        token.id,
        access.redirect("/incidents", flash=f"Welcome, {user}: you are this server's first admin"),
    )


@router.post("/signout")
@access.handled
async def signout(request: Request) -> Response:
    await access.acting(request, "read")
    answer = access.redirect("/signin")
    answer.delete_cookie(session.COOKIE, path="/")
    return answer


# --------------------------------------------------------------------------- incidents


def _filters(request: Request, person: Person) -> dict[str, str]:
    """The list's filters as the URL keeps them (empty ones left out)."""
    q = request.query_params
    found = {k: q.get(k, "").strip()[:200] for k in ("status", "severity", "route", "assignee")}
    if q.get("mine"):
        found["assignee"] = person.user[:MAX_NAME_CHARS]
        found["mine"] = "1"
    return {k: v for k, v in found.items() if v}


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_NUMBER:
        raise Invalid(f"page must be a number from 1 to {MAX_PAGE_NUMBER}")
    return int(raw)


def _list(
    ctx: Context, filters: dict[str, str], number: int
) -> tuple[list[dict[str, Any]], int, dict[str, int], int]:
    mark = record.change_mark(ctx)  # first: a change after it is sent live
    statuses = filters["status"].split(",") if "status" in filters else None
    severities = filters["severity"].split(",") if "severity" in filters else None
    common: dict[str, Any] = {
        "severities": severities,
        "route": filters.get("route"),
        "assignee": filters.get("assignee"),
    }
    found, total = record.list_incidents(
        ctx, statuses=statuses, limit=PAGE, offset=(number - 1) * PAGE, **common
    )
    counts = record.status_counts(ctx, **common)
    return found, total, counts, mark


@router.get("/incidents")
@access.handled
async def incident_list(request: Request) -> Response:
    """Incidents, newest first, with the counts per status and the filters in the URL."""
    person = access.require(request, "read")
    filters = _filters(request, person)
    number = _page_number(request)
    found, total, counts, mark = await asyncio.to_thread(
        _list, serving(access.app_state(request)), filters, number
    )
    pages = max(1, -(-total // PAGE))

    def link(**change: str) -> str:
        query = {**filters, **change}
        return "/incidents" + ("?" + urlencode({k: v for k, v in query.items() if v}))

    return page(
        "incidents.html",
        person=person,
        title="Incidents",
        incidents=found,
        total=total,
        counts=counts,
        statuses=STATUSES,
        filters=filters,
        number=number,
        pages=pages,
        link=link,
        flash=request.query_params.get("flash", "")[:200],
        tests=testing.choices(serving(access.app_state(request))),
        mark=mark,
    )


@router.post("/incidents")
@access.handled
async def incident_bulk(request: Request) -> Response:
    """Acknowledge or resolve the incidents ticked on the list."""
    person, form = await access.acting(request)
    action = str(form.get("action") or "")
    if action not in ("acknowledge", "resolve"):
        raise Invalid("choose acknowledge or resolve")
    ids = [int(v) for v in form.getlist("id") if isinstance(v, str) and v.isdigit()][:PAGE]
    if not ids:
        raise Invalid("tick at least one incident")
    ctx = serving(access.app_state(request))
    done, refused = await asyncio.to_thread(_each, ctx, ids, person.user, ACTIONS[action])
    back = str(form.get("back") or "/incidents")
    note = f"{action}d {done}" + (f"; refused {refused}" if refused else "")
    return access.redirect(access.safe_next(back).split("?")[0], flash=note)


def _each(
    ctx: Context, ids: list[int], by: str, act: Callable[[Context, int, str], dict[str, Any]]
) -> tuple[int, int]:
    done = refused = 0
    for incident_id in ids:
        try:
            act(ctx, incident_id, by)
            done += 1
        except TocsinError:
            refused += 1
    return done, refused


MAX_TYPED = 20  # placeholder values a person may give at once


def _typed(request: Request) -> dict[str, str]:
    """Placeholder values typed on the page (``fill.<key>=value``), bounded."""
    found: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        key = name.removeprefix("fill.")
        wanted = name.startswith("fill.") and value.strip() and len(found) < MAX_TYPED
        if wanted and key.replace("_", "").isalnum() and len(key) <= 100:
            found[key] = value.strip()[:500]
    return found


def _incident(
    ctx: Context, incident_id: int, typed: dict[str, str] | None = None
) -> tuple[dict[str, Any], list[Any], int]:
    mark = record.change_mark(ctx, incident_id)  # first: a change after it is sent live
    found = record.record(ctx, incident_id, typed=typed)
    found["mark"] = mark
    events, total = record.latest_timeline(ctx, incident_id, limit=EVENTS)
    found["notifications"] = record.notifications(ctx, incident_id)[-NOTIFICATIONS:]
    shown = [a["fingerprint"] for a in found["alerts"][:SHOWN_ALERTS]]
    muting = silences.muting_of(ctx, shown)
    for alert in found["alerts"][:SHOWN_ALERTS]:
        alert["silenced_by"] = muting.silenced_by.get(alert["fingerprint"], [])
        alert["inhibited_by"] = muting.inhibited_by.get(alert["fingerprint"], [])
    found["update_templates"] = updates.templates(ctx, incident_id)
    numbered = runs.steps(ctx, incident_id, typed)
    commands = [c for s in found["runbooks"] for st in s["steps"] for c in st["commands"]]
    for command, step in zip(commands, numbered, strict=False):
        if step.code != command["code"]:  # the runbooks were read again in between: no buttons
            break
        command["step"] = runs.step_json(step)  # its number, runner, digest, as it would run
    found["runs"] = [r.to_json() for r in runs.runs_of(ctx, incident_id)[:RUNS]]
    paged, _count = record.latest_timeline(ctx, incident_id, {"escalated"}, 1)
    found["last_paged"] = paged[-1] if paged else None  # whom the last step paged, by name
    return found, events, total


@router.get("/incidents/{incident_id}")
@access.handled
async def incident_page(request: Request, incident_id: int) -> Response:
    """One incident: its header, actions, alerts, runbook sections and latest events. A
    page's signed link (``expires``, ``sig``) opens it without signing in, to read only."""
    person = access.signed_in(request) or _link_reader(request, incident_id)
    if person is None:
        raise SignIn
    if not person.may("read") and person.role != LINK:
        raise Forbidden(f"a {person.role} may not do this")
    typed = _typed(request)
    found, events, total = await asyncio.to_thread(
        _incident, serving(access.app_state(request)), incident_id, typed
    )
    return page(
        "incident.html",
        person=person,
        title=f"#{found['number']} {incident_name(found)}",
        incident=found,
        events=events,
        events_total=total,
        flash=request.query_params.get("flash", "")[:200],
        max_note=MAX_NOTE_CHARS,
        max_name=MAX_NAME_CHARS,
        max_message=MAX_MESSAGE_CHARS,
        stages=STAGES,
        typed=typed,
    )


def _link_reader(request: Request, incident_id: int) -> Person | None:
    """Whoever holds the page's signed link to this incident (None without one; Forbidden,
    or ``LinkExpired``, for a link that is not the server's or whose time has passed)."""
    expires, sig = request.query_params.get("expires"), request.query_params.get("sig")
    if expires is None or sig is None:
        return None
    if not expires.isdigit() or len(expires) > 12 or len(sig) > MAX_SIGNATURE_CHARS:
        raise Forbidden("this link is not valid; open the incident from the page you received")
    try:
        check_link(serving(access.app_state(request)), incident_id, int(expires), sig)
    except LinkExpired:
        raise LinkExpired(
            "this link has expired; sign in to open the incident",
        ) from None
    return Person("", LINK, "")


@router.post("/test-alert")
@access.handled
async def send_test_alert(request: Request) -> Response:
    """Fire a test alert (a runbook's alert, labelled as a test) through the intake, as
    Prometheus would: it is routed, grouped, paged and recorded like any other."""
    person, form = await access.acting(request)
    state = access.app_state(request)
    ctx = serving(state)
    now = times.to_dt(ctx.now())
    alert = testing.test_alert(ctx, str(form.get("alertname") or "")[:200], person.user, now)
    parsed = finish([alert], now, state.config.resolve_timeout_s, state.limits)
    if parsed.errors:
        raise Invalid("; ".join(parsed.errors))
    await state.writer.write(parsed.alerts, "console")
    name = alert.labels["alertname"]
    return access.redirect("/incidents", flash=f"Test alert {name} sent")


@router.get("/incidents/{incident_id}/timeline")
@access.handled
async def timeline_page(request: Request, incident_id: int) -> Response:
    """The whole timeline, oldest first, a page at a time."""
    person = access.require(request, "read")
    raw = request.query_params.get("after", "0")
    if not raw.isdigit() or len(raw) > 12:
        raise Invalid("after must be an event id")
    ctx = serving(access.app_state(request))
    found = await asyncio.to_thread(record.incident, ctx, incident_id)
    events, more = await asyncio.to_thread(
        record.timeline, ctx, incident_id, None, int(raw) or None, EVENTS_PAGE
    )
    return page(
        "timeline.html",
        person=person,
        title=f"#{incident_id} timeline",
        incident=found,
        events=events,
        next_after=events[-1]["id"] if more and events else None,
    )


@router.post("/incidents/{incident_id}/{action}")
@access.handled
async def incident_action(request: Request, incident_id: int, action: str) -> Response:
    """Acknowledge, resolve, escalate now, reopen, add a note, assign."""
    person, form = await access.acting(request)
    ctx = serving(access.app_state(request))
    by = person.user
    if action in ACTIONS:
        await asyncio.to_thread(ACTIONS[action], ctx, incident_id, by)
        flash = {"acknowledge": "Acknowledged", "resolve": "Resolved", "escalate": "Escalated"}
    elif action == "reopen":
        reason = str(form.get("reason") or "")[:1000]
        await asyncio.to_thread(incidents.reopen, ctx, incident_id, reason, by)
        flash = {"reopen": "Reopened"}
    elif action == "note":
        text = str(form.get("text") or "").strip()
        if not text:
            raise Invalid("a note needs some text")
        if len(text) > MAX_NOTE_CHARS:
            raise Invalid(f"a note is at most {MAX_NOTE_CHARS} characters")
        await asyncio.to_thread(incidents.note, ctx, incident_id, text, by)
        flash = {"note": "Note added"}
    elif action == "assign":
        changes = {
            role: str(form.get(role) or "").strip()[: MAX_NAME_CHARS + 1]
            for role in ("assignee", "commander")
            if role in form
        }
        await asyncio.to_thread(incidents.assign, ctx, incident_id, changes, by)
        named = [f"{role} {name or 'nobody'}" for role, name in changes.items()]
        flash = {"assign": "Now " + ", ".join(named)}
    elif action == "update":
        return await _status_update(request, ctx, incident_id, person, form)
    elif action == "run":  # a runbook step (web/runs.py)
        return await runs_page.request_run(request, ctx, incident_id, by, form)
    else:
        raise Invalid(f"no action {action[:40]!r}")
    return access.redirect(f"/incidents/{incident_id}", flash=flash[action])


async def _status_update(
    request: Request, ctx: Context, incident_id: int, person: Person, form: FormData
) -> Response:
    """A status update from a template: previewed (``preview``: nothing is sent), or sent to
    the incident's channels and recorded."""
    stage = str(form.get("stage") or "")[:32]
    template = str(form.get("template") or "")[:200] or None
    message = str(form.get("message") or "")[: MAX_MESSAGE_CHARS + 1]
    impact = str(form.get("impact") or "").strip()[: updates.MAX_IMPACT_CHARS + 1] or None
    if form.get("preview"):
        name, text = await asyncio.to_thread(
            updates.preview, ctx, incident_id, stage, message, person.user, template, impact
        )
        found = await asyncio.to_thread(record.incident, ctx, incident_id)
        return page(
            "update_preview.html",
            person=person,
            title=f"#{incident_id} status update",
            incident=found,
            stage=stage,
            template=name,
            message=message,
            impact=impact or "",
            text=text,
            public=form.get("public") == "1",
        )
    public = form.get("public") == "1"
    posted = await asyncio.to_thread(
        updates.post, ctx, incident_id, stage, message, person.user, template, impact, public
    )
    told = ", ".join(posted.channels) or "no channel"
    return access.redirect(f"/incidents/{incident_id}", flash=f"Status update sent to {told}")


# --------------------------------------------------------------------------- live


STREAMS = live.Streams()


async def _stream(request: Request, incident_id: int | None) -> Response:
    """The change stream of the list (``incident_id`` None) or of one incident."""
    access.require(request, "read")
    ctx = serving(access.app_state(request))
    if incident_id is not None:
        await asyncio.to_thread(record.incident, ctx, incident_id)  # NotFound first
    if not STREAMS.take():
        raise Unavailable("too many live pages are open on this server; reload to see changes")

    async def mark() -> int:
        return await asyncio.to_thread(record.change_mark, ctx, incident_id)

    async def gone() -> bool:
        return live.STOPPING.is_set() or await request.is_disconnected()

    raw = request.query_params.get("since", "")
    since = int(raw) if raw.isdigit() and len(raw) <= 18 else None

    async def events() -> AsyncIterator[bytes]:
        try:
            async for chunk in live.changes(mark, gone, since=since):
                yield chunk
        finally:
            STREAMS.give_back()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/live/incidents")
@access.handled
async def incidents_live(request: Request) -> Response:
    """``changed`` whenever an incident opens or changes."""
    return await _stream(request, None)


@router.get("/live/incidents/{incident_id}")
@access.handled
async def incident_live(request: Request, incident_id: int) -> Response:
    """``changed`` whenever the incident changes."""
    return await _stream(request, incident_id)
