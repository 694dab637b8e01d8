"""Bulk statements on the driver's own cursor, inside the caller's SQLAlchemy transaction.

The intake writes several rows per alert. Through SQLAlchemy's compiled statements each row
costs tens of microseconds of parameter processing; on the DB-API cursor, with statements
built once per shape, it costs a few. Only fixed table and column names from this package go
into the SQL text; every value is a bound parameter.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Boolean, Connection, Float, Integer

from tocsin.errors import Unavailable
from tocsin.store.schema import metadata

# the writes a batch holds back (``store/pending.py``), on the connection's ``info``
PENDING = "tocsin_pending"
# SQLite allows 32,766 bound parameters per statement (3.32+), PostgreSQL 65,535.
MAX_PARAMS = 30_000


def _marker(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _cursor(conn: Connection, sql: str) -> Any:
    """The driver's cursor, for ``sql``: the writes held back that it could see go first."""
    pending = conn.info.get(PENDING)
    if pending is not None:
        pending.before(conn, sql)
    return conn.connection.driver_connection.cursor()  # type: ignore[union-attr]


@lru_cache(maxsize=256)
def _values(marker: str, width: int, rows: int) -> str:
    one = "(" + ",".join([marker] * width) + ")"
    return ",".join([one] * rows)


def _chunks(rows: Sequence[Sequence[Any]], width: int) -> Iterator[Sequence[Sequence[Any]]]:
    step = max(1, MAX_PARAMS // max(1, width))
    for start in range(0, len(rows), step):
        yield rows[start : start + step]


def insert(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    returning: Sequence[str] = (),
    on_conflict: str = "",
) -> list[tuple[Any, ...]]:
    """Multi-row ``INSERT ... VALUES (...), (...)``; the ``returning`` columns of the new rows,
    in no particular order (return a key with them). ``on_conflict`` is an ``ON CONFLICT``
    clause (the same in SQLite and PostgreSQL), such as ``"(kind, ref) DO NOTHING"``.

    On PostgreSQL the rows go as one array per column (``SELECT * FROM unnest(...)``): a
    statement of a few parameters whatever the rows, where psycopg would parse a text of a
    thousand markers on every call (a third of the writer's time in a storm of new groups)."""
    if not rows:
        return []
    marker = _marker(conn)
    head = f"INSERT INTO {table} ({','.join(columns)}) VALUES "
    tail = f" ON CONFLICT {on_conflict}" if on_conflict else ""
    tail += f" RETURNING {','.join(returning)}" if returning else ""
    out: list[tuple[Any, ...]] = []
    cursor = _cursor(conn, head)
    if conn.dialect.name == "postgresql":
        arrays = _array_markers(table, tuple(columns))
        sql = f"INSERT INTO {table} ({','.join(columns)}) SELECT * FROM unnest({arrays}){tail}"
        try:
            for chunk in _chunks(rows, 1):
                _unprepared(conn, cursor, sql, _arrays(table, tuple(columns), chunk))
                if returning:
                    out.extend(tuple(r) for r in cursor.fetchall())
        finally:
            cursor.close()
        return out
    try:
        for chunk in _chunks(rows, len(columns)):
            flat = [value for row in chunk for value in row]
            _unprepared(conn, cursor, head + _values(marker, len(columns), len(chunk)) + tail, flat)
            if returning:
                out.extend(tuple(r) for r in cursor.fetchall())
    finally:
        cursor.close()
    return out


@lru_cache(maxsize=64)
def _array_kinds(table: str, columns: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    """Each column's PostgreSQL array element type, and what makes a value of it (a list of
    ints and floats is refused as mixed)."""
    found: list[tuple[str, Any]] = []
    for name in columns:
        kind = metadata.tables[table].c[name].type
        if isinstance(kind, Boolean):
            found.append(("bool", bool))
        elif isinstance(kind, Integer):
            found.append(("int8", int))
        elif isinstance(kind, Float):
            found.append(("float8", float))
        else:
            found.append(("text", str))
    return tuple(found)


def _array_markers(table: str, columns: tuple[str, ...]) -> str:
    """One binary array parameter per column, cast to its type (binary: no quoting)."""
    return ",".join(f"%b::{kind}[]" for kind, _ in _array_kinds(table, columns))


def _arrays(table: str, columns: tuple[str, ...], rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """The rows as one list per column, each value made of its column's type."""
    return [
        [v if v is None else cast(v) for v in values]
        for (_, cast), values in zip(
            _array_kinds(table, columns), zip(*rows, strict=True), strict=True
        )
    ]


def _unprepared(conn: Connection, cursor: Any, sql: str, params: list[Any]) -> None:
    """Run a statement whose text varies with its data (a multi-row VALUES, an IN list) without
    letting psycopg prepare it: PostgreSQL's generic plans for such IN lists scanned whole
    tables, and their many shapes would crowd the prepared statements that do help (the fixed
    ones of every flush and page). SQLite's cursor has no such switch, nor need for one.
    Asked of the dialect, not of psycopg's cursor class: importing psycopg to ask would cost a
    process on SQLite about 17 MB."""
    if conn.dialect.name == "postgresql":  # psycopg, the one PostgreSQL driver (db.py)
        cursor.execute(sql, params, prepare=False)
    else:
        cursor.execute(sql, params)


def update(
    conn: Connection, table: str, columns: Sequence[str], key: str, rows: Sequence[Sequence[Any]]
) -> None:
    """``UPDATE table SET columns... WHERE key = ?`` for each row (its values, then the key)."""
    if not rows:
        return
    marker = _marker(conn)
    sets = ",".join(f"{c}={marker}" for c in columns)
    sql = f"UPDATE {table} SET {sets} WHERE {key}={marker}"
    cursor = _cursor(conn, sql)
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


@dataclass(frozen=True)
class Rows:
    """Writes of rows found by their ``keys`` (columns compared with each row's values):
    ``UPDATE table SET sets WHERE keys``, or with ``delete`` a ``DELETE``. Each row of
    parameters holds the values of ``sets``, then those of ``keys``."""

    table: str
    sets: tuple[str, ...]
    keys: tuple[str, ...]
    delete: bool = False

    def sql(self) -> str:
        """The statement for one row (``{p}`` where each parameter goes)."""
        where = " AND ".join(f"{k} = {{p}}" for k in self.keys)
        if self.delete:
            return f"DELETE FROM {self.table} WHERE {where}"
        sets = ", ".join(f"{c} = {{p}}" for c in self.sets)
        return f"UPDATE {self.table} SET {sets} WHERE {where}"


def write_rows(conn: Connection, shape: Rows, rows: Sequence[Sequence[Any]]) -> None:
    """``shape``'s write for every row of parameters. On SQLite an ``executemany``; on
    PostgreSQL one statement for them all, the rows as binary arrays (``UPDATE ... FROM
    unnest(...)``): an ``executemany`` there is a statement per row for the server to run.
    Two rows with the same keys: the later wins, as it would one after the other."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        executemany(conn, shape.sql(), rows)
        return
    width = len(shape.sets)
    last = {tuple(row[width:]): row for row in rows}  # UPDATE ... FROM takes one per row
    columns = (*shape.sets, *shape.keys)
    arrays = _array_markers(shape.table, columns)
    names = ",".join([*(f"s_{c}" for c in shape.sets), *(f"k_{k}" for k in shape.keys)])
    source = f"unnest({arrays}) AS v({names})"
    where = " AND ".join(f"{shape.table}.{k} = v.k_{k}" for k in shape.keys)
    if shape.delete:
        sql = f"DELETE FROM {shape.table} USING {source} WHERE {where}"
    else:
        sets = ", ".join(f"{c} = v.s_{c}" for c in shape.sets)
        sql = f"UPDATE {shape.table} SET {sets} FROM {source} WHERE {where}"
    cursor = _cursor(conn, sql)
    try:
        _unprepared(conn, cursor, sql, _arrays(shape.table, columns, list(last.values())))
    finally:
        cursor.close()


def executemany(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run one statement (``{p}`` where each parameter goes) for each row of parameters."""
    if not rows:
        return
    cursor = _cursor(conn, sql)
    try:
        cursor.executemany(sql.format(p=_marker(conn)), [list(r) for r in rows])
    finally:
        cursor.close()


def select_in(
    conn: Connection,
    sql: str,
    values: Sequence[Any],
    extra: Sequence[Any] = (),
    rows: bool = False,
) -> list[tuple[Any, ...]]:
    """Run ``sql`` (with one ``{in_}`` where the list goes, and ``{p}`` for each extra parameter
    after it) for chunks of ``values``; all rows. With ``rows``, the list is of one-value rows,
    ``(?),(?)``, for a ``(VALUES {in_}) AS f`` table of text (its column ``column1``).

    On PostgreSQL the list goes as one array (``= ANY(%b)``, ``unnest``, in binary): the text stays
    the same whatever the list, and psycopg parses it once."""
    if not values:
        return []
    marker = f"({_marker(conn)})" if rows else _marker(conn)
    out: list[tuple[Any, ...]] = []
    cursor = _cursor(conn, sql)
    if conn.dialect.name == "postgresql":
        array = sql.replace("IN ({in_})", "= ANY(%b)").replace(
            "(VALUES {in_})", "(SELECT unnest(%b::text[]) AS column1)"
        )
        text = array.format(p="%s")
        try:
            for chunk in chunked(values, 10_000):
                _unprepared(conn, cursor, text, [chunk, *extra])
                out.extend(tuple(r) for r in cursor.fetchall())
        finally:
            cursor.close()
        return out
    try:
        for chunk in chunked(values):
            text = sql.format(in_=",".join([marker] * len(chunk)), p=_marker(conn))
            _unprepared(conn, cursor, text, [*chunk, *extra])
            out.extend(tuple(r) for r in cursor.fetchall())
    finally:
        cursor.close()
    return out


@lru_cache(maxsize=64)
def _record(names: tuple[str, ...]) -> Any:
    """A row type: fields by name (``row.id``) and ``row._mapping``, as SQLAlchemy's rows."""
    base = namedtuple("Record", names)  # type: ignore[misc]
    return type("Record", (base,), {"__slots__": (), "_mapping": property(base._asdict)})


def record(names: Sequence[str], values: Sequence[Any]) -> Any:
    """A row as ``fetch`` returns them, from its column names and values."""
    return _record(tuple(names))(*values)


def fetch(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """Run ``sql`` (``{p}`` where each parameter goes) and return its rows as named tuples,
    read like SQLAlchemy's rows (``row.id``)."""
    cursor = _cursor(conn, sql)
    try:
        cursor.execute(sql.format(p=_marker(conn)), list(params))
        if cursor.description is None:
            return []
        record = _record(tuple(d[0] for d in cursor.description))
        return [record(*r) for r in cursor.fetchall()]
    finally:
        cursor.close()


def chunked(values: Sequence[Any], size: int = 1000) -> Iterator[list[Any]]:
    """``values`` in lists of at most ``size``, for ``IN (...)`` lists within the drivers'
    parameter limits."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def markers(conn: Connection, count: int) -> str:
    """``count`` comma-separated parameter markers, for an ``IN (...)`` list."""
    return ",".join([_marker(conn)] * count)


def execute(conn: Connection, sql: str, params: Sequence[Any] = ()) -> int:
    """Run one statement (``{p}`` where each parameter goes); the rows it changed."""
    cursor = _cursor(conn, sql)
    try:
        cursor.execute(sql.format(p=_marker(conn)), list(params))
        return int(cursor.rowcount)
    finally:
        cursor.close()


@contextmanager
def savepoint(conn: Connection, name: str = "tocsin_part") -> Iterator[None]:
    """A savepoint on the driver's cursor (SQLite and PostgreSQL spell it alike): what runs
    inside is undone if it raises, and the rest of the transaction stands. SQLAlchemy's
    ``begin_nested`` does the same for about ten times the cost. Writes held back
    (``store/pending``) from before it go out first; those made inside it are dropped with it."""
    waiting = conn.info.get(PENDING)
    if waiting is not None:
        waiting.flush(conn)
    execute(conn, f"SAVEPOINT {name}")
    try:
        yield
    except BaseException as failure:
        if waiting is not None:
            waiting.drop()
        try:
            execute(conn, f"ROLLBACK TO SAVEPOINT {name}")
            execute(conn, f"RELEASE SAVEPOINT {name}")
        except Exception as exc:
            # the database rolled the whole transaction back (SQLite does on a full disk, an
            # I/O error, out of memory): what came before the savepoint is gone too
            raise TransactionLost(f"the transaction was rolled back: {failure}") from exc
        raise
    execute(conn, f"RELEASE SAVEPOINT {name}")


class TransactionLost(Unavailable):
    """The database ended the transaction on its own: nothing in it can be committed."""


def ensure_open(conn: Connection) -> None:
    """Raise TransactionLost if the database has ended the transaction on its own (SQLite
    does after some errors, and a commit then succeeds with nothing in it)."""
    driver = conn.connection.driver_connection
    if conn.dialect.name == "sqlite" and not driver.in_transaction:  # type: ignore[union-attr]
        raise TransactionLost("the database rolled the transaction back")
