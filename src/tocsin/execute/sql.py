"""The SQL runner: one statement on a database (PostgreSQL or SQLite), its rows as a text
table; read-only where the command's risk is ``read``.

The engine is made once from the ``dsn`` secret (a pool of ``concurrency`` connections, each
checked before use). A run is one statement (``runbooks/sqltext.one_statement``: a second
one after a ``;`` is refused before anything is sent) with the request's ``params`` bound
(``:name``, read where the database's grammar has a parameter: never inside a constant), in
a transaction of its own:

- PostgreSQL: ``SET TRANSACTION READ ONLY`` for a read, ``SET LOCAL statement_timeout`` to
  the runner's timeout, ``SET LOCAL standard_conforming_strings = on`` (the text was read
  with it on);
- SQLite: ``PRAGMA query_only`` on for a read and an authorizer that allows reading only
  (``SELECT``, reading tables, functions, the pragmas that describe the schema), a progress
  handler that interrupts the statement at the timeout.

A read is always rolled back; a change (``read_only`` False) is committed. At most
``max_rows`` rows are fetched and shown, with the column names as the header. What the
database refuses (``cannot execute UPDATE in a read-only transaction``) is a failed run with
its message; a statement stopped at the timeout is a ``timeout``.

Read-only stops writes to the database, not every side effect a function may have
(``pg_terminate_backend``): the database user's rights are the real bound. Give the runner a
user that may only read what a runbook needs.
"""

from __future__ import annotations

import math
import re
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from tocsin.config.models import SqlRunnerConfig
from tocsin.errors import Invalid
from tocsin.execute.base import Request, Result, RunnerConfigError, Status
from tocsin.execute.common import BaseRunner, cap_text, error_line, secret, table
from tocsin.notify.base import SecretResolver, resolve_secret
from tocsin.runbooks.sqltext import one_statement
from tocsin.templating import printable

# a bound parameter in PostgreSQL's code (``:name``; not ``::`` casts, not ``[1:n]`` slices)
_BIND = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")

# SQLite's authorizer action codes that a read may use, and the pragmas that only describe
_SQLITE_READ = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION}
_SQLITE_RECURSIVE = getattr(sqlite3, "SQLITE_RECURSIVE", 33)
_SQLITE_PRAGMAS_OF = frozenset(  # with an argument that names a table or an index
    "table_info table_xinfo index_list index_info index_xinfo foreign_key_list "
    "foreign_key_check integrity_check quick_check table_list".split()
)
_SQLITE_PRAGMAS = frozenset(  # asked without a value
    "database_list compile_options page_count page_size freelist_count journal_mode "
    "user_version schema_version encoding application_id function_list pragma_list "
    "collation_list data_version".split()
)


def _sqlite_read_only(
    action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None
) -> int:
    if action in _SQLITE_READ or action == _SQLITE_RECURSIVE:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and arg1 is not None:
        name = arg1.lower()
        if name in _SQLITE_PRAGMAS_OF or (name in _SQLITE_PRAGMAS and arg2 is None):
            return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _url(dsn: str) -> str:
    """``postgresql://`` means psycopg (version 3), the driver tocsin has."""
    if dsn.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + dsn.split("://", 1)[1]
    return dsn


class SqlRunner(BaseRunner):
    kind = "sql"

    def __init__(self, config: SqlRunnerConfig, resolver: SecretResolver = resolve_secret) -> None:
        super().__init__(config)
        where = f"runner {config.name!r}"
        self.max_rows = config.max_rows
        dsn = secret(resolver, config.dsn, f"{where}: dsn")
        try:
            url = make_url(_url(dsn))
        except ArgumentError:
            raise RunnerConfigError(f"{where}: dsn is not a database URL") from None
        self.dialect = url.get_backend_name()
        if self.dialect not in ("postgresql", "sqlite"):
            raise RunnerConfigError(
                f"{where}: the sql runner runs on PostgreSQL and SQLite, not {self.dialect}"
            )
        if self.dialect == "sqlite":
            self._reaches = f"sqlite {url.database or ':memory:'}"
        else:
            host = url.host or "localhost"
            self._reaches = (
                f"postgresql {host}{f':{url.port}' if url.port else ''}/{url.database or ''}"
            )
        self.engine = self._engine(url, where)

    def _engine(self, url: Any, where: str) -> Engine:
        seconds = max(1, math.ceil(self.timeout_s))
        pool: dict[str, Any] = {
            "pool_size": self.concurrency,
            "max_overflow": 0,
            "pool_timeout": seconds,
            "pool_pre_ping": True,
        }
        try:
            if self.dialect == "sqlite":
                memory = url.database in (None, "", ":memory:")
                engine = create_engine(
                    url,
                    connect_args={"check_same_thread": False, "timeout": seconds},
                    **({} if memory else pool),
                )
                event.listen(engine, "connect", _sqlite_connect)
                event.listen(engine, "begin", _sqlite_begin)
                return engine
            return create_engine(
                url,
                connect_args={"connect_timeout": seconds, "application_name": "tocsin"},
                **pool,
            )
        except (ArgumentError, ImportError, TypeError) as exc:
            raise RunnerConfigError(f"{where}: cannot use the dsn: {exc}") from None

    def serves(self, language: str, text: str) -> bool:
        return language == "sql"

    def target(self, request: Request) -> str:
        return self._reaches

    def close(self) -> None:
        self.engine.dispose()

    def _run(self, request: Request) -> Result:
        target = self._reaches
        if request.language != "sql":
            return Result("error", "", target=target, error=f"it runs no {request.language}")
        try:
            statement = _driver_sql(request.text, self.dialect)
        except Invalid as exc:
            return Result("error", "", target=target, error=error_line(f"refused: {exc}"))
        try:
            with self.engine.connect() as conn:
                output, truncated = self._execute(conn, statement, request)
        except DBAPIError as exc:
            return self._refused(exc, target)
        except SQLAlchemyError as exc:  # a parameter missing, a closed pool
            return Result(
                "error", "", target=target, error=error_line(f"{type(exc).__name__}: {exc}")
            )
        return Result("ok", output, truncated=truncated, target=target)

    def _execute(self, conn: Connection, statement: str, request: Request) -> tuple[str, bool]:
        stop = self._begin(conn, request.read_only)
        try:
            result = conn.exec_driver_sql(statement, dict(request.params))
            if result.returns_rows:
                columns = list(result.keys())
                rows = result.fetchmany(self.max_rows + 1)
                output = table(columns, [_row(r) for r in rows[: self.max_rows]])
                if len(rows) > self.max_rows:
                    output += f"\n… more rows (the first {self.max_rows} are shown)"
            else:
                count = result.rowcount
                output = f"{count} row{'' if count == 1 else 's'}" if count >= 0 else "done"
        finally:
            stop()
        if request.read_only:
            conn.rollback()
        else:
            conn.commit()
        return cap_text(output, self.output_limit)

    def _begin(self, conn: Connection, read_only: bool) -> Callable[[], None]:
        """Begin the transaction with its bounds; what undoes the statement's own bounds
        (SQLite's authorizer and progress handler) once it ran."""
        if self.dialect == "postgresql":
            if read_only:
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")  # the first in it
            milliseconds = max(1, int(self.timeout_s * 1000))
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")
            conn.exec_driver_sql("SET LOCAL standard_conforming_strings = on")
            return lambda: None
        raw = conn.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        raw.execute(f"PRAGMA query_only = {'ON' if read_only else 'OFF'}")
        conn.begin()
        deadline = time.monotonic() + self.timeout_s
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
        if read_only:
            raw.set_authorizer(_sqlite_read_only)

        def stop() -> None:
            raw.set_progress_handler(None, 0)
            raw.set_authorizer(None)

        return stop

    def _refused(self, exc: DBAPIError, target: str) -> Result:
        original = exc.orig if exc.orig is not None else exc
        message = str(original).strip() or type(original).__name__
        first = message.splitlines()[0]
        sqlstate = getattr(original, "sqlstate", None)
        if sqlstate == "57014" or (self.dialect == "sqlite" and first == "interrupted"):
            return Result(
                "timeout",
                "",
                target=target,
                error=error_line(f"stopped after {self.timeout_s:g}s: {first}"),
            )
        if first == "not authorized":
            first += " (a read runs SELECT only)"
        if self.dialect == "postgresql":
            reached = sqlstate is not None  # the server answered: it refused the statement
        else:  # the driver's own refusals (a parameter missing) are ProgrammingErrors
            driver = isinstance(original, sqlite3.ProgrammingError)
            reached = not driver and not first.startswith("unable to open database")
        status: Status = "failed" if reached and not exc.connection_invalidated else "error"
        details = printable(message, lines=True) if "\n" in message else ""
        return Result(status, details, target=target, error=error_line(first))


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # the runner begins and ends transactions


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN")


def _driver_sql(sql: str, dialect: str) -> str:
    """The statement as the driver takes it: one statement (``Invalid`` otherwise). SQLite's
    driver reads ``:name`` itself, where SQLite's grammar has a parameter; for psycopg each
    ``:name`` in the code (not in a constant, a quoted name or a comment) becomes
    ``%(name)s`` and every ``%`` is doubled, so psycopg, which reads ``%`` everywhere, gives
    the text back as written."""
    parts = one_statement(sql, dialect)
    if dialect == "sqlite":
        return sql
    out: list[str] = []
    for span in parts:
        piece = sql[span.start : span.end].replace("%", "%%")
        if span.kind == "code":
            piece = _BIND.sub(lambda found: f"%({found.group(1)})s", piece)
        out.append(piece)
    return "".join(out)


def _row(row: Sequence[Any]) -> list[object]:
    return [_cell(value) for value in row]


def _cell(value: object) -> object:
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    return value
