"""The alert writer thread: group commit for intake in a thread of the server's process (the
test client, ``create_app`` without ``writer_process``; ``tocsin serve`` runs
``intake.process`` instead). After parsing, validating and routing; before the engine.

Every request that posts alerts hands its batch to one writer thread and waits. The thread
takes whatever batches are waiting, writes them all in one transaction and commits once, then
answers every request. An answer therefore always follows a durable commit (an acknowledged
alert survives ``kill -9``), while concurrent requests share one fsync instead of paying one
each. A batch that makes the shared transaction fail is retried alone, so one bad batch never
costs the others. Pages decided in the transaction (a new group with no group_wait) go to
the event loop before the commit and out the moment it held (``Committer._write``).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from tocsin import times
from tocsin.alerts.model import Alert
from tocsin.clock import Clock
from tocsin.intake.commit import (
    MAX_ALERTS_PER_COMMIT,
    AfterStore,
    Committer,
    OnCreated,
    answer,
)
from tocsin.metrics import Metrics
from tocsin.routing.tree import Route
from tocsin.store import repo


@dataclass
class _Job:
    batch: repo.Prepared
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[repo.IngestResult]


class AlertWriter:
    """Every request that posts alerts hands its batch to one writer thread and waits; the
    thread takes whatever batches are waiting and commits them together (``Committer``)."""

    def __init__(
        self,
        db: Engine,
        route: Callable[[], Route],
        clock: Clock,
        on_commit: Callable[[float], None] | None = None,
        after_store: AfterStore | None = None,
        on_created: OnCreated | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """``on_commit`` hears when the earliest work the commit left for the engine falls
        due (it is not called when the commit left none)."""
        self.db = db
        self.route = route
        self.clock = clock
        self.on_commit = on_commit
        self.metrics = metrics
        self._committer = Committer(db, clock, after_store, on_created)
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="tocsin-writer", daemon=True)
        self._thread.start()

    async def write(self, alerts: Sequence[Alert], source: str = "api") -> repo.IngestResult:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[repo.IngestResult] = loop.create_future()
        # the pure part (merging, encoding, routing) runs here, while the writer's thread
        # waits on the database
        batch = repo.prepare(alerts, times.to_dt(self.clock.now()), self.route(), source)
        self._queue.put(_Job(batch, loop, future))
        return await future

    def reload(self) -> None:
        """The configuration was loaded again: the routes come from ``route`` each time."""

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            self._committer.close()

    def _serve(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            # our turn at the database first, then whatever is waiting by then: batches that
            # arrived while another process held the file share this commit
            with self._committer.turn.hold():
                jobs = [job]
                size = len(job.batch)
                while size < MAX_ALERTS_PER_COMMIT:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        self._commit(jobs)
                        return
                    jobs.append(more)
                    size += len(more.batch)
                self._commit(jobs)

    def _commit(self, jobs: list[_Job]) -> None:
        outcomes, left = self._committer.commit([job.batch for job in jobs])
        # the engine hears of the commit before anyone is answered: an answered request's
        # work is already in the engine's hands
        if left is not None and self.on_commit is not None:
            self.on_commit(left)
        for job, result in zip(jobs, outcomes, strict=True):
            # counted before the answer is handed to the event loop: a scrape after the
            # answer sees the alerts it acknowledged (this thread could count them later)
            if result is not None and self.metrics is not None:
                received = self.metrics.alerts_received.labels(job.batch.source)
                received.inc(len(job.batch))
            _answer(job, result)


def _answer(job: _Job, result: repo.IngestResult | None) -> None:
    job.loop.call_soon_threadsafe(answer, job.future, result)
