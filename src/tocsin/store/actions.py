"""Action items: the follow-ups of an incident's review, each with an owner, a due date and a
status (open | done | cancelled). Every addition and change is also on the incident's
timeline (kind ``action_item``: id, title, owner, due, change).

Post-incident duties are action items with ``duty`` set (report, postmortem, meeting) and a
``remind_at``; ``engine/duties.py`` adds them and reminds their owners. The rest of what a
postmortem reads is here too: its status (``set_postmortem_status``), the related incidents
of its group (``related``) and who each notification reached (``recipients``).

Each function takes an open connection inside the caller's transaction.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from tocsin import times
from tocsin.incidents.postmortem import ACTION_STATUSES, ActionItem
from tocsin.store import outbox, repo
from tocsin.store.kinds import DUTIES
from tocsin.store.schema import action_items, incidents, notifications

DEFAULT_DUE_S = 7 * 86_400.0
CLOSED = ("done", "cancelled")


def _item(row: Any) -> ActionItem:
    return ActionItem(
        id=int(row.id),
        incident_id=int(row.incident_id),
        title=row.title,
        owner=row.owner,
        due_at=float(row.due_at),
        status=row.status,
        created_at=float(row.created_at),
        created_by=row.created_by,
        closed_at=float(row.closed_at) if row.closed_at is not None else None,
        duty=row.duty,
        remind_at=float(row.remind_at) if row.remind_at is not None else None,
    )


def _note(conn: Connection, item: ActionItem, now: float, change: str, by: str) -> None:
    repo.add_timeline(
        conn,
        item.incident_id,
        times.to_dt(now),
        "action_item",
        {
            "id": item.id,
            "title": item.title,
            "owner": item.owner,
            "due": item.due_at,
            "status": item.status,
            "change": change,
            "by": by,
        },
    )


def add(
    conn: Connection,
    incident_id: int,
    title: str,
    owner: str,
    now: float,
    by: str,
    due_at: float | None = None,
    *,
    duty: str | None = None,
    remind_at: float | None = None,
) -> ActionItem:
    """A new open item (due in 7 days unless ``due_at``), noted on the incident's timeline.
    ``duty``: a post-incident duty (its owner reminded at ``remind_at``, by the incident's
    due work ``duties``). The caller checks that the incident exists."""
    due = due_at if due_at is not None else now + DEFAULT_DUE_S
    result = conn.execute(
        insert(action_items).values(
            incident_id=incident_id,
            title=title,
            owner=owner,
            due_at=due,
            status="open",
            created_at=now,
            created_by=by,
            closed_at=None,
            duty=duty,
            remind_at=remind_at,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    item = ActionItem(
        int(key[0]), incident_id, title, owner, due, "open", now, by, None, duty, remind_at
    )
    _note(conn, item, now, "added", by)
    return item


def get(conn: Connection, item_id: int) -> ActionItem | None:
    row = conn.execute(select(action_items).where(action_items.c.id == item_id)).first()
    return _item(row) if row is not None else None


def list_items(
    conn: Connection,
    *,
    incident_id: int | None = None,
    status: str | None = None,
    owner: str | None = None,
    overdue_at: float | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[ActionItem], int]:
    """Items matching every filter given (``overdue_at``: open and due before that time), by
    due date then id, and how many match in all."""
    query = select(action_items)
    count = select(func.count()).select_from(action_items)
    conditions = []
    if incident_id is not None:
        conditions.append(action_items.c.incident_id == incident_id)
    if status is not None:
        conditions.append(action_items.c.status == status)
    if owner is not None:
        conditions.append(action_items.c.owner == owner)
    if overdue_at is not None:
        conditions.append(action_items.c.status == "open")
        conditions.append(action_items.c.due_at < overdue_at)
    for condition in conditions:
        query = query.where(condition)
        count = count.where(condition)
    query = query.order_by(action_items.c.due_at, action_items.c.id).limit(limit).offset(offset)
    rows = [_item(r) for r in conn.execute(query)]
    return rows, int(conn.execute(count).scalar_one())


def for_incident(conn: Connection, incident_id: int) -> list[ActionItem]:
    query = (
        select(action_items)
        .where(action_items.c.incident_id == incident_id)
        .order_by(action_items.c.id)
    )
    return [_item(r) for r in conn.execute(query)]


def change(
    conn: Connection,
    item_id: int,
    now: float,
    by: str,
    *,
    status: str | None = None,
    owner: str | None = None,
    due_at: float | None = None,
    title: str | None = None,
) -> ActionItem | None:
    """Change an item (None: no such item). ``closed_at`` is set when it becomes done or
    cancelled and cleared when it is opened again. A real change is noted on the timeline."""
    if status is not None and status not in ACTION_STATUSES:
        raise ValueError(f"status must be one of {', '.join(ACTION_STATUSES)}")
    item = get(conn, item_id)
    if item is None:
        return None
    values: dict[str, Any] = {}
    changes: list[str] = []
    if status is not None and status != item.status:
        values["status"] = status
        values["closed_at"] = now if status in CLOSED else None
        changes.append(status if status in CLOSED else "reopened")
    for name, new, old in (
        ("owner", owner, item.owner),
        ("due_at", due_at, item.due_at),
        ("title", title, item.title),
    ):
        if new is not None and new != old:
            values[name] = new
            changes.append(f"{name.removesuffix('_at')} changed")
    if not values:
        return item
    if "due_at" in values and item.remind_at is not None:
        # a duty moved: its reminder moves with it, and the incident's due work looks again
        values["remind_at"] = item.remind_at + (values["due_at"] - item.due_at)
        outbox.schedule(conn, DUTIES, [item.incident_id], now)
    conn.execute(update(action_items).where(action_items.c.id == item_id).values(**values))
    changed = get(conn, item_id)
    assert changed is not None
    _note(conn, changed, now, ", ".join(changes), by)
    return changed


def duties_of(conn: Connection, incident_id: int) -> list[ActionItem]:
    """The incident's post-incident duties (items with ``duty`` set), by id."""
    return [i for i in for_incident(conn, incident_id) if i.duty is not None]


def reminded(conn: Connection, item_id: int) -> None:
    """A duty's owner has been reminded: no second reminder."""
    conn.execute(update(action_items).where(action_items.c.id == item_id).values(remind_at=None))


def set_postmortem_status(
    conn: Connection, incident_id: int, status: str, now: float, by: str
) -> str:
    """The incident's postmortem moves to ``status`` (draft | in-review | published),
    noted on its timeline when it changes; the status it had. The caller checks that the
    incident exists and the status is one of ``POSTMORTEM_STATUSES``."""
    row = conn.execute(
        select(incidents.c.postmortem_status).where(incidents.c.id == incident_id)
    ).first()
    before = (row.postmortem_status if row is not None else None) or "draft"
    if before != status:
        conn.execute(
            update(incidents)
            .where(incidents.c.id == incident_id)
            .values(postmortem_status=None if status == "draft" else status)
        )
        repo.add_timeline(
            conn,
            incident_id,
            times.to_dt(now),
            "postmortem_status",
            {"status": status, "from": before, "by": by},
        )
    return before


def related(
    conn: Connection, incident_id: int, group_key: str, since: float, until: float, limit: int
) -> list[dict[str, Any]]:
    """Other incidents of the same group (``group_key``) opened in ``[since, until]``,
    newest first: what a postmortem lists as related."""
    query = (
        select(
            incidents.c.id,
            incidents.c.title,
            incidents.c.severity,
            incidents.c.status,
            incidents.c.opened_at,
            incidents.c.group_labels,
        )
        .where(
            incidents.c.group_key == group_key,
            incidents.c.id != incident_id,
            incidents.c.opened_at >= since,
            incidents.c.opened_at <= until,
        )
        .order_by(incidents.c.opened_at.desc(), incidents.c.id.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def recipients(conn: Connection, incident_id: int) -> dict[int, str]:
    """Who each of the incident's notifications was for (notification id -> the person's
    name), for the messages that named one."""
    query = select(notifications.c.id, notifications.c.message).where(
        notifications.c.incident_id == incident_id
    )
    out: dict[int, str] = {}
    for row in conn.execute(query):
        try:
            message = json.loads(row.message)
        except ValueError:
            continue
        recipient = message.get("recipient") if isinstance(message, dict) else None
        if isinstance(recipient, dict) and recipient.get("name"):
            out[int(row.id)] = str(recipient["name"])
    return out
