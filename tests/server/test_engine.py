"""Group flushes on the virtual clock: an hour of grouping runs in milliseconds."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from tests.server.conftest import START, Api, make_state
from tocsin import times
from tocsin.clock import VirtualClock
from tocsin.engine import loop
from tocsin.engine.loop import DueWorkEngine
from tocsin.store import repo
from tocsin.store.kinds import FLUSH
from tocsin.store.schema import due_work, timeline


def kinds(api: Api, incident: int) -> list[str]:
    return [e["kind"] for e in api.get(f"/api/v1/incidents/{incident}/timeline").json()]


def test_group_wait_interval_and_resolution(api: Api, clock: VirtualClock) -> None:
    hour = "2027-01-15T09:00:00Z"  # firing, with an end an hour ahead as Prometheus sends
    api.post("/api/v2/alerts", [{"labels": {"alertname": "Disk", "instance": "a"}, "endsAt": hour}])
    [incident] = api.get("/api/v1/incidents").json()
    assert incident["status"] == "pending" and incident["receiver"] == "default"
    assert api.run_engine() == 0  # group_wait is 30s: nothing due yet
    clock.advance(30)
    assert api.run_engine() == 1
    # the flush's event follows the trigger: it says whether the channels were told
    assert kinds(api, incident["id"]) == ["opened", "alerts_changed", "triggered", "group_flushed"]
    clock.advance(60)
    api.post("/api/v2/alerts", [{"labels": {"alertname": "Disk", "instance": "b"}, "endsAt": hour}])
    assert api.run_engine() == 0  # the next flush waits for group_interval (5m)
    clock.advance(240)
    assert api.run_engine() == 1
    flushes = [
        e
        for e in api.get(f"/api/v1/incidents/{incident['id']}/timeline").json()
        if e["kind"] == "group_flushed"
    ]
    assert [len(f["detail"]["firing"]) for f in flushes] == [1, 2]
    clock.advance(300)
    api.run_engine()  # nothing changed: no new flush on the timeline (dedup)
    assert kinds(api, incident["id"]).count("group_flushed") == 2
    api.post(
        "/api/v2/alerts",
        [
            {
                "labels": {"alertname": "Disk", "instance": i},
                "startsAt": "2027-01-15T08:00:00Z",
                "endsAt": "2027-01-15T08:10:00Z",
            }
            for i in ("a", "b")
        ],
    )
    clock.advance(300)
    api.run_engine()
    timeline_ = api.get(f"/api/v1/incidents/{incident['id']}/timeline").json()
    assert [e["kind"] for e in timeline_][-3:] == ["alerts_changed", "group_flushed", "resolved"]
    assert timeline_[-3]["detail"]["resolved"] == 2  # one event for both (issue 18)
    assert len(timeline_[-2]["detail"]["resolved"]) == 2
    assert api.get(f"/api/v1/incidents/{incident['id']}").json()["status"] == "resolved"
    assert api.get("/api/v1/incidents?status=resolved").json()[0]["id"] == incident["id"]


def test_critical_route_flushes_at_once_and_repeats(api: Api, clock: VirtualClock) -> None:
    api.post("/api/v2/alerts", [{"labels": {"alertname": "DatabaseDown", "severity": "critical"}}])
    assert api.run_engine() == 1  # group_wait 0s on the critical route
    [incident] = api.get("/api/v1/incidents").json()
    assert incident["status"] == "triggered" and incident["receiver"] == "pager"
    for _ in range(48):  # four hours in five-minute steps, the alert kept firing
        clock.advance(300)
        api.post(
            "/api/v2/alerts", [{"labels": {"alertname": "DatabaseDown", "severity": "critical"}}]
        )
        api.run_engine()
    assert kinds(api, incident["id"]).count("group_flushed") == 2  # first + repeat at 4h


def test_silenced_alerts_are_flushed_as_muted(api: Api, clock: VirtualClock) -> None:
    api.post(
        "/api/v2/silences",
        {
            "matchers": [{"name": "alertname", "value": "Noisy", "isRegex": False}],
            "startsAt": "2027-01-15T08:00:00Z",
            "endsAt": "2027-01-15T10:00:00Z",
            "createdBy": "me",
            "comment": "known",
        },
    )
    api.post("/api/v2/alerts", [{"labels": {"alertname": "Noisy"}}])
    clock.advance(30)
    api.run_engine()
    [incident] = api.get("/api/v1/incidents").json()
    assert incident["status"] == "pending"  # nothing unmuted was carried
    assert kinds(api, incident["id"]) == ["opened", "alerts_changed"]  # and said so once
    said = api.get(f"/api/v1/incidents/{incident['id']}/timeline").json()[1]["detail"]
    assert (said["silenced"], said["fired"], said["still_firing"]) == (1, 0, 0)
    clock.advance(120)
    api.run_engine()
    assert kinds(api, incident["id"]) == ["opened", "alerts_changed"]


def test_a_crashed_workers_lease_is_taken_over(db: Engine, clock: VirtualClock) -> None:
    state = make_state(db, clock)
    with db.begin() as conn:
        repo.ingest(conn, [_alert("A")], times.to_dt(START), state.config.route)
    clock.advance(30)
    crashed = DueWorkEngine(db, state.config, clock, owner="crashed")
    with db.begin() as conn:
        assert len(repo.claim_due(conn, clock.now(), "crashed", 60)) == 1  # then it dies
    other = DueWorkEngine(db, state.config, clock, owner="other")
    assert other.run_due() == 0  # the lease still holds
    clock.advance(61)
    assert other.run_due() == 1  # lapsed: taken over
    assert crashed.owner == "crashed"
    with db.connect() as conn:
        flushed = conn.execute(
            select(func.count()).select_from(timeline).where(timeline.c.kind == "group_flushed")
        ).scalar_one()
    assert flushed == 1


def test_thousands_of_flushes_due_at_once_each_run_once(db: Engine, clock: VirtualClock) -> None:
    state = make_state(db, clock)
    count = 2_000  # issue 4 raises this to 10,000 escalations once steps are batched
    batch = [_alert(f"Alert{i}") for i in range(count)]
    with db.begin() as conn:
        result = repo.ingest(conn, batch, times.to_dt(START), state.config.route)
    assert result.new_incidents == count
    clock.advance(30)
    first = DueWorkEngine(db, state.config, clock, owner="one")
    second = DueWorkEngine(db, state.config, clock, owner="two")
    handled = first.run_due(limit=500) + second.run_due(limit=500)
    assert handled == count
    with db.connect() as conn:
        flushed = conn.execute(
            select(timeline.c.incident_id, func.count())
            .where(timeline.c.kind == "group_flushed")
            .group_by(timeline.c.incident_id)
        ).all()
        pending = conn.execute(
            select(func.count()).select_from(due_work).where(due_work.c.due_at <= clock.now())
        ).scalar_one()
    assert len(flushed) == count and {n for _i, n in flushed} == {1}
    assert pending == 0  # every group is rescheduled for its next interval


def _alert(name: str):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from tocsin.alerts.model import Alert

    now = times.to_dt(START)
    return Alert(
        labels={"alertname": name}, starts_at=now, ends_at=now + timedelta(hours=1), updated_at=now
    )


def test_the_writer_wakes_the_engine_only_for_work_it_left(db: Engine, clock: VirtualClock) -> None:
    """A group with a group_wait leaves a flush due later: the engine hears when. A critical
    group (group_wait 0s) is flushed in the intake's transaction: nothing is left, no wake-up.
    When the flush at intake fails, the engine hears that work is due now."""
    import asyncio

    from tocsin.intake.writer import AlertWriter

    state = make_state(db, clock)
    engine = DueWorkEngine(db, state.config, clock, owner="me")
    heard: list[float] = []
    created: list[object] = []
    failing = False

    def after_store(conn, touched):  # type: ignore[no-untyped-def]
        if failing:
            # half done, then broken: the half is undone, the alerts stand
            repo.add_timeline(conn, touched[0], times.to_dt(START), "note", {"text": "half"})
            raise RuntimeError("boom")
        return engine.flush_inline(conn, touched)

    writer = AlertWriter(
        db,
        lambda: state.config.route,
        clock,
        on_commit=heard.append,
        after_store=after_store,
        on_created=lambda deliveries, _committed: created.extend(deliveries),
    )

    async def post(*alerts) -> repo.IngestResult:  # type: ignore[no-untyped-def]
        return await writer.write(list(alerts))

    try:
        result = asyncio.run(post(_alert("Disk")))
        assert result.touched == [] and heard == [START + 30]  # the route's group_wait
        heard.clear()
        critical = _alert("DatabaseDown")
        critical.labels["severity"] = "critical"
        result = asyncio.run(post(critical))
        assert len(result.touched) == 1 and heard == []  # flushed at intake
        failing = True
        other = _alert("CacheDown")
        other.labels["severity"] = "critical"
        asyncio.run(post(other))
        assert heard == [START]  # left to the engine, due now
        with db.connect() as conn:
            assert repo.current_alerts(conn, [other.fingerprint])
            kinds = {
                e.kind
                for i in repo.incidents_of(conn, other.fingerprint)
                for e in repo.incident_events(conn, i)
            }
        assert "opened" in kinds and "note" not in kinds
    finally:
        writer.close()
    assert engine.sleeps_past(START)  # between passes (none ran) it may have missed anything


def test_deliveries_are_handed_over_before_the_commit_and_sent_only_if_it_held(
    db: Engine, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deliveries a flush at intake creates are handed over just before the commit, with
    a future: True once the commit held, and then they are sent; False when it failed, and
    then nothing was stored, nothing is sent (a page must not name an incident that does not
    exist: its id could be given to another) and the request is answered with an error."""
    import asyncio
    import contextlib

    import pytest

    from tests.server.conftest import CONFIG
    from tocsin.intake.writer import AlertWriter
    from tocsin.notify.retry import Outcome

    text = CONFIG.replace(
        "      group_wait: 0s\n", "      group_wait: 0s\n      channels: [ops]\n"
    ).replace("receivers:\n", "channels:\n  - {name: ops, type: console}\nreceivers:\n")
    state = make_state(db, clock, text)
    sent: list[str] = []

    def factory(cfg, _http):  # type: ignore[no-untyped-def]
        class Recorder:
            name = cfg.name
            kind = "recorder"

            async def send(self, message):  # type: ignore[no-untyped-def]
                sent.append(message.idempotency_key)
                return Outcome(ok=True, status=200)

        return Recorder()

    engine = DueWorkEngine(db, state.config, clock, owner="me", channel_factory=factory)
    handed: list[tuple[list[object], object]] = []

    def deliver(deliveries, committed) -> int:  # type: ignore[no-untyped-def]
        async def go() -> int:
            try:
                return await engine.deliverer.send(deliveries, asyncio.wrap_future(committed))
            finally:
                await engine.deliverer.close()

        return asyncio.run(go())

    writer = AlertWriter(
        db,
        lambda: state.config.route,
        clock,
        after_store=engine.flush_inline,
        on_created=lambda deliveries, committed: handed.append((deliveries, committed)),
    )

    async def post(alert) -> repo.IngestResult:  # type: ignore[no-untyped-def]
        return await writer.write([alert])

    try:
        held = _alert("DatabaseDown")
        held.labels["severity"] = "critical"
        asyncio.run(post(held))
        ((deliveries, committed),) = handed
        assert deliveries and committed.result(timeout=5) is True  # type: ignore[attr-defined]
        assert deliver(deliveries, committed) == 1 and len(sent) == 1

        real_begin = writer._committer._held.begin

        @contextlib.contextmanager
        def failing_commit():  # type: ignore[no-untyped-def]
            with real_begin() as conn:
                yield conn
                raise OSError("disk full")  # after the work, in place of the commit

        monkeypatch.setattr(writer._committer._held, "begin", failing_commit)
        lost = _alert("CacheDown")
        lost.labels["severity"] = "critical"
        with pytest.raises(RuntimeError):
            asyncio.run(post(lost))
        assert len(handed) == 3  # the batch is tried once more before it is given up
        for deliveries, committed in handed[1:]:
            assert deliveries and committed.result(timeout=5) is False  # type: ignore[attr-defined]
            assert deliver(deliveries, committed) == 0
        assert len(sent) == 1  # only the page of the incident that was stored
    finally:
        writer.close()
    with db.connect() as conn:
        assert repo.current_alerts(conn, [held.fingerprint])
        assert not repo.current_alerts(conn, [lost.fingerprint])


def test_a_full_disk_during_the_flush_at_intake_is_not_answered_as_stored(
    db: Engine, clock: VirtualClock
) -> None:
    """SQLite rolls the whole transaction back on a full disk, savepoint and all: the alerts
    went with it, so the request must hear an error (and its sender post again), never
    "stored"."""
    import asyncio

    from tocsin.intake.writer import AlertWriter
    from tocsin.store import bulk

    if db.dialect.name != "sqlite":
        pytest.skip("SQLite's behaviour on a full disk; PostgreSQL keeps the transaction")
    state = make_state(db, clock)
    engine = DueWorkEngine(db, state.config, clock, owner="me")

    def after_store(conn, touched):  # type: ignore[no-untyped-def]
        # the disk fills up while the flush writes (max_page_count stands for ENOSPC)
        pages = bulk.fetch(conn, "PRAGMA page_count")[0][0]
        bulk.execute(conn, f"PRAGMA max_page_count={pages + 2}")
        try:
            bulk.execute(conn, "CREATE TABLE IF NOT EXISTS filler (x BLOB)")
            for _ in range(200):
                bulk.execute(conn, "INSERT INTO filler VALUES ({p})", [b"x" * 4000])
        finally:
            bulk.execute(conn, "PRAGMA max_page_count=1073741823")
        return engine.flush_inline(conn, touched)

    writer = AlertWriter(db, lambda: state.config.route, clock, after_store=after_store)
    alert = _alert("Acknowledged")
    alert.labels["severity"] = "critical"
    try:
        with pytest.raises(RuntimeError):
            asyncio.run(writer.write([alert]))
    finally:
        writer.close()
    with db.connect() as conn:
        assert not repo.current_alerts(conn, [alert.fingerprint])


def test_every_kind_of_due_work_has_its_stage() -> None:
    from tocsin.engine.loop import CYCLE
    from tocsin.store import kinds

    assert set(CYCLE) | {kinds.DELIVER} == set(kinds.KINDS)
    assert kinds.DELIVER not in CYCLE  # sent after the batch commits, by the Deliverer


def test_a_one_alert_request_is_flushed_at_intake_beside_a_big_batch(
    db: Engine, clock: VirtualClock
) -> None:
    """A commit whose batches bring more new groups than the flush at intake takes does each
    request's first ones in turn: a request of one new critical alert that shares the commit
    with a storm's batch is flushed (and pages) at intake, not left behind the storm's
    flushes for the engine."""
    from tocsin.engine.loop import INLINE_LIMIT
    from tocsin.intake.commit import Committer, in_turn

    assert in_turn([[1, 2, 3], [], [4], [5, 6]]) == [1, 4, 5, 2, 6, 3]
    state = make_state(db, clock)
    engine = DueWorkEngine(db, state.config, clock, owner="me")
    committer = Committer(db, clock, after_store=engine.flush_inline)
    storm = [_alert(f"Storm{i}") for i in range(INLINE_LIMIT + 5)]
    probe = _alert("DatabaseDown")
    for alert in [*storm, probe]:
        alert.labels["severity"] = "critical"  # group_wait 0s: due at intake
    now = times.to_dt(START)
    try:
        results, _due = committer.commit(
            [
                repo.prepare(storm, now, state.config.route, "api"),
                repo.prepare([probe], now, state.config.route, "api"),
            ]
        )
    finally:
        committer.close()
    assert results[1] is not None
    (incident,) = results[1].touched
    with db.connect() as conn:
        flushed = {
            row.incident_id
            for row in conn.execute(
                select(timeline.c.incident_id).where(timeline.c.kind == "group_flushed")
            )
        }
    assert incident in flushed
    assert len(flushed) == INLINE_LIMIT  # the rest are the engine's, as before


@pytest.mark.parametrize(
    ("failure", "again_s"),
    [
        (OperationalError("UPDATE …", {}, Exception("deadlock detected")), 5.0),
        (ValueError("a fault of ours"), 60.0),
    ],
)
def test_due_work_that_failed_on_the_databases_account_is_tried_again_soon(
    db: Engine,
    clock: VirtualClock,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
    again_s: float,
) -> None:
    """A flush whose transaction the database failed (a deadlock victim, a lock wait that
    timed out) is tried again in seconds; one that failed for a reason of its own waits a
    whole lease rather than fail again at once."""
    state = make_state(db, clock)
    with db.begin() as conn:
        repo.ingest(conn, [_alert("A")], times.to_dt(START), state.config.route)
    clock.advance(30)
    engine = DueWorkEngine(db, state.config, clock, owner="me")

    def fails(*_args: object) -> None:
        raise failure

    monkeypatch.setitem(loop.CYCLE, FLUSH, fails)
    assert engine.run_due() == 1
    with db.connect() as conn:
        lease_until = conn.execute(select(due_work.c.lease_until)).scalar_one()
    assert lease_until == pytest.approx(clock.now() + again_s)
