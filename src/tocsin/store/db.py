"""Database engines and migrations: SQLite in WAL mode by default, PostgreSQL by URL."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

MIGRATIONS = Path(__file__).parent / "migrations"


def database_url(data_dir: str | Path | None, url: str | None) -> str:
    """The URL given, else SQLite in the data directory (created if needed)."""
    if url:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return url
    directory = Path(data_dir or "data")
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'tocsin.db'}"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with tocsin's settings: SQLite in WAL mode with full fsync on commit (an
    answered alert survives a crash or power loss), foreign keys on, and a busy timeout so
    that several processes can share the file."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # SQLAlchemy's recipe: the driver leaves transactions alone, we begin them below
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA cache_size=-32768")  # 32 MiB of pages, not 2
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # a write transaction takes the write lock at once: a deferred one that read first
            # fails (SQLITE_BUSY_SNAPSHOT) when another connection wrote in between
            immediate = conn.get_execution_options().get(_IMMEDIATE)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


_IMMEDIATE = "tocsin_write"


def begin_write(engine: Engine) -> AbstractContextManager[Connection]:
    """A transaction that will write: on SQLite it holds the write lock from its start, so
    that several threads and processes can share the file; elsewhere a plain transaction.

    On a SQLite file, writers first queue on a lock file beside the database (``flock``):
    SQLite's own busy handler makes a waiting writer sleep and poll, for up to 100 ms at a
    time, where the lock file wakes it the moment the other writer commits. Several worker
    processes therefore take turns at the file instead of idling."""
    writer, queue = _prepared(engine)
    return _queued(queue, writer)


INTAKE_LOCK = 0x746F6373696E  # "tocsin": the advisory lock the intake writers take turns by
INTAKE_WAIT_S = 30  # a writer waits this long for its turn, and holds it idle no longer
INTAKE_TURN_SQL = (
    # first the transaction's settings, then the turn (one statement each: in that order)
    f"SELECT set_config('lock_timeout', '{INTAKE_WAIT_S}s', true),"
    f" set_config('idle_in_transaction_session_timeout', '{INTAKE_WAIT_S}s', true),"
    " set_config('enable_seqscan', 'off', true)",
    f"SELECT pg_advisory_xact_lock({INTAKE_LOCK})",
)


class HeldWriter:
    """One connection kept for the write transactions of one thread (the intake's writer):
    taking a pooled connection and resetting it on return costs about 0.14 ms per transaction
    on SQLite, a third of a one-row intake. A transaction that fails drops the connection; the
    next one opens another.

    On PostgreSQL its transactions begin with ``INTAKE_TURN_SQL``:

    - the intake writers of all replicas take turns, as they do on a SQLite file (a
      transaction-level advisory lock). Prometheus posts each alert to every replica it
      knows; two that stored the same new alert at once each saw no open incident for its
      group and no episode for its fingerprint, and each opened one: two incidents, two pages.
      Taken first, in READ COMMITTED (pinned on this connection, whatever the server's
      default), the lock makes each transaction's lookups see what the other committed. A
      writer waits at most ``INTAKE_WAIT_S`` for its turn (then its batches fail and their
      senders post again), and a transaction left idle that long (a stuck process, a lost
      network) is ended by the server, so one replica cannot stop the others' intake for
      longer;
    - they plan without sequential scans: the intake's lookups are by key (the open incident
      of a group, the current episode of a fingerprint), and a table the planner has no
      statistics for yet (a new database, or autovacuum turned off) makes it guess that a list
      of 100 keys matches half the table and scan all of it, per batch."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        writer, queue = _prepared(self.engine)
        if self._conn is None:
            self._conn = writer.connect()
            if self._conn.dialect.name == "postgresql":
                self._conn.execution_options(isolation_level="READ COMMITTED")
        conn = self._conn
        try:
            with _turn(queue), conn.begin():
                if conn.dialect.name == "postgresql":
                    for statement in INTAKE_TURN_SQL:
                        conn.exec_driver_sql(statement)
                yield conn
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()


def _prepared(engine: Engine) -> tuple[Engine, WriterQueue | None]:
    """The engine's writing variant and its queue, made once under a lock: two threads that
    met here at start must not make two queues on one file (a thread holding one would wait
    forever on the other's flock)."""
    with _setup:
        found = _writers.get(engine)
        if found is None:
            found = _writers[engine] = (
                engine.execution_options(**{_IMMEDIATE: True}),
                WriterQueue.beside(engine),
            )
        return found


def writer_turn(engine: Engine) -> AbstractContextManager[None]:
    """Hold this process's turn to write to a SQLite file across several transactions
    (re-entrant: ``begin_write`` inside it does not wait again); a no-op elsewhere. The
    intake's writer takes its turn before it gathers the waiting batches, so that what arrived
    while another process was writing goes into its next commit."""
    _writer, queue = _prepared(engine)
    return _turn(queue)


def _turn(queue: WriterQueue | None) -> AbstractContextManager[None]:
    return queue if queue is not None else nullcontext()


@contextmanager
def _queued(queue: WriterQueue | None, writer: Engine) -> Iterator[Connection]:
    with _turn(queue), writer.begin() as conn:
        yield conn


class WriterQueue:
    """One writer at a time across the threads of this process (a lock) and across processes
    (``flock`` on a file, which the kernel hands to the next waiter at once)."""

    def __init__(self, path: Path) -> None:
        self._thread_lock = threading.RLock()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._depth = 0
        weakref.finalize(self, os.close, self._fd)

    @classmethod
    def beside(cls, engine: Engine) -> WriterQueue | None:
        """The queue for a SQLite file; None for other databases and in-memory SQLite."""
        database = engine.url.database
        if engine.dialect.name != "sqlite" or not database or database == ":memory:":
            return None
        if fcntl is None:  # pragma: no cover - not on POSIX: SQLite's busy handler alone
            return None
        # one queue per file in a process, however many engines reach it
        path = Path(f"{database}-writer.lock").resolve()
        queue = _by_file.get(path)
        if queue is None:
            queue = _by_file[path] = cls(path)
        return queue

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        if self._depth == 0:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._thread_lock.release()
                raise
        self._depth += 1

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()


_writers: weakref.WeakKeyDictionary[Engine, tuple[Engine, WriterQueue | None]] = (
    weakref.WeakKeyDictionary()
)
_by_file: weakref.WeakValueDictionary[Path, WriterQueue] = weakref.WeakValueDictionary()
_setup = threading.Lock()


def alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (idempotent)."""
    config = alembic_config()
    with begin_write(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
