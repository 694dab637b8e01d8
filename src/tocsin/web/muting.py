"""The console's alerts and silences (what Alertmanager's UI does): the firing alerts grouped
by a label and filtered with matchers, each with what mutes it; "Silence this" opens the
silence form with the alert's labels as matchers; the silences, active, pending and expired;
a new silence with a preview of the firing alerts it would mute; expiring one."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from tocsin import times
from tocsin.alerts.matchers import Matcher, parse_matcher, parse_matchers
from tocsin.alerts.silences import SilenceState
from tocsin.errors import Invalid
from tocsin.service import silences
from tocsin.service.context import serving
from tocsin.web import access
from tocsin.web.render import page

router = APIRouter()

SHOWN = 500  # firing alerts on a page: narrow the filter for the rest
PREVIEW = 50  # alerts a silence's preview names
MAX_MATCHERS = 30
MAX_TEXT = 4000
MAX_COMMENT = 1000


def _matchers(text: str) -> list[Matcher]:
    """Matchers as a person writes them: ``{a="b", c=~"d"}``, or one per line."""
    text = text.strip()[:MAX_TEXT]
    if not text:
        return []
    if text.startswith("{") or "\n" not in text:
        found = parse_matchers(text)
    else:
        found = [parse_matcher(line.strip()) for line in text.splitlines() if line.strip()]
    if len(found) > MAX_MATCHERS:
        raise Invalid(f"at most {MAX_MATCHERS} matchers")
    return found


def _group_label(request: Request) -> str:
    label = request.query_params.get("group", "alertname").strip()[:100]
    return label or "alertname"


def _silence_link(labels: dict[str, str]) -> str:
    """The silence form with one equality matcher per label of the alert."""
    lines = "\n".join(str(Matcher.create(k, "=", v)) for k, v in sorted(labels.items()))
    return "/silences/new?" + urlencode({"matchers": lines})


@router.get("/alerts")
@access.handled
async def alert_list(request: Request) -> Response:
    """Firing alerts grouped by a label (``group``), filtered with matchers (``filter``)."""
    person = access.require(request, "read")
    text = request.query_params.get("filter", "")
    group = _group_label(request)
    error = ""
    try:
        matchers = _matchers(text)
    except Invalid as exc:
        matchers, error = [], exc.message
    found: list[silences.Shown] = []
    more = False
    if not error:
        ctx = serving(access.app_state(request))
        found, more = await asyncio.to_thread(silences.firing, ctx, matchers, SHOWN)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for shown in found:
        labels = dict(shown.alert.labels)
        groups[labels.get(group, "")].append(
            {
                "labels": labels,
                "annotations": dict(shown.alert.annotations),
                "starts_at": shown.alert.starts_at,
                "silenced_by": shown.silenced_by,
                "inhibited_by": shown.inhibited_by,
                "silence_link": _silence_link(labels),
            }
        )
    return page(
        "alerts.html",
        person=person,
        title="Alerts",
        filter=text,
        group=group,
        groups=sorted(groups.items()),
        count=len(found),
        more=more,
        error=error,
    )


@router.get("/silences")
@access.handled
async def silence_list(request: Request) -> Response:
    """The silences: active, pending, then expired."""
    person = access.require(request, "read")
    ctx = serving(access.app_state(request))
    now = times.to_dt(ctx.now())
    found = await asyncio.to_thread(silences.silences, ctx, [], now)
    by_state: dict[str, list[Any]] = {state.value: [] for state in SilenceState}
    for each in found:
        by_state[each.state(now).value].append(each)
    return page(
        "silences.html",
        person=person,
        title="Silences",
        by_state=by_state,
        flash=request.query_params.get("flash", "")[:200],
    )


@router.get("/silences/new")
@access.handled
async def silence_form(request: Request) -> Response:
    """The form for a new silence, its matchers given (``matchers``: from "Silence this"),
    and the firing alerts they would mute."""
    person = access.require(request, "respond")
    q = request.query_params
    editing = q.get("id", "")[:100]
    if editing:  # an existing silence: its matchers, comment and the time it has left
        ctx = serving(access.app_state(request))
        found = await asyncio.to_thread(silences.silence, ctx, editing)
        left = max(60, int(found.ends_at.timestamp() - ctx.now()))
        return await _form_page(
            request,
            person,
            "\n".join(str(m) for m in found.matchers),
            f"{left // 60}m",
            found.comment,
            "",
            silence_id=found.id,
        )
    return await _form_page(
        request,
        person,
        q.get("matchers", ""),
        q.get("duration", "2h"),
        q.get("comment", ""),
        "",
    )


async def _form_page(
    request: Request,
    person: access.Person,
    text: str,
    duration: str,
    comment: str,
    error: str,
    status: int = 200,
    silence_id: str = "",
) -> Response:
    preview: list[silences.Shown] = []
    more = False
    if text.strip() and not error:
        try:
            matchers = _matchers(text)
            ctx = serving(access.app_state(request))
            preview, more = await asyncio.to_thread(
                silences.firing, ctx, matchers, PREVIEW, "a silence's preview"
            )
        except Invalid as exc:
            error, status = exc.message, 422
    return page(
        "silence_new.html",
        status=status,
        person=person,
        title="Edit silence" if silence_id else "New silence",
        silence_id=silence_id,
        matchers=text[:MAX_TEXT],
        duration=duration[:20],
        comment=comment[:MAX_COMMENT],
        preview=[dict(p.alert.labels) for p in preview],
        more=more,
        error=error,
    )


@router.post("/silences")
@access.handled
async def silence_create(request: Request) -> Response:
    """Create the silence (from now, for its duration) as the signed-in person."""
    person, form = await access.acting(request)
    text = str(form.get("matchers") or "")
    duration = str(form.get("duration") or "").strip()
    comment = str(form.get("comment") or "").strip()
    editing = str(form.get("id") or "")[:100]
    if form.get("preview"):
        return await _form_page(request, person, text, duration, comment, "", 200, editing)
    try:
        matchers = _matchers(text)
        if not matchers:
            raise Invalid("a silence needs at least one matcher")
        seconds = times.parse_duration(duration)
        if not comment:
            raise Invalid("say why, in the comment: the next person on call reads it")
        if len(comment) > MAX_COMMENT:
            raise Invalid(f"a comment is at most {MAX_COMMENT} characters")
    except Invalid as exc:
        return await _form_page(request, person, text, duration, comment, exc.message, 422, editing)
    ctx = serving(access.app_state(request))
    now = times.to_dt(ctx.now())
    made = await asyncio.to_thread(
        silences.add_silence,
        ctx,
        editing or None,
        matchers,
        now,
        now + timedelta(seconds=seconds),
        person.user,
        comment,
    )
    done = "updated" if made == editing else "created"
    if editing and made != editing:
        done = f"created, replacing {editing}"
    return access.redirect("/silences", flash=f"Silence {made} {done}")


@router.post("/silences/{silence_id}/expire")
@access.handled
async def silence_expire(request: Request, silence_id: str) -> Response:
    await access.acting(request)
    ctx = serving(access.app_state(request))
    await asyncio.to_thread(silences.expire_silence, ctx, silence_id[:100])
    return access.redirect("/silences", flash="Silence expired")
