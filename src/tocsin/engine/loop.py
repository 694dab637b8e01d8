"""The due-work loop: claim what is due (with a lease), hand each item to its stage
(``CYCLE``) in one transaction per batch, then send what the batch put in the outbox. One
loop per process; several processes share the database.

A new kind of due work: name it in ``store/kinds.py``, write its stage's ``due`` function
(an ``engine.stage.Stage``) in a module of its own, and add the pair to ``CYCLE``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import OperationalError

from tocsin.clock import Clock
from tocsin.config import Config
from tocsin.engine import (
    acknowledgement,
    deadline,
    duties,
    escalate,
    flush,
    heartbeat,
    held,
    reminders,
    storm,
)
from tocsin.engine.deliver import ChannelFactory, Deliverer
from tocsin.engine.executor import Executor
from tocsin.engine.paging import Pager
from tocsin.engine.stage import Stage
from tocsin.runbooks.model import Catalog
from tocsin.store import kinds, outbox, pending, repo
from tocsin.store.db import begin_write
from tocsin.store.kinds import DELIVER
from tocsin.store.schema import due_work
from tocsin.store.wakeup import Listener

log = logging.getLogger("tocsin.engine")
LEASE_S = 60.0
# an item that failed on the database's account (a deadlock broken by failing it, a lock wait
# that timed out, "database is locked") is tried again this soon; any other failure, which
# would fail again at once, waits a whole lease
RETRY_TRANSIENT_S = 5.0
INLINE_LIMIT = 250  # flushes done in an intake transaction; more is backpressure

# The cycle: each kind of due work and the stage that carries it out, in the order of the
# data path. A stage gets the claimed item in the batch's transaction and settles it.
CYCLE: dict[str, Stage] = {
    kinds.FLUSH: flush.due,  # mute, decide, record; trigger and tell channels (engine/trigger)
    kinds.ESCALATE: escalate.due,  # the next step of the policy pages its targets
    kinds.DEADLINE: deadline.due,  # an acknowledgement deadline missed: escalate now
    kinds.ACK_TIMEOUT: acknowledgement.due,  # an acknowledgement lapsed: escalate again
    kinds.REMINDER: reminders.due,  # no status update for the severity's period
    kinds.DUTIES: duties.due,  # resolved: post-incident duties added, their owners reminded
    kinds.STORM_UPDATE: storm.due,  # a storm's digest, updated (at most once per update_every)
    kinds.HELD_SUMMARY: held.due,  # what a person's limit held back, in one message
    kinds.HEARTBEAT: heartbeat.due,  # a heartbeat monitor's check: missed fires, a beat resolves
}
# The last stage, kinds.DELIVER, runs apart: engine/deliver.Deliverer sends what a batch put
# in the outbox once the batch has committed (run_once), never inside its transaction.


class DueWorkEngine:
    def __init__(
        self,
        db: Engine,
        config: Config,
        clock: Clock,
        owner: str | None = None,
        catalog: Catalog | None = None,
        channel_factory: ChannelFactory | None = None,
        heartbeats: bool = True,
    ):
        self.db = db
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.wake = asyncio.Event()
        self._wakes_at = math.inf  # while a pass runs, any new work may have been missed
        self.pager = Pager(config, catalog, clock)
        self.executor: Executor | None = None  # runbook commands, where a server runs them
        self.deliverer = Deliverer(db, config, clock, self.owner, channel_factory)
        self._config = config
        # which configuration's heartbeat monitors have their rows (a reload counts up);
        # none where ``heartbeats`` is off (``tocsin simulate``: a scenario has no beats)
        self.heartbeats = heartbeats
        self._generation, self._watched = 1, 0

    @property
    def config(self) -> Config:
        return self._config

    @config.setter
    def config(self, config: Config) -> None:
        """A reloaded configuration: new flushes, escalations and deliveries use it; running
        escalations keep the policy they snapshotted."""
        self._config = config
        self.pager.config = config
        self.deliverer.config = config
        self._generation += 1

    def sleeps_past(self, due_at: float) -> bool:
        """Whether work falling due at ``due_at`` needs a wake-up: the loop is running a pass
        (which may have missed it) or sleeps until later. Read from other threads."""
        return due_at < self._wakes_at

    def run_due(self, limit: int = 100) -> int:
        """Carry out everything due now (deliveries aside); how many items were handled.
        The deliveries it creates are left for ``Deliverer.run``."""
        handled = 0
        while True:
            count, _created = self.run_batch(limit, take=False)
            handled += count
            if count < limit:
                return handled

    def run_batch(self, limit: int = 100, take: bool = True) -> tuple[int, list[Any]]:
        """Claim and carry out up to ``limit`` due items in one transaction: the claim holds
        until the work commits (row locks with SKIP LOCKED on PostgreSQL, the write lock on
        SQLite), so no lease is needed for work done inside it. With ``take``, the
        deliveries it created come back leased to this engine, to be sent at once. When one
        item fails, the batch is done again one item per transaction so that the failing
        item rolls back alone (and is tried again after its lease lapses). The batch's row
        writes go out together (``store/pending``)."""
        now = self.clock.now()
        try:
            with begin_write(self.db) as conn:
                _fresh(conn)
                # before the claim: a monitor checked now is in this batch
                watching = self._generation
                if self.heartbeats and watching != self._watched:
                    heartbeat.watch(conn, self.config, now)
                items = repo.claim_due(
                    conn, now, self.owner, LEASE_S, limit, exclude=[kinds.DELIVER]
                )
                with pending.deferred(conn):
                    flush.prefetch(conn, items)
                    for item in items:
                        self._handle(conn, item, now)
                created = (
                    outbox.take_new(conn, self.owner, now, self.deliverer.lease_s) if take else []
                )
                outbox.forget_new(conn)
            count = len(items)
            self._watched = watching
        except Exception:
            log.warning("a batch of due work failed; doing it item by item", exc_info=True)
            created, count = [], 0
            with self.db.connect() as conn:
                ids = [
                    r.id
                    for r in conn.execute(
                        select(due_work.c.id)
                        .where(due_work.c.due_at <= now, due_work.c.kind != kinds.DELIVER)
                        .order_by(due_work.c.due_at, due_work.c.id)
                        .limit(limit)
                    )
                ]
            for item_id in ids:
                try:
                    with begin_write(self.db) as conn:
                        _fresh(conn)
                        item = repo.claim_one(conn, item_id, now, self.owner, LEASE_S)
                        if item is None:
                            continue
                        count += 1
                        with pending.deferred(conn):
                            self._handle(conn, item, now)
                        if take:
                            created += outbox.take_new(
                                conn, self.owner, now, self.deliverer.lease_s
                            )
                except Exception as exc:
                    hold = RETRY_TRANSIENT_S if isinstance(exc, OperationalError) else LEASE_S
                    log.exception("due work %s failed; tried again in %.0f s", item_id, hold)
                    # its work rolled back with its claim: hold it, then again
                    with begin_write(self.db) as conn:
                        repo.claim_one(conn, item_id, now, self.owner, hold)
        if count and self.db.dialect.name == "sqlite":
            time.sleep(0.001)  # let other processes' writers take the lock in between
        return count, created

    def flush_inline(
        self, conn: Connection, incidents: list[int], stop: Callable[[], bool] | None = None
    ) -> tuple[list[Any], bool]:
        """In the intake's transaction: the flushes of the incidents it touched that are due
        now (new groups with no group_wait), up to ``INLINE_LIMIT``, and the deliveries they
        create, leased to this engine to send after the commit; and whether that was all of
        them (the rest stay with the engine's loop, as does other due work). ``stop``, asked
        after each flush, cuts the work short (the writer process: a request waits that should
        not wait for a storm's hundred flushes); what was not flushed is due again as it was."""
        if not incidents:
            return [], True
        now = self.clock.now()
        _fresh(conn)
        # the first ones in the order given (the intake's: each request in turn), skipping
        # those not due, until the limit; then in the engine's order
        items: list[Any] = []
        start, end = 0, min(len(incidents), INLINE_LIMIT * 10)
        while len(items) < INLINE_LIMIT and start < end:
            refs = incidents[start : start + INLINE_LIMIT - len(items)]
            start += len(refs)
            items += repo.claim_due(
                conn, now, self.owner, LEASE_S, len(refs), kinds=[kinds.FLUSH], refs=refs
            )
        items.sort(key=lambda r: (r.due_at, r.id))
        # a storm's catching up is the loop's, not the intake's; the row writes go together
        with flush.inline(conn), pending.deferred(conn):
            flush.prefetch(conn, items)
            done = 0
            for item in items:
                if done and stop is not None and stop():
                    break
                self._handle(conn, item, now)
                done += 1
            for item in items[done:]:  # cut short: no longer claimed
                repo.reschedule(conn, item.id, self.owner, item.due_at)
        complete = done == len(items) and len(incidents) <= INLINE_LIMIT
        return outbox.take_new(conn, self.owner, now, self.deliverer.lease_s), complete

    def _handle(self, conn: Connection, item: Any, now: float) -> None:
        stage = CYCLE.get(item.kind)
        if stage is None:
            log.warning("unknown due work kind %r; dropped", item.kind)
            repo.finish(conn, item.id, self.owner)
            return
        stage(self.pager, conn, item, self.owner, now)

    async def run_once(self, limit: int = 100, backlog: bool = True) -> int:
        """One pass: due work batch by batch, each batch's new messages sent as soon as it
        has committed; then (with ``backlog``) the other deliveries due (retries, work left
        by others, what waited for its order), by lane."""
        handled = 0
        while True:
            count, created = await asyncio.to_thread(self.run_batch, limit)
            handled += count
            if count and self.executor is not None:  # a trigger may have queued diagnostics
                self.executor.wake.set()
            if created:
                handled += await self.deliverer.send(created)
            if count < limit:
                break
        if backlog:
            handled += await self.deliverer.run()
        return handled

    async def run_forever(self, stop: asyncio.Event, idle_s: float = 1.0) -> None:
        """The loop: handle what is due, then sleep until the next due time, a wake-up from
        new work, or ``idle_s``, whichever comes first."""
        loop = asyncio.get_running_loop()

        def wake() -> None:
            loop.call_soon_threadsafe(self.wake.set)

        listener = Listener(self.db, wake)
        listener.start()
        # The deliveries due (retries, what others left, a storm's backlog) drain in a task of
        # their own, by lane, while the passes go on: a page that a due escalation creates is
        # sent as soon as its batch commits, not after a slow channel's thousand warnings.
        backlog: asyncio.Task[int] | None = None
        try:
            while not stop.is_set():
                self._wakes_at = math.inf
                self.wake.clear()  # before the pass: a wake-up during it is not lost
                try:
                    await self.run_once(backlog=False)
                    if backlog is None or backlog.done():
                        _settle(backlog)
                        backlog = asyncio.create_task(self.deliverer.run())
                    with self.db.connect() as conn:
                        # the deliveries are the backlog's while it runs; it says when it ends
                        nxt = repo.next_due_at(conn, exclude=[] if backlog.done() else [DELIVER])
                except Exception:
                    log.exception("engine pass failed")
                    nxt = None
                now = self.clock.now()
                delay = idle_s if nxt is None else min(idle_s, max(0.0, nxt - now))
                self._wakes_at = now + delay
                woken = asyncio.ensure_future(self.wake.wait())
                try:
                    await self._sleep(delay, woken, backlog)
                finally:
                    woken.cancel()
        finally:
            if backlog is not None:
                with contextlib.suppress(Exception):
                    await backlog  # what it claimed is sent and recorded, not left to a lease
            await asyncio.to_thread(listener.stop)
            await self.deliverer.close()

    async def _sleep(
        self, delay: float, woken: asyncio.Future[Any], backlog: asyncio.Task[int] | None
    ) -> None:
        """Until ``delay`` has passed, a wake-up, or the backlog of deliveries ends having
        sent something (the next pass then reads what falls due next, deliveries included).
        A backlog that ends having sent nothing brings no news: the sleep goes on, cut short
        by the next delivery due later (a retry). Were its end a wake-up, a backlog started
        at every pass would make the loop spin: a pass, and the writer's turn, every few
        milliseconds while the server is idle."""
        loop = asyncio.get_running_loop()
        until = loop.time() + delay
        while True:
            waits: set[asyncio.Future[Any]] = {woken}
            if backlog is not None and not backlog.done():
                waits.add(backlog)
            left = max(0.0, until - loop.time())
            await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            if woken.done() or loop.time() >= until or backlog is None or not backlog.done():
                return
            if backlog.cancelled() or backlog.exception() is not None or backlog.result():
                return  # it sent something, or failed: a pass now
            now = self.clock.now()
            with self.db.connect() as conn:
                nxt = repo.next_due_at(conn, only=[DELIVER])
            if nxt is not None and nxt > now:  # one due now it could not take is not news
                until = min(until, loop.time() + (nxt - now))
                self._wakes_at = min(self._wakes_at, nxt)
            backlog = None  # waited for: now only the wake-up and the time


def _settle(task: asyncio.Task[int] | None) -> None:
    """A finished backlog task: its failure logged (the next pass starts another)."""
    if task is not None and not task.cancelled() and task.exception() is not None:
        log.error("delivering the backlog failed", exc_info=task.exception())


def _fresh(conn: Connection) -> None:
    """At the start of a transaction: nothing cached by an earlier one on this connection."""
    flush.forget(conn)
    outbox.forget_new(conn)
