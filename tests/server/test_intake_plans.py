"""On PostgreSQL, the intake's key lookups use their indexes even before the planner has
statistics (a new database, or autovacuum turned off): without them it guesses that a list of
100 keys matches half the table and scans all of it, once per batch."""

from __future__ import annotations

from sqlalchemy import Connection, text

from tests.server.conftest import postgres_database
from tocsin.store import bulk, repo
from tocsin.store.db import HeldWriter, begin_write, make_engine, upgrade

INCIDENTS = 5_000
KEYS = 100


def _plan(conn: Connection, keys: list[str]) -> str:
    rows = bulk.select_in(conn, "EXPLAIN " + repo._OPEN_SQL, keys, ["resolved"])
    return "\n".join(str(row[0]) for row in rows)


def test_the_open_incident_lookup_uses_its_index_without_statistics() -> None:
    with postgres_database() as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
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
            keys = [f"key-{n}" for n in range(1, INCIDENTS, INCIDENTS // KEYS)]
            # the premise: a plain transaction on this never-analysed table scans it
            with begin_write(engine) as conn:
                assert "Seq Scan on incidents" in _plan(conn, keys)
            held = HeldWriter(engine)
            try:
                with held.begin() as conn:
                    plan = _plan(conn, keys)
                    assert "Seq Scan" not in plan
                    assert "ix_incidents_open" in plan
                    found = bulk.select_in(conn, repo._OPEN_SQL, keys, ["resolved"])
                    assert sorted(row[0] for row in found) == sorted(keys)
                # the setting is the transaction's: the connection goes on planning as usual
                assert conn.exec_driver_sql("SHOW enable_seqscan").scalar() == "on"
                conn.rollback()
            finally:
                held.close()
        finally:
            engine.dispose()
