"""After the incident: the postmortem draft (Markdown, from the timeline, the figures, the
runbook and the action items; the team's template when the configuration has one), its
status (draft, in-review, published), and the action items (list, add, change), among them
the post-incident duties a resolution adds (``engine/duties.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tocsin.engine import messages
from tocsin.errors import Invalid, NotFound
from tocsin.incidents.postmortem import (
    MAX_RELATED,
    POSTMORTEM_STATUSES,
    RELATED_DAYS,
    ActionItem,
    build_context,
    render_postmortem,
)
from tocsin.service.context import Context
from tocsin.service.record import incident_row, sections_of
from tocsin.store import actions, repo
from tocsin.store.db import begin_write
from tocsin.times import parse_when

# how long an action item's title, owner and due time may be, at every door
MAX_TITLE_CHARS = 500
MAX_OWNER_CHARS = 200
MAX_DUE_CHARS = 64


def postmortem_markdown(ctx: Context, incident_id: int) -> str:
    """The incident's postmortem draft in Markdown."""
    now = ctx.now()
    with ctx.db.connect() as conn:
        row = incident_row(conn, incident_id)
        members = repo.incident_members(conn, incident_id)
        opened = float(row.opened_at)
        context = build_context(
            dict(row._mapping),
            [m.alert for m in members],
            repo.incident_events(conn, incident_id),
            actions.for_incident(conn, incident_id),
            now,
            runbooks=sections_of(ctx, [m.labels.get("alertname", "") for m in members], row),
            related=actions.related(
                conn, row.id, row.group_key, opened - RELATED_DAYS * 86_400, opened, MAX_RELATED
            ),
            people=actions.recipients(conn, incident_id),
            url=messages.incident_url(ctx.pager(), incident_id),
        )
    return render_postmortem(context, ctx.config.postmortem)


def set_status(ctx: Context, incident_id: int, status: str, by: str) -> dict[str, str]:
    """Move the incident's postmortem to ``status`` (draft, in-review, published; on the
    timeline). Publishing it closes its open ``postmortem`` duty. Returns ``{status, was}``."""
    if status not in POSTMORTEM_STATUSES:
        raise Invalid(f"status must be one of {', '.join(POSTMORTEM_STATUSES)}", field="status")
    now = ctx.now()
    with begin_write(ctx.db) as conn:
        incident_row(conn, incident_id, lock=True)
        was = actions.set_postmortem_status(conn, incident_id, status, now, by)
        if status == "published":
            for item in actions.duties_of(conn, incident_id):
                if item.duty == "postmortem" and item.status == "open":
                    actions.change(conn, item.id, now, by, status="done")
    return {"status": status, "was": was}


@dataclass(frozen=True)
class ActionItems:
    """One page of action items, the number of all that match, and the time they were read
    at (what ``overdue`` is measured against)."""

    items: list[ActionItem]
    total: int
    now: float

    def to_json(self) -> list[dict[str, Any]]:
        return [i.to_json(self.now) for i in self.items]


def action_items(
    ctx: Context,
    incident_id: int | None = None,
    status: str | None = None,
    owner: str | None = None,
    overdue: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> ActionItems:
    """Action items, soonest due first: filter by incident, status, owner, overdue."""
    now = ctx.now()
    with ctx.db.connect() as conn:
        items, total = actions.list_items(
            conn,
            incident_id=incident_id,
            status=status,
            owner=owner,
            overdue_at=now if overdue else None,
            limit=limit,
            offset=offset,
        )
    return ActionItems(items, total, now)


def due_at(text: str | None, now: float) -> float | None:
    """When an item is due, as a person wrote it (``7d``, ISO 8601); None when not given."""
    if text is None:
        return None
    try:
        return parse_when(text, now)
    except ValueError as exc:
        raise Invalid(str(exc), field="due") from None


def add_action_item(
    ctx: Context,
    incident_id: int,
    title: str,
    owner: str,
    by: str,
    due_at: float | None = None,
    now: float | None = None,
) -> ActionItem:
    """A new action item on the incident (due in 7 days unless ``due_at``); on its
    timeline too. ``now``: the moment the caller read the due time against."""
    with begin_write(ctx.db) as conn:
        incident_row(conn, incident_id)
        at = ctx.now() if now is None else now
        return actions.add(conn, incident_id, title, owner, at, by, due_at)


def change_action_item(
    ctx: Context,
    item_id: int,
    by: str,
    status: str | None = None,
    owner: str | None = None,
    due_at: float | None = None,
    title: str | None = None,
    now: float | None = None,
) -> ActionItem:
    """Change an item's status, owner, due time or title; done and cancelled close it."""
    item = None
    if repo.is_row_id(item_id):
        at = ctx.now() if now is None else now
        with begin_write(ctx.db) as conn:
            item = actions.change(
                conn, item_id, at, by, status=status, owner=owner, due_at=due_at, title=title
            )
    if item is None:
        raise NotFound(f"no action item {item_id}")
    return item
