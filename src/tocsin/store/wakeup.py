"""Waking the engines of other processes at once when new work is due.

In one process the writer and the API wake the engine directly. Across processes on
PostgreSQL, every transaction that adds due work sends ``NOTIFY tocsin_due`` (delivered when it
commits); each engine listens on its own connection. On SQLite, other processes notice within
the engine's idle interval (one second).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Connection, Engine, text

log = logging.getLogger("tocsin.store.wakeup")
CHANNEL = "tocsin_due"


def notify(conn: Connection) -> None:
    """Inside a write transaction: tell the other processes' engines when it commits."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"NOTIFY {CHANNEL}"))


class Listener:
    """A thread holding ``LISTEN tocsin_due`` on PostgreSQL, calling ``wake`` on each
    notification; reconnects after errors. Nothing to do on other databases."""

    def __init__(self, db: Engine, wake: Callable[[], None]) -> None:
        self.db = db
        self.wake = wake
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.db.dialect.name != "postgresql":
            return
        self._thread = threading.Thread(target=self._run, name="tocsin-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        url = self.db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.wake()
            except Exception as exc:  # the database went away: try again shortly
                log.warning("LISTEN %s failed (%s); retrying", CHANNEL, exc)
                self._stop.wait(2.0)
