"""The writer process: the intake's database work in a process of its own.

``tocsin serve`` parses, validates and routes alerts in its event loop, then hands each batch
(as plain values, ``repo.Prepared.to_wire``) to one writer process over a socket pair. That
process stores whatever batches are waiting in one transaction, flushes at intake what is due
at once (the ``Flush`` the server wires in: the engine's ``flush_inline``, leased to the
server's engine), commits (group commit, ``intake.commit.Committer``) and answers. An alert is
answered 2xx only after that answer: only after its commit. After the intake's parsing,
validating and routing (in the server); before the engine.

Why a process: a writer thread shares the server's GIL with the event loop. Each of its
SQLite calls lets go of the GIL, and taking it back waits for the event loop to let go (up
to the switch interval, 5 ms) whenever the loop is busy parsing; the two threads ended up
taking turns on one core. A process has its own GIL, so parsing and storing run on two
cores (``bench/ingest.py``). The engine's own transactions (due work, acknowledgements) stay
in the server; the writers of both processes take turns (``intake.turn``).

If the writer process dies, the requests waiting on it are answered with an error (nothing
of theirs was acknowledged) and the next write starts a new one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import logging
import multiprocessing
import signal
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from tocsin import heap, logs, times
from tocsin.alerts.model import Alert
from tocsin.clock import Clock, RealClock
from tocsin.intake.commit import MAX_ALERTS_PER_COMMIT, Committer, StoreFailed, answer
from tocsin.intake.wire import Channel, from_wire_deliveries, receive, send, to_wire_deliveries
from tocsin.metrics import Metrics
from tocsin.routing.tree import Route
from tocsin.store import repo
from tocsin.store.db import WRITER_CACHE_MIB, make_engine

log = logging.getLogger("tocsin.intake.writer")

START_TIMEOUT_S = 120.0
# a request of at most this many alerts (a new page, rather than a storm's batch) commits
# before the larger batches gathered with it, and cuts short a flush at intake it waits for
PROMPT_ALERTS = 10  # importing and loading the runbooks, on a slow machine
STOP_TIMEOUT_S = 30.0


class Flush(Protocol):
    """The flush at intake, as the writer process runs it: what is due at once, flushed in
    the intake's transaction (``intake.commit.AfterStore``), and the configuration it flushes
    by loaded again when the server's is. The server wires in the engine's
    (``api.state.EngineFlush``); the intake knows no more of the engine than this."""

    def flush_inline(
        self, conn: Connection, touched: list[int], stop: Callable[[], bool] | None = None
    ) -> tuple[list[Any], bool]: ...

    def reload(self) -> None: ...


# builds the flush in the writer process, from the configuration file, the process's own
# database engine and clock, and the lease owner of the server's engine; it crosses to the
# process by reference (a class or a module-level function)
FlushFactory = Callable[[Path, Engine, Clock, str], Flush]


@dataclass(frozen=True)
class WriterSpec:
    """What the writer process builds its world from: the same files as the server."""

    config_path: Path
    database_url: str
    owner: str  # the server engine's lease owner: it sends what the flush at intake created
    flush: FlushFactory | None = None  # as the server's engine runs (None: no flush at intake)
    log_level: str = "WARNING"
    log_format: str = "text"  # tocsin.logs: text or json, as the server's


Delivered = Callable[[list[Any], "asyncio.Future[bool]"], None]


class WriterProcess:
    """The server's side: ``write`` as ``AlertWriter.write``, over the socket."""

    def __init__(
        self,
        spec: WriterSpec,
        route: Callable[[], Route],
        clock: Clock,
        on_commit: Callable[[float], None] | None = None,
        on_created: Delivered | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.spec = spec
        self.route = route
        self.clock = clock
        self.on_commit = on_commit
        self.on_created = on_created
        self.metrics = metrics
        self._process: multiprocessing.process.BaseProcess | None = None
        self._stream: asyncio.StreamWriter | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiting: dict[int, tuple[asyncio.Future[repo.IngestResult], str, int]] = {}
        self._committing: dict[int, asyncio.Future[bool]] = {}  # deliveries' commits, by id
        self._seq = 0
        self._starting = asyncio.Lock()  # one start at a time (binds to a loop on first use)
        self._closed = False

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        async with self._starting:
            if self._stream is not None:
                return
            if self._closed:
                raise StoreFailed("the server is stopping")
            ours, theirs = socket.socketpair()
            context = multiprocessing.get_context("spawn")
            process = context.Process(
                target=child_main, args=(self.spec, theirs), name="tocsin-writer", daemon=True
            )
            process.start()
            theirs.close()
            reader, stream = await asyncio.open_connection(sock=ours)
            try:
                kind, *_ = await asyncio.wait_for(receive(reader), START_TIMEOUT_S)
                if kind != "ready":
                    raise RuntimeError(f"the writer process said {kind!r}")
            except BaseException:
                stream.close()
                process.kill()
                process.join()
                raise
            self._process, self._stream = process, stream
            self._reader = asyncio.create_task(self._read(reader, stream, process))

    async def write(self, alerts: Sequence[Alert], source: str = "api") -> repo.IngestResult:
        batch = repo.prepare(alerts, times.to_dt(self.clock.now()), self.route(), source)
        if self._stream is None:
            await self.start()
        stream = self._stream
        assert stream is not None
        self._seq += 1
        seq = self._seq
        future: asyncio.Future[repo.IngestResult] = asyncio.get_running_loop().create_future()
        self._waiting[seq] = (future, batch.source, len(batch))
        send(stream, ("batch", seq, batch.to_wire()))
        await stream.drain()
        return await future

    def reload(self) -> None:
        """The configuration was loaded again: the writer process loads it too (for the
        flush at intake; routing happens here)."""
        if self._stream is not None:
            send(self._stream, ("reload",))

    async def aclose(self) -> None:
        """Let the writer finish what it was given, then stop it."""
        self._closed = True
        stream, reader, process = self._stream, self._reader, self._process
        if stream is None or reader is None or process is None:
            return
        with contextlib.suppress(ConnectionError):
            send(stream, ("stop",))
            await stream.drain()
        try:
            await asyncio.wait_for(asyncio.shield(reader), STOP_TIMEOUT_S)
        except TimeoutError:
            log.error("the writer process did not stop in %.0f s; killing it", STOP_TIMEOUT_S)
            process.kill()
            await reader
        await asyncio.to_thread(process.join, STOP_TIMEOUT_S)

    async def _read(
        self,
        reader: asyncio.StreamReader,
        stream: asyncio.StreamWriter,
        process: multiprocessing.process.BaseProcess,
    ) -> None:
        try:
            while True:
                message = await receive(reader)
                if message[0] == "created":
                    self._created(*message[1:])
                elif message[0] == "done":
                    self._done(*message[1:])
                elif message[0] == "stopped":
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            if not self._closed:
                log.error("the writer process stopped (exit code %s)", process.exitcode)
        finally:
            stream.close()
            self._stream = None
            waiting, self._waiting = self._waiting, {}
            for future, _source, _count in waiting.values():
                if not future.done():
                    future.set_exception(StoreFailed("the writer process stopped"))
            # whether those commits held is unknown: their deliveries are not sent from here
            # (what was committed is leased to this server's engine, which sends it when the
            # lease lapses)
            committing, self._committing = self._committing, {}
            for held in committing.values():
                _settle(held, False)

    def _created(self, commit_id: int, deliveries: list[tuple[Any, ...]]) -> None:
        """Deliveries the flush at intake made, sent before their commit: the event loop
        makes them ready meanwhile and sends them once ``_done`` says the commit held."""
        held: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._committing[commit_id] = held
        if self.on_created is not None:
            self.on_created(from_wire_deliveries(deliveries), held)

    def _done(
        self,
        outcomes: list[tuple[int, repo.IngestResult | None]],
        left: float | None,
        settled: list[tuple[int, bool]],
    ) -> None:
        for commit_id, ok in settled:  # the pages first: they start before the answers
            _settle(self._committing.pop(commit_id), ok)
        # as in the writer thread: the engine hears of the commit before anyone is answered
        if left is not None and self.on_commit is not None:
            self.on_commit(left)
        for seq, result in outcomes:
            future, source, count = self._waiting.pop(seq)
            if future.done():
                continue
            answer(future, result)
            if result is not None and self.metrics is not None:
                self.metrics.alerts_received.labels(source).inc(count)


def _settle(held: asyncio.Future[bool], ok: bool) -> None:
    """Say whether a commit held (a send that was cancelled meanwhile cancelled its future)."""
    if not held.done():
        held.set_result(ok)


# --------------------------------------------------------------------------- the process


def child_main(spec: WriterSpec, sock: socket.socket) -> None:
    """The writer process: until the server says stop or goes away. Signals are the server's
    to act on (Ctrl-C reaches the whole process group): this process ends when it is told."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    logs.configure(spec.log_level, spec.log_format)
    db = make_engine(spec.database_url, cache_mib=WRITER_CACHE_MIB)
    clock = RealClock()
    flush = spec.flush(spec.config_path, db, clock, spec.owner) if spec.flush else None
    channel = Channel(sock)
    committing: list[tuple[int, concurrent.futures.Future[bool]]] = []
    commit_ids = itertools.count(1)

    def created(made: list[Any], held: concurrent.futures.Future[bool]) -> None:
        """Deliveries made in a transaction about to commit: to the server at once."""
        commit_id = next(commit_ids)
        channel.send(("created", commit_id, to_wire_deliveries(made)))
        committing.append((commit_id, held))

    def after_store(conn: Connection, touched: list[int]) -> tuple[list[Any], bool]:
        assert flush is not None
        return flush.flush_inline(conn, touched, stop=committer.cut_short)

    committer = Committer(
        db,
        clock,
        after_store=after_store if flush is not None else None,
        on_created=created,
        # a page waiting behind a storm's batch: the flush at intake is cut short for it
        interrupt=lambda: channel.waiting(PROMPT_ALERTS),
    )
    heap.settle()  # what the configuration, the runbooks and the modules hold: frozen
    channel.send(("ready",))
    releaser = heap.Releaser().start()  # what a burst of batches freed goes back to the system

    def commit(batches: list[tuple[int, repo.Prepared]]) -> None:
        """Commit and answer the batches gathered so far, and empty the list; then what the
        flush at intake was cut short of, if no commit took it."""
        parts = _commits(batches)
        if committer.carried and not any(carry for _part, carry in parts):
            parts.append(([], True))
        for part, carry in parts:
            outcomes, left = committer.commit([batch for _seq, batch in part], carry)
            settled = [(commit_id, held.result()) for commit_id, held in committing]
            committing.clear()
            answers = [(seq, result) for (seq, _b), result in zip(part, outcomes, strict=True)]
            channel.send(("done", answers, left, settled))
        batches.clear()

    try:
        while True:
            # while a flush at intake was cut short, its rest is done as soon as nothing waits
            messages = channel.receive(block=not committer.carried)
            if messages is None:
                return
            # our turn at the database first, then whatever is waiting by then: batches that
            # arrived while another process held the file share this commit
            with committer.turn.hold():
                messages += channel.receive(block=False) or []  # None: seen next time
                batches: list[tuple[int, repo.Prepared]] = []
                for message in messages:
                    if message[0] == "batch":
                        batches.append((message[1], repo.Prepared.from_wire(message[2])))
                        continue
                    commit(batches)  # what came before, in order
                    if message[0] == "reload":
                        if flush is not None:
                            flush.reload()
                            heap.settle()  # the configuration it replaced: collected
                    elif message[0] == "stop":
                        channel.send(("stopped",))
                        return
                commit(batches)
    except (BrokenPipeError, ConnectionResetError):
        return  # the server went away
    finally:
        releaser.stop()
        committer.close()
        db.dispose()


def _commits(
    batches: list[tuple[int, repo.Prepared]],
) -> list[tuple[list[tuple[int, repo.Prepared]], bool]]:
    """The batches in commits of up to ``MAX_ALERTS_PER_COMMIT`` alerts (a larger batch
    alone), each with whether it carries on the flushes cut short before (``Committer``).

    Small requests (at most ``PROMPT_ALERTS`` alerts) commit first, together, carrying
    nothing: a new page is not made to wait for the storm's batches that arrived with it, nor
    for the flushes cut short before (one commit more, only when both kinds wait). A small
    request that names an alert of a larger one before it keeps its place: the later word
    on an alert is stored last."""
    prompt: list[tuple[int, repo.Prepared]] = []
    rest: list[tuple[int, repo.Prepared]] = []
    named: set[str] = set()  # the alerts of the larger batches so far
    for item in batches:
        batch = item[1]
        if len(batch) <= PROMPT_ALERTS and named.isdisjoint(batch.values):
            prompt.append(item)
        else:
            rest.append(item)
            named.update(batch.values)
    parts: list[tuple[list[tuple[int, repo.Prepared]], bool]] = [(prompt, False)] if prompt else []
    chunks: list[list[tuple[int, repo.Prepared]]] = []
    size = 0
    for item in rest:
        if not chunks or size + len(item[1]) > MAX_ALERTS_PER_COMMIT:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += len(item[1])
    return parts + [(chunk, True) for chunk in chunks]
