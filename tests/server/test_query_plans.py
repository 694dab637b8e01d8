"""The plans of the flush's hot reads, on both databases (issue 18): what made a storm's
flush read a whole group or every alert, held to the plan the database chooses. Plans, not
seconds: each test asks the database how it would run the statement the store sends."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tocsin.store import bulk, repo
from tocsin.store.db import begin_write

MEMBERS = 2_000  # alerts in the big group; as many more in one-alert incidents


def _fill(conn: Any) -> None:
    """A big group (incident 1, its members clean but the last ten dirty) and many
    one-alert incidents, as a storm leaves them; no statistics gathered."""
    conn.execute(
        text(
            "INSERT INTO incidents (id, group_key, route_id, receiver, group_labels, status,"
            " opened_at, first_alert_at, last_alert_at, group_wait_s, group_interval_s,"
            " repeat_interval_s) SELECT g, 'k' || g, 'r', 'x', '{}', 'pending', 1, 1, 1, 0, 60,"
            f" 3600 FROM ({_series(MEMBERS + 1)}) AS s"
        )
    )
    conn.execute(
        text(
            "INSERT INTO alerts (fingerprint, source, generator_url, labels, annotations,"
            " starts_at, ends_at, updated_at, timeout) SELECT 'f' || g, 'api', '', '{}', '{}',"
            f" 1, 9e9, 1, false FROM ({_series(2 * MEMBERS)}) AS s"
        )
    )
    conn.execute(
        text(
            "INSERT INTO incident_alerts (incident_id, fingerprint, added_at, dirty)"
            f" SELECT 1, 'f' || g, 1, g > {MEMBERS - 10} FROM ({_series(MEMBERS)}) AS s"
        )
    )
    conn.execute(
        text(
            "INSERT INTO incident_alerts (incident_id, fingerprint, added_at, dirty)"
            f" SELECT g - {MEMBERS - 1}, 'f' || g, 1, true"
            f" FROM ({_series(2 * MEMBERS)}) AS s WHERE g > {MEMBERS}"
        )
    )


def _series(n: int) -> str:
    """The numbers 1..n as a one-column table, on either database."""
    return (
        f"WITH RECURSIVE c(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM c WHERE g < {n})"
        " SELECT g FROM c"
    )


def _sent(monkeypatch: pytest.MonkeyPatch, read: Any) -> tuple[str, list[Any]]:
    """The statement (as the driver gets it) and parameters that ``read`` sends."""
    seen: list[tuple[str, list[Any]]] = []
    real = bulk._unprepared

    def capture(conn: Any, cursor: Any, sql: str, params: list[Any]) -> None:
        seen.append((sql, params))
        real(conn, cursor, sql, params)

    real_fetch = bulk.fetch

    def fetch(conn: Any, sql: str, params: Any = ()) -> list[Any]:
        seen.append((sql.format(p=bulk._marker(conn)), list(params)))
        return real_fetch(conn, sql, params)

    with monkeypatch.context() as patch:
        patch.setattr(bulk, "_unprepared", capture)
        patch.setattr(bulk, "fetch", fetch)
        read()
    assert seen
    return seen[-1]


def _plan(conn: Any, sql: str, params: list[Any]) -> str:
    """How the database would run it: SQLite's query plan; PostgreSQL's generic plan (a
    prepared statement's, which psycopg uses after a few runs)."""
    cursor = conn.connection.driver_connection.cursor()
    if conn.dialect.name == "sqlite":
        rows = cursor.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        return "\n".join(str(r[-1]) for r in rows)
    cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    numbers = iter(range(1, len(params) + 1))
    cursor.execute("PREPARE tocsin_plan AS " + re.sub(r"%[sb]", lambda _: f"${next(numbers)}", sql))
    import psycopg  # PostgreSQL only: EXECUTE takes its arguments as literals, not bound

    literal = psycopg.ClientCursor(conn.connection.driver_connection)
    literal.execute(f"EXPLAIN EXECUTE tocsin_plan({','.join(['%s'] * len(params))})", params)
    cursor = literal
    plan = "\n".join(r[0] for r in cursor.fetchall())
    cursor.execute("DEALLOCATE tocsin_plan")
    return plan


def test_a_big_groups_dirty_members_are_read_by_the_partial_index(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with begin_write(db) as conn:
        _fill(conn)
        found: list[Any] = []
        sql, params = _sent(monkeypatch, lambda: found.extend(repo.dirty_members(conn, 1, 5)))
        assert len(found) == 5 and all(fp.startswith("f") for fp, *_ in found)
        plan = _plan(conn, sql, params)
        # not the primary key's whole range for incident 1 (every member), then a filter
        assert "ix_incident_alerts_dirty" in plan, plan
        sql, params = _sent(monkeypatch, lambda: repo.dirty_counts(conn, [1, 2, 3]))
        assert repo.dirty_counts(conn, [1, 2, 3]) == {1: 10, 2: 1, 3: 1}
        assert "ix_incident_alerts_dirty" in _plan(conn, sql, params)


def test_a_batchs_members_are_found_by_seeks_whatever_the_statistics(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite's planner uses no statistics here (none were gathered)")
    with begin_write(db) as conn:
        _fill(conn)
        wanted = list(range(2, 102))
        found: dict[int, Any] = {}
        sql, params = _sent(monkeypatch, lambda: found.update(repo.members_of(conn, wanted)))
        assert all(len(found[i]) == 1 for i in wanted)
        plan = _plan(conn, sql, params)
        assert "Seq Scan on alerts" not in plan and "Hash" not in plan, plan
        # a message's first members of the big group by fingerprint: fifty seeks, not all
        listed: list[Any] = []
        sql, params = _sent(
            monkeypatch, lambda: listed.extend(repo.members_by_fingerprint(conn, 1, 50))
        )
        assert len(listed) == 50
        plan = _plan(conn, sql, params)
        assert "Seq Scan on alerts" not in plan and "Hash" not in plan, plan
        # and the intake's look-up of each posted alert's latest episode
        fingerprints = [f"f{n}" for n in range(1, 101)]
        current: dict[str, Any] = {}
        sql, params = _sent(
            monkeypatch, lambda: current.update(repo.current_alerts(conn, fingerprints))
        )
        assert sorted(current) == sorted(fingerprints)
        plan = _plan(conn, sql, params)
        assert "Seq Scan on alerts" not in plan and "Hash" not in plan, plan


def test_the_intakes_flushes_are_claimed_by_their_refs_whatever_the_backlog(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flush at intake claims its incidents' flush items by ref. With every flush item
    ever made overdue or in the table (a storm's), the claim still looks each ref up in the
    (kind, ref) index: on PostgreSQL its generic plan had scanned every item of the kind at
    each claim (statistics never gathered), 30 ms per claim of 250 after 60,000 incidents."""
    with begin_write(db) as conn:
        conn.execute(
            text(
                "INSERT INTO due_work (kind, ref, due_at, attempts, priority)"
                f" SELECT 'flush', g, g, 0, 0 FROM ({_series(2 * MEMBERS)}) AS s"
            )
        )
        # one of the refs is leased to another engine, one falls due later, one is another kind
        conn.execute(
            text("UPDATE due_work SET lease_owner = 'other', lease_until = 9e9 WHERE ref = 7")
        )
        conn.execute(text("UPDATE due_work SET due_at = 1e9 WHERE ref = 8"))
        conn.execute(
            text("INSERT INTO due_work (kind, ref, due_at, attempts) VALUES ('ack', 5, 1, 0)")
        )
        refs = list(range(1, 101))
        claimed: list[Any] = []
        sql, params = _sent(
            monkeypatch,
            lambda: claimed.extend(
                repo.claim_due(conn, 5_000.0, "engine", 60.0, 100, kinds=["flush"], refs=refs)
            ),
        )
        assert [r.ref for r in claimed] == [r for r in refs if r not in (7, 8)]
        assert {r.kind for r in claimed} == {"flush"}
        assert all(r.lease_owner == "engine" and r.lease_until == 5_060.0 for r in claimed)
        # taken: a second claim finds none of them
        assert repo.claim_due(conn, 5_000.0, "other", 60.0, 100, kinds=["flush"], refs=refs) == []
        # the oldest first, as many as the limit
        later = list(range(200, 300))
        first = repo.claim_due(conn, 5_000.0, "engine", 60.0, 3, kinds=["flush"], refs=later)
        assert [r.ref for r in first] == [200, 201, 202]
        plan = _plan(conn, sql, params)
        if db.dialect.name == "postgresql":
            # each ref a seek of the unique index on both its columns, not a scan of the kind
            assert re.search(r"uq_due_work_kind_ref\s.*\n\s*Index Cond: .*ref = r\.ref", plan), plan
        else:
            assert re.search(r"SEARCH due_work USING INDEX \S+ \(kind=\? AND ref=\?\)", plan), plan


def test_the_next_delivery_is_found_among_the_deliveries_alone(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine asks when the next delivery falls due at each wake-up. With a storm's
    flush items in the table and no delivery among them, the answer reads the deliveries'
    own rows, not the due-time index until a delivery turns up (on PostgreSQL without
    statistics, every row of the table each time)."""
    with begin_write(db) as conn:
        conn.execute(
            text(
                "INSERT INTO due_work (kind, ref, due_at, attempts, priority)"
                f" SELECT 'flush', g, g, 0, 0 FROM ({_series(40_000)}) AS s"
            )
        )
        sql, params = _sent(monkeypatch, lambda: repo.next_due_at(conn, only=["deliver"]))
        assert repo.next_due_at(conn, only=["deliver"]) is None
        plan = _plan(conn, sql, params)
        assert "ix_due_work_due" not in plan, plan
        conn.execute(
            text(
                "INSERT INTO due_work (kind, ref, due_at, attempts, priority)"
                " VALUES ('deliver', 1, 30.5, 0, 1), ('deliver', 2, 20.5, 0, 2)"
            )
        )
        assert repo.next_due_at(conn, only=["deliver"]) == 20.5
        assert repo.next_due_at(conn, exclude=["deliver"]) == 1.0
        assert repo.next_due_at(conn) == 1.0
