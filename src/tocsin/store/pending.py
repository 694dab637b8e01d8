"""Writes a batch of due work holds back until it needs them, then sends together.

A storm's flushes come a hundred to a transaction (the engine's batch, the flush at intake),
and each wrote its rows with a statement of its own: four timeline events, three updates of
its incident, three of its alerts' states, its due work, its storm's count. About sixteen
statements per incident, each a round trip (PostgreSQL) or a pass through the driver
(SQLite): 1,630 for 100 new incidents held in a storm (issue 18's ``per-alert`` shape).

Inside ``deferred(conn)`` those writes wait in a ``Pending`` on the connection and go out
together, a few statements for the whole batch:

- timeline events, in order, as one multi-row insert;
- updates of an incident, merged (the later value of a column wins, as it would have), one
  ``executemany`` per set of columns;
- other row writes (``write``: the alerts' states, due work, a storm's count), one
  statement per shape of write (``bulk.Rows``) where each row's own order of writes is
  kept.

They go out at the end of the scope, and before any statement that touches a table with
writes waiting (``bulk`` asks, by the table names in its text; a statement through
SQLAlchemy sends them all first): nothing in the transaction ever reads a row that a write
waiting would have changed. What the batch reads of a row it also writes is kept here
(``rows``: incidents read locked, with the waiting updates applied; ``cache``: what a module
keeps of a table, such as a storm's count), and forgotten when any other statement writes
that table. A scope that raises drops what waits: its transaction (or savepoint) is rolled
back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, event

from tocsin.store import bulk

Shape = TypeVar("Shape", bound=Hashable)
PENDING = bulk.PENDING
# the tables whose writes wait, and which these caches read (the names in statements' text)
_TABLES = re.compile(r"\b(incidents|timeline|incident_alerts|storms|due_work)\b")
_WRITE = re.compile(r"\s*(UPDATE|INSERT|DELETE)\b", re.IGNORECASE)
_TIMELINE_COLUMNS = ("incident_id", "at", "kind", "detail")


@dataclass
class Pending:
    """The writes waiting in one transaction, and what it keeps of rows it wrote."""

    timeline: list[tuple[Any, ...]] = field(default_factory=list)
    incidents: dict[int, dict[str, Any]] = field(default_factory=dict)
    # (the write's shape, parameters, the row it writes); the index of a keyed one by its key
    statements: list[tuple[bulk.Rows, tuple[Any, ...], Hashable]] = field(default_factory=list)
    keyed: dict[Hashable, int] = field(default_factory=dict)
    rows: dict[int, Any] = field(default_factory=dict)  # incidents, locked, as this batch has them
    caches: dict[str, dict[str, dict[Any, Any]]] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)  # the tables with writes waiting
    flushing: bool = False

    def event(self, row: tuple[Any, ...]) -> None:
        """A timeline event (``incident_id, at, kind, detail``), written with the others."""
        self.timeline.append(row)
        self.waiting.add("timeline")

    def update(self, incident_id: int, values: dict[str, Any]) -> None:
        """An update of the incident, merged with the batch's others of it; the row kept
        (``rows``) shows it at once."""
        self.incidents.setdefault(incident_id, {}).update(values)
        self.waiting.add("incidents")
        kept = self.rows.get(incident_id)
        if kept is not None:
            self.rows[incident_id] = kept._replace(**values)

    def empty(self) -> bool:
        return not self.waiting

    def drop(self) -> None:
        """What waits is undone (its savepoint rolled back), and so is what was kept."""
        self.timeline, self.incidents, self.statements, self.keyed = [], {}, [], {}
        self.waiting = set()
        self.rows.clear()
        self.caches.clear()

    def before(self, conn: Connection, sql: str | None) -> None:
        """Before a statement runs on the connection (``None``: one whose text is not known,
        run through SQLAlchemy): the writes it could see go out first, and what is kept of a
        table it writes is forgotten."""
        if self.flushing:
            return
        if sql is None:
            self.flush(conn)
            return
        touched = set(_TABLES.findall(sql))
        if not touched:
            return
        if touched & self.waiting:
            self.flush(conn)
        if _WRITE.match(sql):
            for table in touched:
                self.forget(table)

    def forget(self, table: str) -> None:
        """Another statement wrote ``table``: nothing kept of it holds any more."""
        self.caches.pop(table, None)
        if table == "incidents":
            self.rows.clear()

    def cache(self, table: str, name: str) -> dict[Any, Any]:
        """What a module keeps of ``table`` in this transaction under ``name``: valid until a
        statement other than this batch's waiting writes changes the table."""
        return self.caches.setdefault(table, {}).setdefault(name, {})

    def flush(self, conn: Connection) -> None:
        """Send every write waiting, a few statements in all."""
        if self.empty():
            return
        timeline, self.timeline = self.timeline, []
        incidents, self.incidents = self.incidents, {}
        statements, self.statements, self.keyed = self.statements, [], {}
        self.waiting = set()
        self.flushing = True
        try:
            with _pipelined(conn):  # none of them is read back: sent without waiting
                by_columns: dict[tuple[str, ...], list[list[Any]]] = {}
                for incident_id, values in incidents.items():
                    names = tuple(sorted(values))
                    by_columns.setdefault(names, []).append(
                        [*(values[n] for n in names), incident_id]
                    )
                for names, params in by_columns.items():
                    bulk.write_rows(conn, bulk.Rows("incidents", names, ("id",)), params)
                for shape, params_list in in_groups(statements):
                    bulk.write_rows(conn, shape, params_list)
                if timeline:
                    bulk.insert(conn, "timeline", _TIMELINE_COLUMNS, timeline)
        finally:
            self.flushing = False


def _pipelined(conn: Connection) -> AbstractContextManager[Any]:
    """On PostgreSQL, psycopg's pipeline mode: the writes go one after the other without
    waiting for each answer (the server runs one while the next is built), and an error
    is raised when the block ends. SQLite runs in the process: nothing to wait for."""
    if conn.dialect.name != "postgresql":
        return nullcontext()
    pipeline: AbstractContextManager[Any] = conn.connection.driver_connection.pipeline()  # type: ignore[union-attr]
    return pipeline


def in_groups(
    statements: Sequence[tuple[Shape, tuple[Any, ...], Hashable]],
) -> list[tuple[Shape, list[tuple[Any, ...]]]]:
    """The writes as one group per shape, in the order each shape first came, where that
    keeps every row's own writes in their order; else one by one, as they came. (Writes of
    different rows commute; two of one row must not swap.)"""
    order: dict[Shape, int] = {}
    for sql, _, _ in statements:
        order.setdefault(sql, len(order))
    last: dict[Hashable, int] = {}
    for sql, _, row in statements:
        if order[sql] < last.get(row, -1):
            return [(sql, [params]) for sql, params, _ in statements]
        last[row] = order[sql]
    groups: dict[Shape, list[tuple[Any, ...]]] = {sql: [] for sql in order}
    for sql, params, _ in statements:
        groups[sql].append(params)
    return list(groups.items())


# the innermost ``deferred`` scope of this thread (or task) and its connection: asked for by
# every write and read of a batch, a few times per incident, so kept where asking is cheap
# (``conn.info`` is three properties deep); ``conn.info`` holds it too, for the listener
_CURRENT: ContextVar[tuple[Connection, Pending] | None] = ContextVar("tocsin_pending", default=None)


def of(conn: Connection) -> Pending | None:
    """The connection's waiting writes, inside ``deferred``; None outside."""
    current = _CURRENT.get()
    if current is not None and current[0] is conn:
        return current[1]
    found: Pending | None = conn.info.get(PENDING)
    return found


@contextmanager
def deferred(conn: Connection) -> Iterator[Pending]:
    """Hold this scope's row writes back until a statement needs them or the scope ends (a
    scope inside another is part of it). What waits when it raises is dropped: the caller's
    transaction or savepoint rolls back."""
    found = of(conn)
    if found is not None:
        yield found
        return
    pending = conn.info[PENDING] = Pending()
    token = _CURRENT.set((conn, pending))
    try:
        yield pending
        pending.flush(conn)
    finally:
        _CURRENT.reset(token)
        conn.info.pop(PENDING, None)


def write(
    conn: Connection,
    shape: bulk.Rows,
    rows: Sequence[Sequence[Any]],
    row: Hashable,
    key: Hashable = None,
) -> None:
    """``shape``'s write of these rows of parameters (``bulk.Rows``): held back inside
    ``deferred`` (``row`` names the row or rows they write, for the order; with ``key``, a
    write takes the place of an earlier one with the same key: a later, absolute value of
    the same thing), else now."""
    pending = of(conn)
    if pending is None:
        bulk.write_rows(conn, shape, rows)
        return
    for params in rows:
        entry = (shape, tuple(params), row)
        if key is not None and key in pending.keyed:
            pending.statements[pending.keyed[key]] = entry
            continue
        if key is not None:
            pending.keyed[key] = len(pending.statements)
        pending.statements.append(entry)
    if rows:
        pending.waiting.add(shape.table)


def _through_sqlalchemy(conn: Connection, *_args: Any, **_kwargs: Any) -> None:
    """A statement through SQLAlchemy (its text is not read): everything waiting goes out
    first, and a write of a table forgets what is kept of it."""
    pending = conn.info.get(PENDING) if not conn.closed else None
    if pending is None or pending.flushing:
        return
    pending.flush(conn)
    statement = _args[0] if _args else None
    text = statement if isinstance(statement, str) else getattr(statement, "text", None)
    if isinstance(text, str):  # text: its own words say what it writes
        pending.before(conn, text)
        return
    name = getattr(getattr(statement, "table", None), "name", None)
    if isinstance(name, str):  # an INSERT, UPDATE or DELETE of a table
        pending.forget(name)


_LISTENER: Callable[..., None] = _through_sqlalchemy
if not event.contains(Engine, "before_execute", _LISTENER):
    event.listen(Engine, "before_execute", _LISTENER)
