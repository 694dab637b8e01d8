"""Running the server: one process, or several worker processes sharing the port.

Each worker is a whole tocsin (API, writer, engine) on the same database: they share the port
through ``SO_REUSEPORT`` (the kernel spreads connections) and the database's due work through
leases, as separate ``tocsin serve`` processes would. The parent applies migrations once,
starts the workers, forwards SIGTERM/SIGINT/SIGHUP to them, and stops when they have.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

log = logging.getLogger("tocsin.serve")
# On SIGTERM, requests still being answered this long after are cut (the console's live
# streams end by themselves at once: ``web.live.STOPPING``).
STOP_GRACE_S = 10


def first_signin(db: Any, url: str, now: float) -> str | None:
    """The console's first sign-in link while the server has no admin, by token or password
    (None once it has one, or when the server has no key to sign it with: ``store.linkkey``)."""
    from tocsin.service.tokens import has_admin
    from tocsin.store import linkkey
    from tocsin.web import session

    key = linkkey.link_key(db)
    if key is None or has_admin(db):
        return None
    return url + session.first_link(session.session_key(key), int(now) + session.FIRST_S)


@dataclass(frozen=True)
class ServeOptions:
    config: Path
    database_url: str  # already resolved (SQLite file or PostgreSQL)
    host: str
    port: int
    log_level: str | None = None  # None: the configuration's (logging.level)
    log_format: str | None = None  # None: the configuration's (logging.format)


def listening_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def run_one(options: ServeOptions, reuse_port: bool, on_ready: str | None = None) -> None:
    """One server process: the API, the writer and the engine, until SIGTERM/SIGINT."""
    import uvicorn

    from tocsin import heap, logs
    from tocsin.api.app import create_app
    from tocsin.api.state import AppState
    from tocsin.clock import RealClock
    from tocsin.config import ConfigError, load_config
    from tocsin.service.context import load_runbooks
    from tocsin.store.db import make_engine
    from tocsin.times import parse_duration
    from tocsin.web import console, live

    config = load_config(options.config)
    level = options.log_level or config.model.logging.level
    logs.configure(level, options.log_format or config.model.logging.format)
    state = AppState(
        db=make_engine(options.database_url),
        config=config,
        clock=RealClock(),
        config_path=options.config,
        catalog=load_runbooks(config),
        after_reload=settle_memory,  # what the old configuration held can be collected now
    )
    http = config.model.http

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            live.STOPPING.set()  # the console's live streams end, not the requests in hand
            super().handle_exit(sig, frame)

    server = Server(
        uvicorn.Config(
            console.install(create_app(state, writer_process=True)),
            host=options.host,
            port=options.port,
            log_level=level.lower(),
            log_config=None,  # tocsin.logs configured the loggers
            access_log=False,
            http=guarded_protocol(
                header_timeout_s=parse_duration(http.header_timeout),
                body_timeout_s=parse_duration(http.body_timeout),
                max_header_bytes=http.max_header_bytes,
            ),
            timeout_keep_alive=max(1, round(parse_duration(http.keep_alive_timeout))),
            limit_concurrency=http.max_connections + 1,  # uvicorn counts the one asking
            # what is still being answered after this is cut (the console's live streams)
            timeout_graceful_shutdown=STOP_GRACE_S,
        )
    )
    for policy in config.paging.policies.values():
        for note in policy.notes:
            log.warning(note)
    log.info(
        "connections: headers within %s, bodies within %s, idle keep-alive %s, at most %d",
        http.header_timeout,
        http.body_timeout,
        http.keep_alive_timeout,
        http.max_connections,
    )
    sock = listening_socket(options.host, options.port, reuse_port)
    settle_memory()
    heap.Releaser().start()  # what a storm's bursts freed goes back to the system (daemon)

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def on_hup() -> None:
            try:
                state.reload()
            except ConfigError as exc:
                log.error("reload failed, keeping the running configuration:\n%s", exc)

        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGHUP, on_hup)
        if on_ready:
            print(on_ready, flush=True)
        await server.serve(sockets=[sock])

    run_loop(main())


def guarded_protocol(
    header_timeout_s: float, body_timeout_s: float, max_header_bytes: int
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools) with the deadlines it lacks: a client must send a
    request's headers within ``header_timeout_s`` (counted from the connection, or from the
    first byte of a later request on a kept-alive connection) and its body within
    ``body_timeout_s`` after the headers; otherwise the connection is closed. Headers over
    ``max_header_bytes`` are answered 431 and the connection closed. An idle kept-alive
    connection is uvicorn's own ``timeout_keep_alive``; connections over
    ``limit_concurrency`` are answered 503. What the application does with a request is not
    timed here."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None
        _header_bytes = 0
        _reading_headers = False

        def _arm(self, seconds: float, what: str) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._expired, what)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self, what: str) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                log.info(
                    "closing a connection: %s not received in time",
                    what,
                    extra=_fields(client=_peer(self.client)),
                )
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._reading_headers = True
            self._header_bytes = 0
            self._arm(header_timeout_s, "request headers")

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            counting = self._reading_headers
            if counting:
                self._header_bytes += len(data)
            super().data_received(data)
            # still no end of the headers after this read: too large
            if counting and self._reading_headers and self._header_bytes > max_header_bytes:
                self._disarm()
                if not self.transport.is_closing():
                    self.transport.write(
                        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                        b"content-length: 0\r\nconnection: close\r\n\r\n"
                    )
                    self.transport.close()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if not self._reading_headers:  # a later request on a kept-alive connection
                self._reading_headers = True
                self._header_bytes = 0
                self._arm(header_timeout_s, "request headers")

        def on_headers_complete(self) -> None:
            self._reading_headers = False
            self._arm(body_timeout_s, "request body")  # disarmed when the message is whole
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

    return GuardedProtocol


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "?"


def _fields(**values: Any) -> dict[str, Any]:
    from tocsin.logs import fields

    return fields(**values)


def settle_memory() -> None:
    """The server's long-lived objects kept off the garbage collector (``heap.settle``)."""
    from tocsin import heap

    heap.settle()


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop (uvicorn[standard] brings it) where it is installed: a faster event
    loop for the same asyncio code."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a platform without uvloop
        asyncio.run(main)
        return
    uvloop.run(main)


def _worker(options: ServeOptions) -> None:
    run_one(options, reuse_port=True)


def run_workers(options: ServeOptions, workers: int) -> int:
    """Start ``workers`` processes on one port and wait for them; the exit code."""
    with shared_metrics():
        return _run_workers(options, workers)


@contextlib.contextmanager
def shared_metrics() -> Iterator[None]:
    """A directory where the workers keep their counters, so that ``/metrics`` on any of them
    sums all (``tocsin.metrics``); removed when they have stopped. One the environment
    already names is used as it is."""
    from tocsin.metrics import MULTIPROCESS_DIR

    if os.environ.get(MULTIPROCESS_DIR):
        yield
        return
    directory = tempfile.mkdtemp(prefix="tocsin-metrics-")
    os.environ[MULTIPROCESS_DIR] = directory  # the workers are spawned with it
    try:
        yield
    finally:
        del os.environ[MULTIPROCESS_DIR]
        shutil.rmtree(directory, ignore_errors=True)


def _run_workers(options: ServeOptions, workers: int) -> int:
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker, args=(options,), name=f"tocsin-worker-{i}")
        for i in range(workers)
    ]
    for process in processes:
        process.start()

    stopping: set[int] = set()

    def forward(signum: int, _frame: FrameType | None) -> None:
        if signum != signal.SIGHUP:
            stopping.add(signum)
        for process in processes:
            if process.pid is not None and process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    for process in processes:
        process.join()
    # a worker that ends by the stop signal it was sent (uvicorn re-raises it after its
    # graceful shutdown) stopped cleanly
    codes = [
        0 if (p.exitcode or 0) < 0 and -(p.exitcode or 0) in stopping else (p.exitcode or 0)
        for p in processes
    ]
    return max(codes, key=abs) if codes else 0
