"""The intake with several replicas on one database: replicas that take the same new alert at
once open one incident between them; and on PostgreSQL the intake's key lookups use their
indexes even before the planner has statistics (a new database, or autovacuum turned off)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Connection, Engine, text

from tests.server.conftest import CONFIG, START, postgres_database
from tocsin import times
from tocsin.alerts.model import Alert
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.intake.commit import Committer
from tocsin.intake.turn import HeldWriter
from tocsin.store import bulk, repo
from tocsin.store.db import begin_write, make_engine, upgrade

INCIDENTS = 5_000
KEYS = 100
SAME_MOMENT = 40  # new alerts, each posted to both replicas at once


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_database() as url:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


def test_two_replicas_taking_the_same_new_alert_open_one_incident(database_url: str) -> None:
    """Prometheus posts every alert to each replica it knows. (On SQLite the writers of one
    file always took turns.)"""
    upgrade_engine = make_engine(database_url)
    upgrade(upgrade_engine)
    upgrade_engine.dispose()
    _race(database_url)


def test_replicas_take_turns_whatever_isolation_the_server_defaults_to(pg_url: str) -> None:
    """Under REPEATABLE READ the snapshot would be taken before the turn is: the intake's
    connection keeps READ COMMITTED."""
    import psycopg

    name = pg_url.rsplit("/", 1)[1]
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(
            f"ALTER DATABASE \"{name}\" SET default_transaction_isolation = 'repeatable read'"
        )
    _race(pg_url)


def _race(url: str) -> None:
    """Both replicas' writers store each new alert at the same moment (a barrier before
    each transaction); each group must end with one open incident and each fingerprint with
    one episode."""
    route = parse_config(CONFIG).route
    clock = VirtualClock(START)
    replicas = [make_engine(url) for _ in range(2)]
    committers = [Committer(engine, clock) for engine in replicas]
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def replica(committer: Committer) -> None:
        try:
            for n in range(SAME_MOMENT):
                now = times.to_dt(START)
                alert = Alert(
                    labels={"alertname": f"Race{n}", "instance": "a"},  # a group each
                    starts_at=now,
                    ends_at=now + timedelta(hours=1),
                    updated_at=now,
                )
                batch = repo.prepare([alert], now, route, "api")
                barrier.wait(timeout=30)
                outcomes, _due = committer.commit([batch])
                assert outcomes[0] is not None
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=replica, args=(c,)) for c in committers]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not failures, failures
        with replicas[0].connect() as conn:
            incidents, groups = conn.execute(
                text("SELECT count(*), count(DISTINCT group_key) FROM incidents")
            ).one()
            episodes, fingerprints = conn.execute(
                text("SELECT count(*), count(DISTINCT fingerprint) FROM alerts")
            ).one()
        assert (incidents, groups) == (SAME_MOMENT, SAME_MOMENT)
        assert (episodes, fingerprints) == (SAME_MOMENT, SAME_MOMENT)
    finally:
        for committer in committers:
            committer.close()
        for engine in replicas:
            engine.dispose()


def _plan(conn: Connection, keys: list[str]) -> str:
    rows = bulk.select_in(conn, "EXPLAIN " + repo._OPEN_SQL, keys, ["resolved"])
    return "\n".join(str(row[0]) for row in rows)


def _many_incidents(engine: Engine) -> list[str]:
    """INCIDENTS open incidents in a table never analysed; KEYS of their group keys."""
    with begin_write(engine) as conn:
        conn.execute(
            text(
                "INSERT INTO incidents (group_key, route_id, receiver, group_labels,"
                " status, opened_at, first_alert_at, last_alert_at, group_wait_s,"
                " group_interval_s, repeat_interval_s)"
                " SELECT 'key-' || n, 'r', 'default', '{}', 'pending', 0, 0, 0, 0, 300,"
                " 14400 FROM generate_series(1, :n) AS n"
            ),
            {"n": INCIDENTS},
        )
    return [f"key-{n}" for n in range(1, INCIDENTS, INCIDENTS // KEYS)]


def test_the_open_incident_lookup_uses_its_index_without_statistics(pg_url: str) -> None:
    engine = make_engine(pg_url)
    held = HeldWriter(engine)
    try:
        with engine.begin() as conn:  # no statistics until the test has looked
            conn.execute(text("ALTER TABLE incidents SET (autovacuum_enabled = off)"))
        keys = _many_incidents(engine)
        with begin_write(engine) as conn:
            plain = _plan(conn, keys)
        if "Seq Scan on incidents" not in plain:
            pytest.skip("this server's planner takes the index even without statistics")
        with held.begin() as conn:
            plan = _plan(conn, keys)
            assert "Seq Scan" not in plan
            assert "ix_incidents_open" in plan
            found = bulk.select_in(conn, repo._OPEN_SQL, keys, ["resolved"])
            assert sorted(row[0] for row in found) == sorted(keys)
            settings = [
                conn.exec_driver_sql(f"SHOW {name}").scalar()
                for name in ("lock_timeout", "idle_in_transaction_session_timeout")
            ]
            assert settings == ["30s", "30s"]
        # the settings are the transaction's: the connection goes on as usual
        assert conn.exec_driver_sql("SHOW enable_seqscan").scalar() == "on"
        assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "0"
        conn.rollback()
    finally:
        held.close()
        engine.dispose()


def test_the_intake_never_waits_for_a_flush_the_engine_has_claimed(pg_url: str) -> None:
    """The engine claims an incident's flush (its due row, locked until it commits) and then
    locks the incident; the intake locks the incident and then makes sure it has a flush due.
    Were the intake to write to the claimed due row, each would wait for the other: the
    deadlock that failed a storm's flushes on PostgreSQL, each failed flush then left for a
    minute's lease. The intake reads which flushes exist instead, and never waits for one."""
    route = parse_config(CONFIG).route
    engine = make_engine(pg_url)
    now = times.to_dt(START)

    def alert(instance: str) -> Alert:
        return Alert(
            labels={"alertname": "Storm", "instance": instance},  # one group
            starts_at=now,
            ends_at=now + timedelta(hours=1),
            updated_at=now,
        )

    try:
        with begin_write(engine) as conn:
            first = repo.ingest(conn, [alert("a")], now, route)
        assert first.new_incidents == 1
        with engine.connect() as holder, holder.begin():
            claimed = repo.claim_due(holder, START + 60, "engine", 60.0, kinds=["flush"])
            assert [item.kind for item in claimed] == ["flush"]
            with begin_write(engine) as conn:
                # the claim is never committed in this test: waiting for it would wait forever
                conn.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
                joined = repo.ingest(conn, [alert("b")], now, route)
            assert joined.new_incidents == 0
            # the engine's flush then takes the incident, as flush.due does
            incident = repo.get_incident(holder, claimed[0].ref, lock=True)
            assert incident is not None and incident.status == "pending"
        with engine.connect() as conn:
            due = conn.execute(text("SELECT count(*) FROM due_work WHERE kind = 'flush'"))
            assert due.scalar() == 1  # the incident's one flush, never a second
    finally:
        engine.dispose()
