"""The group commit: the intake's batches stored together in one transaction, committed once,
and every request answered only after that commit. Both intake writers (the thread,
``intake.writer``, and the process, ``intake.process``) commit through ``Committer``. After
the intake has parsed, validated and routed a batch; before the engine, which the commit
hands the flush at intake to (``AfterStore``) and tells when its work falls due.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from sqlalchemy import Connection, Engine

from tocsin import logs
from tocsin.clock import Clock
from tocsin.errors import Unavailable
from tocsin.intake.turn import HeldWriter, Turn
from tocsin.store import bulk, repo

log = logging.getLogger("tocsin.intake.writer")
received_log = logging.getLogger("tocsin.intake")  # one record per batch stored
MAX_ALERTS_PER_COMMIT = 5000


class StoreFailed(Unavailable):
    """A batch could not be stored (the request is answered with an error; nothing of it
    was committed)."""


AfterStore = Callable[[Connection, list[int]], tuple[list[Any], bool]]
OnCreated = Callable[[list[Any], Future[bool]], None]


class Committer:
    """Group commit where the database connection is (the writer thread, or the writer
    process): batches stored together in one transaction and committed once; a batch that
    makes the shared transaction fail is retried alone, so that one bad batch never costs the
    others.

    ``after_store`` runs in the intake's transaction once the batches are stored (the engine
    flushes what is due at once there, so that a new group with no group_wait pages after one
    commit instead of two). It returns the deliveries created, for ``on_created`` (see
    ``_write``), and whether it did all it was given.

    Its transactions are taken in turn (``turn``, chosen from the database's dialect); the
    writer holds the turn around gathering the waiting batches and committing them.

    ``interrupt`` (the writer process's: a small request is waiting) cuts the flush at intake
    short (``cut_short``: asked before it starts, and by ``after_store`` between flushes):
    the commit goes to disk with what was flushed so far, and the incidents it left are
    ``carried`` to the next commit that takes them (``commit(..., carry=True)``) instead of
    being handed to the engine. A storm's batch of a hundred new groups then makes a waiting
    page wait for one flush, not for a hundred."""

    def __init__(
        self,
        db: Engine,
        clock: Clock,
        after_store: AfterStore | None = None,
        on_created: OnCreated | None = None,
        interrupt: Callable[[], bool] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.after_store = after_store
        self.on_created = on_created
        self.interrupt = interrupt
        self.carried: list[int] = []  # incidents whose flush at intake was cut short
        self._carry: list[int] = []  # what the commit under way carries on
        self._interruptible = False  # the commit under way may be cut short
        self._cut = False  # and was
        self._held = HeldWriter(db)

    def cut_short(self) -> bool:
        """Whether the flush at intake should stop here and let the commit go to disk (asked
        by ``after_store`` between flushes); once it says so, it says so until the commit."""
        if not self._cut and self._interruptible and self.interrupt is not None:
            self._cut = self.interrupt()
        return self._cut

    @property
    def turn(self) -> Turn:
        return self._held.turn

    def close(self) -> None:
        self._held.close()

    def commit(
        self, batches: Sequence[repo.Prepared], carry: bool = True
    ) -> tuple[list[repo.IngestResult | None], float | None]:
        """The result of each batch (None where it could not be stored), and when the earliest
        work the commits left for the engine falls due (None when they left none). With
        ``carry`` the commit also flushes what earlier commits ``carried`` (before its own
        new groups) and may itself be cut short; without, it flushes only its own (the
        small requests that go first) and is never cut short."""
        outcomes: list[repo.IngestResult | None] = [None] * len(batches)
        left: list[float] = []
        self._interruptible = carry
        if carry:  # taken over: if this commit fails, the engine finds them due
            self._carry, self.carried = self.carried, []
        try:
            self._commit(list(enumerate(batches)), outcomes, left, retried=False)
        finally:
            self._interruptible = False
            self._carry = []
        return outcomes, min(left, default=None)

    def _commit(
        self,
        batches: list[tuple[int, repo.Prepared]],
        outcomes: list[repo.IngestResult | None],
        left: list[float],
        retried: bool,
    ) -> None:
        try:
            results, due = self._write([batch for _i, batch in batches])
        except Exception:
            if len(batches) == 1 and not retried:
                # once more, on a fresh connection: the held one may have gone stale (a
                # database restart); the failed transaction left nothing behind
                self._commit(batches, outcomes, left, retried=True)
            elif len(batches) == 1:
                log.exception("writing a batch of %d alerts failed", len(batches[0][1]))
            else:
                for single in batches:  # find the one that fails; the others still land
                    self._commit([single], outcomes, left, retried=True)
            return
        for (i, batch), result in zip(batches, results, strict=True):
            outcomes[i] = result
            received_log.info(
                "alerts received",
                extra=logs.fields(
                    source=batch.source,
                    count=result.stored,
                    new=result.new_episodes,
                    updated=result.stored - result.new_episodes,
                    incidents_opened=result.new_incidents,
                ),
            )
        if due is not None:
            left.append(due)

    def _write(self, batches: list[repo.Prepared]) -> tuple[list[repo.IngestResult], float | None]:
        """The results, and when the earliest work left falls due.

        The deliveries the flush at intake created go to ``on_created`` just before the
        commit, with a future that tells whether the commit held: the event loop has them in
        hand while the commit is written to disk, and sends them the moment it held. If it
        fails, nothing is sent: the deliveries were never stored, the requests are answered
        with an error and their senders post again."""
        committed: Future[bool] = Future()
        try:
            results, due = self._store(batches, committed)
        except BaseException:
            committed.set_result(False)
            raise
        committed.set_result(True)
        return results, due

    def _store(
        self, batches: list[repo.Prepared], committed: Future[bool]
    ) -> tuple[list[repo.IngestResult], float | None]:
        created: list[Any] = []
        cut: list[int] = []
        self._cut = False
        with self._held.begin() as conn:
            results = [repo.store(conn, batch) for batch in batches]
            due = [r.later for r in results if r.later is not None]
            # what was carried on first (it is older), then each request's in turn
            touched = in_turn([r.touched for r in results])
            touched = list(dict.fromkeys([*self._carry, *touched]))
            # a page already waits: this commit stores, and the next that carries flushes
            # (one that only carries flushes at least one group: it always gets on)
            if touched and self.after_store is not None and not (batches and self.cut_short()):
                try:
                    with bulk.savepoint(conn):  # a failure here never costs the alerts
                        created, complete = self.after_store(conn, touched)
                    if complete:
                        touched = []
                except bulk.TransactionLost:
                    raise  # the alerts went with it: the requests must not hear "stored"
                except Exception:
                    log.exception("flushing at intake failed; the engine will do it")
                    created = []
            if touched and self._cut:
                # the next commit that carries goes on with them (those flushed meanwhile
                # are no longer due, and skipped); the engine is not woken for them
                cut, touched = touched, []
            if touched:  # due now, and not done here
                due.append(self.clock.now())
            bulk.ensure_open(conn)  # a commit of nothing must not answer "stored"
            if created and self.on_created is not None:
                self.on_created(created, committed)
        self._carry = []  # committed: carried on
        self.carried = list(dict.fromkeys([*self.carried, *cut]))
        return results, min(due, default=None)


def in_turn(lists: Sequence[Sequence[int]]) -> list[int]:
    """The touched incidents of a commit's batches, one from each batch in turn: a request
    of one new alert has its flush done at intake even when it shares the commit with batches
    that bring more new groups than the flush at intake takes (``Committer``'s
    ``after_store`` does the first ones and leaves the rest to the engine)."""
    out: list[int] = []
    for depth in range(max((len(one) for one in lists), default=0)):
        out.extend(one[depth] for one in lists if depth < len(one))
    return out


def answer(future: asyncio.Future[repo.IngestResult], result: repo.IngestResult | None) -> None:
    """Answer a request with its batch's outcome (None: it could not be stored), unless the
    request has gone away; in the future's own event loop. Both writers answer this way."""
    if future.done():
        return
    if result is None:
        future.set_exception(StoreFailed("the alerts could not be stored"))
    else:
        future.set_result(result)
