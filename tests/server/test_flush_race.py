"""On PostgreSQL the engine's flush and the intake run in separate transactions at once (the
engine in the server, the intake in its writer process, and on every replica). A group whose
alerts have all ended is resolved by its flush; a new alert of that group arriving meanwhile
must never end up in the resolved incident, where it would never page. Both orders, forced
with a transaction held open while the other one runs. (On SQLite one writer at a time.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from tests.server.conftest import CONFIG, START, postgres_database
from tocsin import times
from tocsin.alerts.model import Alert
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.engine.loop import DueWorkEngine
from tocsin.intake.commit import Committer
from tocsin.intake.turn import HeldWriter
from tocsin.store import repo
from tocsin.store.db import begin_write, make_engine, upgrade

WAIT_S = 30.0


@pytest.fixture
def pg() -> Iterator[Engine]:
    with postgres_database() as url:
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()


def _alert(instance: str, clock: VirtualClock, ended: bool = False, name: str = "Disk") -> Alert:
    now = times.to_dt(clock.now())
    return Alert(
        labels={"alertname": name, "instance": instance},
        starts_at=now - timedelta(minutes=5),
        ends_at=now if ended else now + timedelta(hours=1),
        updated_at=now,
    )


def _batch(alerts: list[Alert], clock: VirtualClock) -> repo.Prepared:
    return repo.prepare(alerts, times.to_dt(clock.now()), parse_config(CONFIG).route, "api")


def _ended_group(db: Engine, clock: VirtualClock, names: tuple[str, ...] = ("Disk",)) -> int:
    """The Disk group's incident (and those of the other ``names``), flushed once, whose one
    alert has since ended; its next flush (due now) resolves it."""
    committer = Committer(db, clock)
    engine = DueWorkEngine(db, parse_config(CONFIG), clock, owner="engine")
    try:
        committer.commit([_batch([_alert("a", clock, name=n) for n in names], clock)])
        clock.advance(30)
        assert engine.run_due() == len(names)  # group_wait: the first flushes
        committer.commit([_batch([_alert("a", clock, True, n) for n in names], clock)])
        clock.advance(300)  # group_interval: the flushes that resolve them are due
    finally:
        committer.close()
    return _incidents(db)[0]


def _incidents(db: Engine) -> list[int]:
    with db.connect() as conn:
        return [r.id for r in conn.execute(text("SELECT id FROM incidents ORDER BY id"))]


def _where(db: Engine, instance: str) -> list[tuple[int, str]]:
    """The incidents holding the alert of ``instance``, with their status."""
    with db.connect() as conn:
        return [
            (r.id, r.status)
            for r in conn.execute(
                text(
                    "SELECT i.id, i.status FROM incidents i JOIN incident_alerts m"
                    " ON m.incident_id = i.id JOIN alerts a ON a.fingerprint = m.fingerprint"
                    " WHERE a.labels LIKE :like ORDER BY i.id"
                ),
                {"like": f'%"instance":"{instance}"%'},
            )
        ]


def _until_waiting(db: Engine) -> None:
    """Until another transaction on this database waits for a lock (the one held open)."""
    deadline = time.monotonic() + WAIT_S
    with db.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database()"
                )
            ).scalar()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError("the other transaction never waited for the one held open")


def _in_thread(work: object) -> tuple[threading.Thread, list[BaseException]]:
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()  # type: ignore[operator]
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, failures


def test_a_new_alert_during_the_resolving_flush_opens_a_new_incident(pg: Engine) -> None:
    """The engine's flush first: it resolves the incident while the intake waits for it; the
    intake then finds the incident resolved and opens another for the new alert."""
    clock = VirtualClock(START)
    resolved = _ended_group(pg, clock)
    engine = DueWorkEngine(pg, parse_config(CONFIG), clock, owner="engine")
    committer = Committer(pg, clock)
    try:
        with begin_write(pg) as conn:  # the engine's pass, held open
            [item] = repo.claim_due(conn, clock.now(), "engine", 60, 10)
            engine._handle(conn, item, clock.now())
            thread, failures = _in_thread(
                lambda: committer.commit([_batch([_alert("b", clock)], clock)])
            )
            _until_waiting(pg)
        thread.join(30)
        assert not failures, failures
    finally:
        committer.close()
    holders = _where(pg, "b")
    assert len(holders) == 1 and holders[0][1] != "resolved", holders
    assert holders[0][0] != resolved
    assert dict((i, s) for i, s in _where(pg, "a"))[resolved] == "resolved"


@pytest.mark.parametrize("names", [("Disk",), ("Disk", "Load")], ids=["alone", "in a batch"])
def test_a_flush_waits_for_the_new_alert_and_does_not_resolve(
    pg: Engine, names: tuple[str, ...]
) -> None:
    """The intake first: it adds a firing alert to the incident and holds its transaction
    open; the engine's flush waits for it and then sees the new alert: nothing to resolve.
    In a batch of flushes, the alerts of all are read at once first (the prefetch)."""
    clock = VirtualClock(START)
    incident = _ended_group(pg, clock, names)
    engine = DueWorkEngine(pg, parse_config(CONFIG), clock, owner="engine")
    held = HeldWriter(pg)
    try:
        with held.begin() as conn:  # the intake's transaction, held open
            repo.store(conn, _batch([_alert("b", clock)], clock))
            thread, failures = _in_thread(engine.run_due)
            _until_waiting(pg)
        thread.join(30)
        assert not failures, failures
    finally:
        held.close()
    assert _where(pg, "b") == [(incident, "triggered")]
    with pg.connect() as conn:  # the other group had nothing new: resolved
        statuses = [
            r.status for r in conn.execute(text("SELECT status FROM incidents ORDER BY id"))
        ]
    assert statuses == ["triggered"] + ["resolved"] * (len(names) - 1)
