"""The writers' turn: how the intake writers of every thread, process and replica take turns at
the database, so that two of them never store the same new alert at once (each would see no
open incident for its group and open one: two incidents, two pages). One interface, ``Turn``,
two implementations chosen once from the database's dialect (``turn_for``): a lock file on
SQLite (``SqliteTurn``), an advisory lock on PostgreSQL (``PostgresTurn``). Between the intake
(parse, validate, route) and the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Protocol

from sqlalchemy import Connection, Engine

from tocsin.store.db import WriterQueue, write_access


class Turn(Protocol):
    """The intake writers' turn at one database."""

    def hold(self) -> AbstractContextManager[None]:
        """Hold the turn across several transactions (re-entrant). A writer takes it before
        it gathers the waiting batches, so that what arrived while another process was
        writing goes into its next commit."""
        ...

    def connected(self, conn: Connection) -> None:
        """Settings for a connection the writer keeps (``HeldWriter``), once."""
        ...

    def transaction(self, conn: Connection) -> AbstractContextManager[Connection]:
        """A transaction on ``conn``, taken in turn."""
        ...


class SqliteTurn:
    """SQLite: the file's writer queue (``store.db.WriterQueue``: a lock for the threads of
    this process, ``flock`` on a file beside the database for the processes), which every
    other writer of the file (``begin_write``) waits in too; held, it lets them in without
    waiting again (re-entrant). None for in-memory SQLite and for platforms without
    ``flock``: SQLite's own write lock alone."""

    def __init__(self, queue: WriterQueue | None) -> None:
        self.queue = queue

    def hold(self) -> AbstractContextManager[None]:
        return self.queue if self.queue is not None else nullcontext()

    def connected(self, conn: Connection) -> None:
        pass

    @contextmanager
    def transaction(self, conn: Connection) -> Iterator[Connection]:
        with self.hold(), conn.begin():
            yield conn


INTAKE_LOCK = 0x746F6373696E  # "tocsin": the advisory lock the intake writers take turns by
INTAKE_WAIT_S = 30  # a writer waits this long for its turn, and holds it idle no longer
INTAKE_TURN_SQL = (
    # first the transaction's settings, then the turn (one statement each: in that order)
    f"SELECT set_config('lock_timeout', '{INTAKE_WAIT_S}s', true),"
    f" set_config('idle_in_transaction_session_timeout', '{INTAKE_WAIT_S}s', true),"
    " set_config('enable_seqscan', 'off', true)",
    f"SELECT pg_advisory_xact_lock({INTAKE_LOCK})",
)


class PostgresTurn:
    """PostgreSQL: each intake transaction begins with ``INTAKE_TURN_SQL``.

    - the intake writers of all replicas take turns, as they do on a SQLite file (a
      transaction-level advisory lock). Prometheus posts each alert to every replica it
      knows; two that stored the same new alert at once each saw no open incident for its
      group and no episode for its fingerprint, and each opened one: two incidents, two pages.
      Taken first, in READ COMMITTED (pinned on the writer's connection, whatever the
      server's default), the lock makes each transaction's lookups see what the other
      committed. A writer waits at most ``INTAKE_WAIT_S`` for its turn (then its batches fail
      and their senders post again), and a transaction left idle that long (a stuck process,
      a lost network) is ended by the server, so one replica cannot stop the others' intake
      for longer;
    - they plan without sequential scans: the intake's lookups are by key (the open incident
      of a group, the current episode of a fingerprint), and a table the planner has no
      statistics for yet (a new database, or autovacuum turned off) makes it guess that a list
      of 100 keys matches half the table and scan all of it, per batch.

    The turn lasts one transaction: nothing to hold while the batches are gathered."""

    def hold(self) -> AbstractContextManager[None]:
        return nullcontext()

    def connected(self, conn: Connection) -> None:
        conn.execution_options(isolation_level="READ COMMITTED")

    @contextmanager
    def transaction(self, conn: Connection) -> Iterator[Connection]:
        with conn.begin():
            for statement in INTAKE_TURN_SQL:
                conn.exec_driver_sql(statement)
            yield conn


def turn_for(engine: Engine) -> Turn:
    """The turn for this database, by its dialect."""
    if engine.dialect.name == "postgresql":
        return PostgresTurn()
    _writer, queue = write_access(engine)
    return SqliteTurn(queue)


class HeldWriter:
    """One connection kept for the write transactions of one thread (the intake's writer),
    each taken in turn (``Turn``): taking a pooled connection and resetting it on return costs
    about 0.14 ms per transaction on SQLite, a third of a one-row intake. A transaction that
    fails drops the connection; the next one opens another."""

    def __init__(self, engine: Engine, turn: Turn | None = None) -> None:
        self.engine = engine
        self.turn = turn if turn is not None else turn_for(engine)
        self._conn: Connection | None = None

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        if self._conn is None:
            writer, _queue = write_access(self.engine)
            self._conn = writer.connect()
            self.turn.connected(self._conn)
        conn = self._conn
        try:
            with self.turn.transaction(conn):
                yield conn
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()
