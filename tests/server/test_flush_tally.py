"""The incremental flush (issue 18): a flush that reads only the alerts that changed and keeps
the incident's tally gives the same answers as one that reads every alert, for random
sequences of alerts firing, resolving, ending by themselves, re-sent and silenced.

Two SQLite databases take the same alerts at the same times; one is flushed by its tally
whenever it can (``BIG`` lowered to 2), the other always reads every alert
(``_in_full``). After every step
their timelines, their alerts' states and their incidents must be the same."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from tocsin import times
from tocsin.alerts.matchers import parse_matcher
from tocsin.alerts.model import Alert, with_defaults
from tocsin.alerts.silences import Silence
from tocsin.clock import VirtualClock
from tocsin.config.load import parse_config
from tocsin.engine import flush
from tocsin.engine.loop import DueWorkEngine
from tocsin.store import repo
from tocsin.store.db import begin_write, make_engine, upgrade

START = 1_800_000_000.0
CONFIG = parse_config(
    """
route:
  receiver: default
  group_wait: 0s
  group_interval: 10s
  repeat_interval: 1h
receivers: [{name: default}]
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="info"']
"""
)
INSTANCES = 7

# one step: alerts posted (instance, what), time passing, or a silence of one instance
Post = tuple[str, list[tuple[int, str]]]
post = st.tuples(
    st.just("post"),
    st.lists(
        st.tuples(
            st.integers(0, INSTANCES - 1),
            st.sampled_from(["fire", "fire-short", "resolve", "earlier", "critical"]),
        ),
        min_size=1,
        max_size=4,
    ),
)
advance = st.tuples(st.just("advance"), st.sampled_from([10, 10, 35, 70, 200]))
silence = st.tuples(st.just("silence"), st.integers(0, INSTANCES - 1))
info = st.tuples(st.just("info"), st.integers(0, INSTANCES - 1))
step = st.one_of(post, advance, post, advance, post, advance, silence, info)  # mostly


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("tally") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    yield path


def _alert(instance: int, what: str, now: float) -> Alert:
    labels = {"alertname": "Disk" if instance % 2 else "Load", "instance": f"n{instance}"}
    at = times.to_dt(now)
    if what == "critical":
        labels["severity"] = "critical"
    if what == "info":
        labels["severity"] = "info"
    if what == "resolve":
        return with_defaults(
            Alert(labels=labels, starts_at=at - timedelta(seconds=5), ends_at=at), at, 300
        )
    if what == "earlier":
        return with_defaults(Alert(labels=labels, starts_at=at - timedelta(seconds=600)), at, 300)
    # the same start each time, as Prometheus sends it; "fire" with no end (it times out
    # after resolve_timeout, 300 s), "fire-short" with one 40 s ahead (sooner: it wins)
    ends = at + timedelta(seconds=40) if what == "fire-short" else None
    return with_defaults(Alert(labels=labels, starts_at=times.to_dt(START), ends_at=ends), at, 300)


def _silence(number: int, instance: int, now: float, seconds: float) -> Silence:
    """A silence of one instance's alerts from ``now``, for ``seconds``."""
    return Silence(
        id=f"00000000-0000-0000-0000-{number:012d}",
        matchers=(parse_matcher(f'instance="n{instance}"'),),
        starts_at=times.to_dt(now),
        ends_at=times.to_dt(now + seconds),
        created_by="test",
        comment="",
        updated_at=times.to_dt(now),
    )


def _state(db: Engine) -> dict[str, Any]:
    with db.connect() as conn:
        return {
            "timeline": [
                tuple(r)
                for r in conn.execute(
                    text("SELECT incident_id, at, kind, detail FROM timeline ORDER BY id")
                )
            ],
            "members": [
                tuple(r)
                for r in conn.execute(
                    text(
                        "SELECT incident_id, fingerprint, said, sent FROM incident_alerts"
                        " ORDER BY incident_id, fingerprint"
                    )
                )
            ],
            "incidents": [
                tuple(r)
                for r in conn.execute(
                    text(
                        "SELECT id, status, last_flush_at, last_flush_digest, title, resolved_at"
                        " FROM incidents ORDER BY id"
                    )
                )
            ],
        }


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=3, max_size=16))
def test_the_tally_gives_the_answers_of_a_full_read(
    steps: list[Any], template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = VirtualClock(START)
    dbs: dict[int, Engine] = {}
    engines: dict[int, DueWorkEngine] = {}
    run = uuid.uuid4().hex[:8]
    for big in (2, 10**9):
        path = tmp_path / f"{run}-{big}.db"
        shutil.copy(template, path)
        dbs[big] = make_engine(f"sqlite:///{path}")
        engines[big] = DueWorkEngine(dbs[big], CONFIG, clock, owner=f"w{big}")
    by_tally = flush._by_tally

    def never(*args: Any) -> None:  # the reference reads every alert, always
        return None

    try:
        for kind, arg in [("post", [(i, "fire") for i in range(INSTANCES - 1)]), *steps]:
            now = clock.now()
            for db in dbs.values():
                with begin_write(db) as conn:
                    if kind == "post":
                        alerts = [_alert(i, what, now) for i, what in arg]
                        repo.ingest(conn, alerts, times.to_dt(now), CONFIG.route)
                    elif kind == "info":
                        repo.ingest(
                            conn, [_alert(arg, "info", now)], times.to_dt(now), CONFIG.route
                        )
                    elif kind == "silence":
                        repo.save_silence(conn, _silence(len(steps) * 10**6 + arg, arg, now, 60))
            if kind == "advance":
                clock.advance(arg)
            for big, engine in engines.items():
                monkeypatch.setattr(flush, "BIG", big)
                monkeypatch.setattr(flush, "_by_tally", by_tally if big == 2 else never)
                engine.run_due()
            assert _state(dbs[2]) == _state(dbs[10**9]), (kind, arg)
    finally:
        for db in dbs.values():
            db.dispose()


def test_a_big_group_is_flushed_by_its_tally(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new incident's first flush, and those of an incident past ``BIG`` unresolved alerts,
    read only what changed; a change of the silences reads them all."""
    path = tmp_path / "big.db"
    shutil.copy(template, path)
    db = make_engine(f"sqlite:///{path}")
    clock = VirtualClock(START)
    engine = DueWorkEngine(db, CONFIG, clock)
    monkeypatch.setattr(flush, "BIG", 3)
    read: list[str] = []
    real_full, real_tally = flush._in_full, flush._by_tally

    def in_full(*args: Any) -> Any:
        read.append("full")
        return real_full(*args)

    def by_tally(*args: Any) -> Any:
        found = real_tally(*args)
        if found is not None:
            read.append("tally")
        return found

    monkeypatch.setattr(flush, "_in_full", in_full)
    monkeypatch.setattr(flush, "_by_tally", by_tally)

    def post(*instances: int, what: str = "fire") -> None:
        with begin_write(db) as conn:
            now = clock.now()
            alerts = [_alert(i, what, now) for i in instances]
            repo.ingest(conn, alerts, times.to_dt(now), CONFIG.route)

    post(0, 1, 2, 3)
    engine.run_due()
    clock.advance(10)
    post(4)
    engine.run_due()
    clock.advance(10)
    post(1, what="resolve")
    post(2, what="fire-short")  # ends in 40 s instead of 300: found when it has ended
    engine.run_due()
    clock.advance(45)
    engine.run_due()
    assert read == ["tally", "tally", "tally", "tally"]  # a new incident's first flush too
    with db.connect() as conn:
        said: dict[str, str] = dict(
            conn.execute(text("SELECT fingerprint, said FROM incident_alerts")).all()
        )
    assert sorted(said.values()) == ["fired", "fired", "fired", "resolved", "resolved"]
    with db.connect() as conn:
        dirty = conn.execute(text("SELECT count(*) FROM incident_alerts WHERE dirty")).scalar()
    assert dirty == 0
    with begin_write(db) as conn:  # muting may change for alerts that did not: all are read
        repo.save_silence(conn, _silence(1, 0, clock.now(), 3600))
    clock.advance(10)
    engine.run_due()
    clock.advance(10)
    post(5)
    engine.run_due()
    assert read[4:] == ["full", "tally"]
    db.dispose()


def _in_small_chunks(
    template: Path, path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Engine, VirtualClock, DueWorkEngine]:
    """A database from the template and an engine whose flushes read 3 changed alerts at a
    time, from groups of 2 (``CHUNK``, ``BIG``)."""
    shutil.copy(template, path)
    db = make_engine(f"sqlite:///{path}")
    clock = VirtualClock(START)
    monkeypatch.setattr(flush, "CHUNK", 3)
    monkeypatch.setattr(flush, "BIG", 2)
    return db, clock, DueWorkEngine(db, CONFIG, clock)


def test_a_flush_that_is_behind_catches_up_before_it_speaks(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More changed alerts than one flush reads: each flush reads ``CHUNK`` and comes back
    ``CATCH_UP_S`` later, and the news goes out once, when it has read them all."""
    db, clock, engine = _in_small_chunks(template, tmp_path / "behind.db", monkeypatch)
    with begin_write(db) as conn:
        alerts = [_alert(i, "fire", START) for i in range(INSTANCES)]
        alerts[3] = _alert(3, "critical", START)
        repo.ingest(conn, alerts, times.to_dt(START), CONFIG.route)
    passes = 0
    while engine.run_due():
        passes += 1
        clock.advance(flush.CATCH_UP_S)
    with db.connect() as conn:
        kinds = [r[0] for r in conn.execute(text("SELECT kind FROM timeline ORDER BY id"))]
        sent = conn.execute(text("SELECT count(*) FROM incident_alerts WHERE sent")).scalar()
        severity = conn.execute(text("SELECT severity FROM incidents")).scalar()
    assert passes == 3  # 3 + 3 + 1 alerts
    assert kinds.count("alerts_changed") == 3
    assert kinds.count("group_flushed") == 1 and kinds.count("triggered") == 1
    assert sent == INSTANCES  # those read while it held back too
    assert severity == "critical"  # rated from every firing alert, not the last chunk's
    db.dispose()


def test_a_flush_that_is_behind_leaves_the_intake_twice_as_long_as_it_took(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A catching-up flush that held the database for 2 s comes back 4 s after it ended, not
    ``CATCH_UP_S`` after it began (when it would be due at once, and the intake would only
    get in between two flushes: 400 alerts/s in a storm's catching up, against 14,000): the
    intake keeps two thirds of the database while a storm is read."""
    db, clock, engine = _in_small_chunks(template, tmp_path / "slow.db", monkeypatch)
    read = repo.dirty_members

    def slow(*args: Any, **kwargs: Any) -> Any:
        clock.advance(2.0)  # the chunk took 2 s to read
        return read(*args, **kwargs)

    monkeypatch.setattr(repo, "dirty_members", slow)
    with begin_write(db) as conn:
        alerts = [_alert(i, "fire", START) for i in range(INSTANCES)]
        repo.ingest(conn, alerts, times.to_dt(START), CONFIG.route)
    began = clock.now()
    assert engine.run_due() == 1
    with db.connect() as conn:
        due_at = conn.execute(text("SELECT due_at FROM due_work WHERE kind = 'flush'")).scalar()
    assert due_at == pytest.approx(began + 2.0 + 4.0)
    db.dispose()


def test_alerts_that_end_together_are_read_a_chunk_at_a_time(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A storm's alerts that stop being sent end together (resolve_timeout after they came):
    a flush reads at most ``CHUNK`` of those too, and catches up before it speaks, rather
    than read every one at once (a million-alert group: 2 GB and the intake starved)."""
    db, clock, engine = _in_small_chunks(template, tmp_path / "ended.db", monkeypatch)
    read: list[int] = []
    real_ended = repo.ended_members

    def ended_members(*args: Any) -> Any:
        found = real_ended(*args)
        read.append(len(found))
        return found

    monkeypatch.setattr(repo, "ended_members", ended_members)

    def post(*instances: int) -> None:
        with begin_write(db) as conn:
            alerts = [_alert(i, "fire", clock.now()) for i in instances]
            repo.ingest(conn, alerts, times.to_dt(clock.now()), CONFIG.route)

    post(*range(INSTANCES))  # each ends 300 s later unless sent again
    while engine.run_due():
        clock.advance(flush.CATCH_UP_S)
    clock.advance(100)
    post(0)  # still sent: it ends 300 s from now
    engine.run_due()
    clock.advance(210)  # the other six have ended
    passes = 0
    while engine.run_due():
        passes += 1
        clock.advance(flush.CATCH_UP_S)
    with db.connect() as conn:
        said = sorted(r[0] for r in conn.execute(text("SELECT said FROM incident_alerts")))
        flushed = conn.execute(
            text("SELECT detail FROM timeline WHERE kind = 'group_flushed' ORDER BY id")
        ).all()
    assert read == [4, 3]  # 3 and one more to know it is behind; then the other 3
    assert passes == 2
    assert said == ["fired"] + ["resolved"] * 6
    assert len(flushed) == 2  # the first firing, then the six resolved: said once, not twice
    db.dispose()
