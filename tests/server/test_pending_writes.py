"""A batch of due work holds its row writes back and sends them together (store/pending.py,
issue 18's ``per-alert`` storm): the same storm, worked with and without the holding back,
leaves the same database and sends the same messages; a batch of new incidents held in a
storm costs a few statements, not sixteen each; a read inside the batch sees every write
held back; a scope that fails leaves nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from tests.notify.sinks import HttpSink
from tests.server.conftest import START, Api, postgres_database
from tests.server.test_storm import CONFIG, Storm, storm  # noqa: F401 (a fixture)
from tocsin import times
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.store import bulk, pending, repo
from tocsin.store.db import begin_write, make_engine, upgrade
from tocsin.store.schema import metadata, timeline

# what differs between two runs by nature: who leased or sent (host, process, a random id),
# how long a send took
RANDOM = {"lease_owner", "owner", "duration_ms"}


@contextlib.contextmanager
def database(kind: str, tmp_path: Path, name: str) -> Iterator[Engine]:
    if kind == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / name}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    with postgres_database() as url:
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()


# what the deliveries write, sent concurrently: their order varies between runs by nature
SENDING = ("notification_attempts", "timeline")
DELIVERY_KINDS = {"notified", "notify_failed", "held_back"}


def dump(db: Engine) -> dict[str, Any]:
    """Every row of every table but the tokens', by primary key, without what is random. The
    timeline and the delivery attempts, which sends running at once write in either order,
    as sorted lists without their ids; and each incident's own events (but those of
    deliveries) in their order."""
    out: dict[str, Any] = {}
    with db.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name == "api_tokens":
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            rows = [
                {k: v for k, v in row._mapping.items() if k not in RANDOM}
                for row in conn.execute(select(table).order_by(*order))
            ]
            if table.name in SENDING:
                out[table.name] = sorted(
                    repr(sorted((k, v) for k, v in r.items() if k != "id")) for r in rows
                )
            else:
                out[table.name] = rows
        sequences: dict[int, list[tuple[Any, ...]]] = {}
        for row in conn.execute(select(timeline).order_by(timeline.c.id)):
            if row.kind not in DELIVERY_KINDS:
                sequences.setdefault(row.incident_id, []).append((row.at, row.kind, row.detail))
        out["events_in_order"] = sequences
    return out


def storm_run(db: Engine, hold_back: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """issue 18's storm on a virtual clock: incidents that page, one that leads, a batch held,
    an acknowledgement, a digest's update, alerts that end; the database and the messages."""
    with monkeypatch.context() as patch:
        if not hold_back:
            patch.setattr(pending, "deferred", lambda conn: contextlib.nullcontext())
        clock = VirtualClock(START)
        with HttpSink() as team, HttpSink() as pager, HttpSink() as other:
            sinks = {"team": team, "pager": pager, "other": other}
            config = parse_config(CONFIG.format(team=team.url, pager=pager.url, other=other.url))
            state = AppState(db=db, config=config, clock=clock)
            with TestClient(create_app(state, run_engine=False)) as client:
                storm = Storm(Api(client, state, db), clock, sinks)
                storm.fire(3, severity="warning")  # page
                storm.fire(1, severity="warning")  # leads
                held = storm.fire(40, severity="warning")  # held, in one batch
                storm.fire(2, severity="critical")  # more severe than the lead: pages
                storm.advance(31)  # the digest's update
                lead = held[0] - 1
                assert (
                    storm.api.post(
                        f"/api/v1/incidents/{lead}/ack", {}, role="responder"
                    ).status_code
                    == 200
                )
                storm.fire(5, severity="warning")  # covered as they join
                storm.advance(600)  # the next flushes
                storm.fire(3, severity="warning", team="other")
                storm.advance(3 * 3600)  # alerts end (endsAt), incidents resolve
            # sent at once, in either order
            messages = {name: sorted(r.body for r in sink.requests) for name, sink in sinks.items()}
    return dump(db), messages


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_storm_leaves_the_same_database_with_and_without_holding_writes_back(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with database(kind, tmp_path, "held.db") as db:
        held_back = storm_run(db, True, monkeypatch)
    with database(kind, tmp_path, "plain.db") as db:
        plain = storm_run(db, False, monkeypatch)
    tables, messages = held_back
    assert len(tables["timeline"]) > 200 and len(tables["storms"]) >= 1
    assert any(m for m in messages.values())
    for name in tables:
        assert tables[name] == plain[0][name], f"table {name} differs"
    assert messages == plain[1]


def test_a_batch_held_in_a_storm_costs_a_few_statements(
    storm: Storm,  # noqa: F811 (test_storm's fixture)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storm.fire(4, severity="warning")  # three page, the fourth leads
    statements = []
    real = bulk._cursor

    def counted(conn: Any, sql: str) -> Any:
        statements.append(sql)
        return real(conn, sql)

    monkeypatch.setattr(bulk, "_cursor", counted)
    held = storm.fire(100, severity="warning")
    monkeypatch.undo()
    assert all(storm.events(i, "storm_held") for i in (held[0], held[-1]))
    # the intake's own (about ten), then the flushes': without holding back, 1,600
    assert len(statements) < 80, len(statements)


def _incident(conn: Any) -> int:
    row = conn.execute(
        text(
            "INSERT INTO incidents (group_key, route_id, receiver, group_labels, status,"
            " opened_at, first_alert_at, last_alert_at, group_wait_s, group_interval_s,"
            " repeat_interval_s) VALUES ('k', 'r', 'x', '{}', 'pending', 1, 1, 1, 0, 60, 3600)"
            " RETURNING id"
        )
    ).first()
    return int(row.id)


def test_a_read_in_the_batch_sees_every_write_held_back(db: Engine) -> None:
    with begin_write(db) as conn:
        incident = _incident(conn)
        with pending.deferred(conn) as waiting:
            repo.lock_incidents(conn, [incident])
            repo.update_incident(conn, incident, status="triggered", severity="warning")
            repo.add_timeline(conn, incident, times.to_dt(START), "triggered", {"n": 1})
            assert not waiting.empty()
            # the row kept shows the update without a statement
            assert repo.get_incident(conn, incident).status == "triggered"
            # a read on the driver's cursor of another table sends nothing; one of a table
            # with writes waiting sends them all first
            bulk.fetch(conn, "SELECT count(*) AS n FROM alerts")
            assert waiting.waiting == {"incidents", "timeline"}
            rows = bulk.fetch(conn, "SELECT status FROM incidents WHERE id = {p}", [incident])
            assert rows[0].status == "triggered" and waiting.empty()
            # any read through SQLAlchemy sends everything
            repo.add_timeline(conn, incident, times.to_dt(START), "note", {"n": 2})
            kinds = [e["kind"] for e in repo.incident_timeline(conn, incident)]
            assert kinds == ["triggered", "note"] and waiting.empty()
            # a write by another statement: the row kept is read again
            conn.execute(text(f"UPDATE incidents SET severity = 'critical' WHERE id = {incident}"))
            assert repo.get_incident(conn, incident).severity == "critical"


def test_a_scope_that_fails_leaves_nothing(db: Engine) -> None:
    with begin_write(db) as conn:
        incident = _incident(conn)
    with pytest.raises(RuntimeError), begin_write(db) as conn, pending.deferred(conn):
        repo.update_incident(conn, incident, status="triggered")
        repo.add_timeline(conn, incident, times.to_dt(START), "triggered", {})
        raise RuntimeError("the batch failed")
    with begin_write(db) as conn:
        assert repo.get_incident(conn, incident).status == "pending"
        with pending.deferred(conn):
            with contextlib.suppress(RuntimeError), bulk.savepoint(conn):
                repo.update_incident(conn, incident, status="triggered")
                raise RuntimeError("the part failed")
            repo.update_incident(conn, incident, severity="warning")
        row = repo.get_incident(conn, incident)
        assert (row.status, row.severity) == ("pending", "warning")
        assert repo.incident_timeline(conn, incident) == []


def test_statements_go_together_only_where_each_rows_order_holds() -> None:
    a, b = "UPDATE t SET x = {p}", "UPDATE t SET y = {p}"
    together = pending.in_groups(
        [(a, (1,), "r1"), (b, (2,), "r1"), (a, (3,), "r2"), (b, (4,), "r2")]
    )
    assert together == [(a, [(1,), (3,)]), (b, [(2,), (4,)])]
    # r2 wrote y before x: grouping would swap them, so they go one by one as they came
    swapped = [(a, (1,), "r1"), (b, (2,), "r1"), (b, (3,), "r2"), (a, (4,), "r2")]
    assert pending.in_groups(swapped) == [(sql, [params]) for sql, params, _ in swapped]
