"""The console's postmortem: the incident's draft rendered (and downloadable as Markdown), its
review status, and its action items with a form to add one and buttons to close one."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from markdown_it import MarkdownIt
from markupsafe import Markup

from tocsin.errors import Invalid
from tocsin.incidents.postmortem import POSTMORTEM_STATUSES
from tocsin.service import postmortem, record
from tocsin.service.context import serving
from tocsin.web import access
from tocsin.web.render import page

router = APIRouter()

# the draft holds alert labels and people's words: Markdown only, its HTML shown as text,
# links only of safe schemes (markdown-it's own check)
_MD = MarkdownIt("commonmark", {"html": False, "maxNesting": 20}).enable("table")


def html_of(markdown: str) -> Markup:
    """A postmortem's Markdown as HTML, with any HTML it holds escaped."""
    return Markup(_MD.render(markdown))  # markdown-it escapes every HTML tag: html is off


@router.get("/incidents/{incident_id}/postmortem")
@access.handled
async def postmortem_page(request: Request, incident_id: int) -> Response:
    person = access.require(request, "read")
    ctx = serving(access.app_state(request))
    found = await asyncio.to_thread(record.incident, ctx, incident_id)
    text = await asyncio.to_thread(postmortem.postmortem_markdown, ctx, incident_id)
    items = await asyncio.to_thread(postmortem.action_items, ctx, incident_id, None, None)
    return page(
        "postmortem.html",
        person=person,
        title=f"#{incident_id} postmortem",
        incident=found,
        draft=html_of(text),
        items=[i.to_json(items.now) for i in items.items],
        statuses=POSTMORTEM_STATUSES,
        flash=request.query_params.get("flash", "")[:200],
    )


@router.get("/incidents/{incident_id}/postmortem.md")
@access.handled
async def postmortem_markdown(request: Request, incident_id: int) -> Response:
    access.require(request, "read")
    ctx = serving(access.app_state(request))
    text = await asyncio.to_thread(postmortem.postmortem_markdown, ctx, incident_id)
    return Response(
        text,
        media_type="text/markdown; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="incident-{incident_id}-postmortem.md"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


@router.post("/incidents/{incident_id}/postmortem/status")
@access.handled
async def postmortem_status(request: Request, incident_id: int) -> Response:
    person, form = await access.acting(request)
    ctx = serving(access.app_state(request))
    status = str(form.get("status") or "")[:32]
    await asyncio.to_thread(postmortem.set_status, ctx, incident_id, status, person.user)
    return access.redirect(f"/incidents/{incident_id}/postmortem", flash=f"Postmortem {status}")


@router.post("/incidents/{incident_id}/action-items")
@access.handled
async def action_item_add(request: Request, incident_id: int) -> Response:
    person, form = await access.acting(request)
    ctx = serving(access.app_state(request))
    title = str(form.get("title") or "").strip()
    owner = str(form.get("owner") or "").strip()
    due = str(form.get("due") or "").strip() or None
    if not title or len(title) > postmortem.MAX_TITLE_CHARS:
        raise Invalid(f"an action item needs a title of at most {postmortem.MAX_TITLE_CHARS}")
    if not owner or len(owner) > postmortem.MAX_OWNER_CHARS:
        raise Invalid(f"an action item needs an owner of at most {postmortem.MAX_OWNER_CHARS}")
    if due is not None and len(due) > postmortem.MAX_DUE_CHARS:
        raise Invalid(f"a due time is at most {postmortem.MAX_DUE_CHARS} characters")
    now = ctx.now()
    when = postmortem.due_at(due, now)
    await asyncio.to_thread(
        postmortem.add_action_item, ctx, incident_id, title, owner, person.user, when, now
    )
    return access.redirect(f"/incidents/{incident_id}/postmortem", flash="Action item added")


@router.post("/action-items/{item_id}/{status}")
@access.handled
async def action_item_close(request: Request, item_id: int, status: str) -> Response:
    person, _form = await access.acting(request)
    if status not in ("done", "cancelled", "open"):
        raise Invalid("an action item is open, done or cancelled")
    ctx = serving(access.app_state(request))
    item = await asyncio.to_thread(postmortem.change_action_item, ctx, item_id, person.user, status)
    return access.redirect(
        f"/incidents/{item.incident_id}/postmortem", flash=f"Action item {item.id}: {status}"
    )
