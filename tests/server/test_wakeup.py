"""LISTEN/NOTIFY: a transaction that adds due work wakes the engines of other processes when
it commits (PostgreSQL); on SQLite there is nothing to listen to."""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from tocsin.store.db import begin_write
from tocsin.store.wakeup import Listener, notify


def test_a_commit_that_adds_work_wakes_a_listener(db: Engine) -> None:
    woken = threading.Event()
    listener = Listener(db, woken.set)
    listener.start()
    try:
        if db.dialect.name != "postgresql":
            assert listener._thread is None  # SQLite: engines poll every second instead
            return
        # the listener connects in its thread; notify until it has (bounded, not timed)
        for _ in range(100):
            with begin_write(db) as conn:
                notify(conn)
            if woken.wait(0.1):
                break
        assert woken.is_set()
        woken.clear()
        with begin_write(db) as conn:
            notify(conn)
            conn.rollback()  # a rolled-back transaction wakes nobody
        assert not woken.wait(0.5)
    finally:
        listener.stop()
