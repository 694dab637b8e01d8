"""Action items: the follow-ups of an incident's review, each with an owner, a due date and a
status (open | done | cancelled). Every addition and change is also on the incident's
timeline (kind ``action_item``: id, title, owner, due, change).

Each function takes an open connection inside the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from tocsin import times
from tocsin.incidents.postmortem import ACTION_STATUSES, ActionItem
from tocsin.store import repo
from tocsin.store.schema import action_items

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
) -> ActionItem:
    """A new open item (due in 7 days unless ``due_at``), noted on the incident's timeline.
    The caller checks that the incident exists."""
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
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    item = ActionItem(int(key[0]), incident_id, title, owner, due, "open", now, by)
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
    conn.execute(update(action_items).where(action_items.c.id == item_id).values(**values))
    changed = get(conn, item_id)
    assert changed is not None
    _note(conn, changed, now, ", ".join(changes), by)
    return changed
