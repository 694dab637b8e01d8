"""Database engines and migrations: SQLite in WAL mode by default, PostgreSQL by URL; and the
queue every writer of a SQLite file waits in (``begin_write``, ``WriterQueue``). Below every
stage of the data path that writes."""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url

from tocsin.periodic import Periodic

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"


def database_url(data_dir: str | Path | None, url: str | None) -> str:
    """The URL given, else SQLite in the data directory (created if needed)."""
    if url:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return url
    directory = Path(data_dir or "data")
    # owner-only: the database holds token hashes and message bodies (its files: make_engine)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'tocsin.db'}"


def _create_owner_only(url: str) -> None:
    """Create a SQLite database file that does not exist yet with mode 0600, before SQLite
    creates it with the umask's (0644 as a rule). SQLite gives its -wal, -shm and -journal
    files the database file's permissions, so they are owner-only too. An existing file keeps
    the mode it has; in-memory databases and URI filenames are left to SQLite."""
    parsed = make_url(url)
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    if parsed.query.get("uri"):
        return
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


# SQLite's page cache, per connection and in the process's own memory (the operating system
# caches the file besides). The writer process inserts a storm's alerts into large indexes: 32
# MiB saves it page reads on every commit (SQLite's default is 2 MiB). A server holds several
# connections (requests, the engine), each with a cache of its own that fills as it reads:
# 8 MiB each. With 32 MiB in the server too, 200,000 alerts into one group cost the server
# about 25 MB more resident memory, for no faster intake or flush (docs/storms.md).
CACHE_MIB = 8
WRITER_CACHE_MIB = 32

# SQLite copies the write-ahead log back into the database file (a checkpoint, with an fsync
# of the file) in whichever commit takes the log past ``wal_autocheckpoint`` pages: 1,000 by
# default, 4 MiB, every few commits of a storm. That commit, and every request it answers,
# waited for it: a third of the writer process's time in a storm into one group. A server
# checkpoints on a thread of its own instead (``Checkpointer``, every ``CHECKPOINT_EVERY_S``),
# beside the commits; a commit still does it past ``WAL_BACKSTOP_PAGES`` (64 MiB: only when
# the thread falls behind, or in a process without one, such as the CLI), and the log's file
# is cut back to that size after it.
CHECKPOINT_EVERY_S = 0.25
WAL_BACKSTOP_PAGES = 16_384


def make_engine(url: str, *, cache_mib: int = CACHE_MIB, **kwargs: Any) -> Engine:
    """An engine with tocsin's settings: SQLite in WAL mode with full fsync on commit (an
    answered alert survives a crash or power loss), foreign keys on, a busy timeout so
    that several processes can share the file, and ``cache_mib`` of page cache per
    connection."""
    if url.startswith("sqlite"):
        _create_owner_only(url)
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
            cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_BACKSTOP_PAGES}")
            cursor.execute(f"PRAGMA journal_size_limit={WAL_BACKSTOP_PAGES * 4096}")
            cursor.execute(f"PRAGMA cache_size=-{cache_mib * 1024}")  # KiB when negative
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


def sqlite_file(engine: Engine) -> bool:
    """Whether the engine's database is a SQLite file (not in memory, not another database)."""
    database = engine.url.database
    return engine.dialect.name == "sqlite" and bool(database) and database != ":memory:"


class Checkpointer(Periodic):
    """The write-ahead log of a SQLite file copied back into it on a daemon thread every
    ``every_s`` seconds (``PRAGMA wal_checkpoint(PASSIVE)``: it waits for no reader or
    writer, and copies what no reader still needs), until ``stop``. Nothing on another
    database, nor on SQLite in memory. A checkpoint that fails is tried again later
    (``periodic``); meanwhile the commits do it past the backstop."""

    def __init__(self, engine: Engine, every_s: float = CHECKPOINT_EVERY_S) -> None:
        super().__init__("tocsin-checkpoint", every_s, self.run_once)
        self.engine = engine

    def enabled(self) -> bool:
        return sqlite_file(self.engine)

    def run_once(self) -> tuple[int, int, int]:
        """One checkpoint: SQLite's (busy, pages in the log, pages copied)."""
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            row = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            cursor.close()
        finally:
            raw.close()
        return int(row[0]), int(row[1]), int(row[2])


def begin_write(engine: Engine) -> AbstractContextManager[Connection]:
    """A transaction that will write: on SQLite it holds the write lock from its start, so
    that several threads and processes can share the file; elsewhere a plain transaction.

    On a SQLite file, writers first queue on a lock file beside the database (``flock``):
    SQLite's own busy handler makes a waiting writer sleep and poll, for up to 100 ms at a
    time, where the lock file wakes it the moment the other writer commits. Several worker
    processes therefore take turns at the file instead of idling."""
    writer, queue = write_access(engine)
    return _queued(queue, writer)


def write_access(engine: Engine) -> tuple[Engine, WriterQueue | None]:
    """The engine's writing variant (on SQLite its transactions begin ``IMMEDIATE``) and the
    queue of its file (None but for a SQLite file), made once under a lock: two threads that
    met here at start must not make two queues on one file (a thread holding one would wait
    forever on the other's flock). The intake's writers take their turn with them
    (``intake.turn``)."""
    with _setup:
        found = _writers.get(engine)
        if found is None:
            found = _writers[engine] = (
                engine.execution_options(**{_IMMEDIATE: True}),
                WriterQueue.beside(engine),
            )
        return found


@contextmanager
def _queued(queue: WriterQueue | None, writer: Engine) -> Iterator[Connection]:
    with queue if queue is not None else nullcontext(), writer.begin() as conn:
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
        if not database or not sqlite_file(engine):
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
    # alembic (with mako and pygments) is imported only to migrate: about 12 MB that a process
    # which never migrates (the writer process) does not carry
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (idempotent)."""
    from alembic import command

    config = alembic_config()
    with begin_write(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
