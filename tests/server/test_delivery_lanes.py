"""Humans protected from a storm (issue 18 item 4): deliveries go by lane (a critical page
before thousands of warnings, and on sends of its own), each person's limit on a contact
method holds what is over it and sends one summary instead, and a group's messages still go
in the order they were decided. On the virtual clock, with real databases and a recording
channel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from textwrap import dedent
from typing import Any

from prometheus_client import generate_latest
from sqlalchemy import Engine, insert, select

from tests.server.conftest import START, Api
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.engine.loop import DueWorkEngine
from tocsin.metrics import Metrics
from tocsin.notify.message import Message, to_json
from tocsin.notify.retry import Outcome
from tocsin.store import outbox
from tocsin.store.schema import held_back, incidents, notifications, timeline

CONFIG = dedent(
    """
    route: {receiver: default}
    receivers: [{name: default}]
    channels:
      - {name: ops, type: console}
      - {name: slow, type: console, concurrency: 1}
      - name: sms
        type: webhook
        url: http://127.0.0.1:9/sms
        person_limit: {count: 2, per: 1m}
    users:
      - {name: alice, contact: [sms]}
    """
)


@dataclass
class Recorder:
    """A channel factory whose channels record what they send; a send to ``gated`` waits
    for ``gate`` (a slow channel)."""

    sent: list[Message] = field(default_factory=list)
    gated: set[str] = field(default_factory=set)
    gate: asyncio.Event | None = None
    entered: asyncio.Event | None = None  # set when a send starts waiting for the gate

    def factory(self, cfg: Any, _http: Any) -> Any:
        recorder = self

        class Channel:
            name = cfg.name
            kind = "recorder"

            async def send(self, message: Message) -> Outcome:
                if message.severity != "critical" and cfg.name in recorder.gated:
                    assert recorder.gate is not None and recorder.entered is not None
                    recorder.entered.set()
                    await recorder.gate.wait()
                recorder.sent.append(message)
                return Outcome(ok=True, status=200)

        return Channel()

    def sent_keys(self) -> list[str]:
        return [m.idempotency_key for m in self.sent]


def engine_for(db: Engine, clock: VirtualClock, recorder: Recorder) -> DueWorkEngine:
    return DueWorkEngine(db, parse_config(CONFIG), clock, "me", channel_factory=recorder.factory)


def run(engine: DueWorkEngine, step: Callable[[], Any] | None = None) -> None:
    async def go() -> None:
        try:
            await (step() if step is not None else engine.run_once())
        finally:
            await engine.deliverer.close()

    asyncio.run(go())


def incident(db: Engine, group: str, severity: str) -> int:
    with db.begin() as conn:
        row = conn.execute(
            insert(incidents)
            .values(
                group_key=group,
                route_id="r",
                receiver="default",
                group_labels="{}",
                status="triggered",
                opened_at=START,
                first_alert_at=START,
                last_alert_at=START,
                group_wait_s=0,
                group_interval_s=60,
                repeat_interval_s=3600,
                severity=severity,
            )
            .returning(incidents.c.id)
        ).first()
    assert row is not None
    return int(row.id)


def queue(
    db: Engine,
    clock: VirtualClock,
    incident_id: int,
    channel: str,
    kind: str,
    severity: str,
    key: str,
    person: str | None = None,
) -> int:
    """One message in the outbox, as the engine writes it."""
    message = Message(
        kind=kind,
        incident_id=incident_id,
        title=f"Incident{incident_id}",
        status="triggered",
        severity=severity,
        summary="",
        group_labels={},
        alerts=(),
        idempotency_key=key,
        created_at="2027-01-15T08:00:00+00:00",
        external_url=f"https://tocsin.example.com/i/{incident_id}",
        recipient={"name": person} if person else None,
    )
    target = f"user:{person}" if person else f"channel:{channel}"
    with db.begin() as conn:
        pending = outbox.Pending(incident_id, channel, target, kind, to_json(message), key)
        (nid,) = outbox.enqueue(conn, [pending], clock.now())
    return nid


def test_a_critical_page_queued_after_500_warnings_is_sent_first(
    db: Engine, clock: VirtualClock
) -> None:
    recorder = Recorder()
    engine = engine_for(db, clock, recorder)
    for n in range(500):
        queue(db, clock, incident(db, f"w{n}", "warning"), "ops", "firing", "warning", f"w{n}")
        clock.advance(0.01)
    page = incident(db, "db", "critical")
    queue(db, clock, page, "ops", "escalation", "critical", "page")
    with db.connect() as conn:
        assert outbox.queued_by_lane(conn) == {0: 1, 4: 500}
    run(engine, lambda: engine.deliverer.run(limit=100))
    assert len(recorder.sent) == 501
    assert recorder.sent_keys()[0] == "page"
    assert recorder.sent_keys()[1:] == [f"w{n}" for n in range(500)]  # then by age
    with db.connect() as conn:
        assert outbox.queued_by_lane(conn) == {}


def test_a_critical_page_does_not_wait_for_a_slow_channels_warnings(
    db: Engine, clock: VirtualClock
) -> None:
    """The channel sends one message at a time and its warnings hang; the critical page that
    arrives meanwhile goes out on the top lane's own sends."""
    recorder = Recorder(gated={"slow"})
    engine = engine_for(db, clock, recorder)
    for n in range(3):
        queue(db, clock, incident(db, f"w{n}", "warning"), "slow", "firing", "warning", f"w{n}")

    async def go() -> None:
        recorder.gate, recorder.entered = asyncio.Event(), asyncio.Event()
        warnings = asyncio.create_task(engine.deliverer.run())
        await recorder.entered.wait()  # a warning holds the channel's one send, and hangs
        page = incident(db, "db", "critical")
        queue(db, clock, page, "slow", "escalation", "critical", "page")
        try:
            # not a measure of speed: a page waiting for the warnings would never go
            await asyncio.wait_for(engine.deliverer.run(), timeout=60)
            assert recorder.sent_keys() == ["page"]  # while the warnings still hang
        finally:
            recorder.gate.set()
            await warnings
            await engine.deliverer.close()
        assert sorted(recorder.sent_keys()[1:]) == ["w0", "w1", "w2"]

    asyncio.run(go())


def test_a_groups_messages_still_go_in_the_order_decided(db: Engine, clock: VirtualClock) -> None:
    """Incident #1's resolution (a warning, informational) was decided before the critical
    page of #2 in the same group: the page is in the top lane, but waits for it."""
    recorder = Recorder()
    engine = engine_for(db, clock, recorder)
    first = incident(db, "db", "warning")
    second = incident(db, "db", "critical")
    queue(db, clock, first, "ops", "resolved", "warning", "first-resolved")
    for n in range(5):
        queue(db, clock, incident(db, f"w{n}", "warning"), "ops", "firing", "warning", f"w{n}")
    queue(db, clock, second, "ops", "escalation", "critical", "second-page")
    run(engine, lambda: engine.deliverer.run(limit=1))  # one claim at a time: the page first
    keys = recorder.sent_keys()
    assert keys.index("first-resolved") < keys.index("second-page")
    assert sorted(keys) == sorted(["first-resolved", "second-page", *(f"w{n}" for n in range(5))])


def timeline_kinds(db: Engine, incident_id: int) -> list[tuple[str, dict[str, Any]]]:
    with db.connect() as conn:
        rows = conn.execute(
            select(timeline.c.kind, timeline.c.detail)
            .where(timeline.c.incident_id == incident_id)
            .order_by(timeline.c.id)
        )
        return [(r.kind, json.loads(r.detail)) for r in rows]


def test_the_third_sms_within_the_window_is_held_and_one_summary_follows(
    db: Engine, clock: VirtualClock
) -> None:
    recorder = Recorder()
    engine = engine_for(db, clock, recorder)
    metrics = engine.deliverer.metrics = Metrics()
    ids = [incident(db, f"g{n}", "warning") for n in range(5)]
    notes = [
        queue(db, clock, i, "sms", "escalation", "warning", f"page{i}", "alice") for i in ids[:3]
    ]
    notes.append(queue(db, clock, ids[3], "sms", "resolved", "warning", f"res{ids[3]}", "alice"))
    notes.append(
        queue(db, clock, ids[4], "sms", "acknowledged", "warning", f"ack{ids[4]}", "alice")
    )
    run(engine)
    # two at once (the limit's burst); the other three held, each said on its timeline
    assert recorder.sent_keys() == [f"page{ids[0]}", f"page{ids[1]}"]
    for i in ids[2:]:
        held = [d for k, d in timeline_kinds(db, i) if k == "held_back"]
        assert len(held) == 1 and held[0]["person"] == "alice" and held[0]["limit"] == "2 per 1m"
        assert held[0]["channel"] == "sms"
    scrape = generate_latest(metrics.registry).decode()
    assert 'tocsin_notifications_held_total{channel_type="webhook"} 3.0' in scrape
    # a critical page is never held: it goes at once, and counts
    page = incident(db, "db", "critical")
    queue(db, clock, page, "sms", "escalation", "critical", "critical-page", "alice")
    clock.advance(1)
    run(engine)
    assert recorder.sent_keys()[-1] == "critical-page"
    # the summary waits for a token: the page took the one that came back
    clock.advance(30)
    run(engine)
    assert recorder.sent_keys()[-1] == "critical-page"
    clock.advance(45)
    run(engine)
    summary = recorder.sent[-1]
    assert summary.kind == "held_summary" and summary.recipient == {"name": "alice"}
    assert summary.title == (
        f"3 messages held back in the last 1m: 3 incidents (#{ids[2]}, #{ids[3]}, #{ids[4]})"
    )
    assert summary.text == (
        f"{summary.title}.\n"
        "The limit of sms is 2 per 1m for each person.\n"
        "Pages waiting for acknowledgement:\n"
        f"- #{ids[2]} Incident{ids[2]} (warning): https://tocsin.example.com/i/{ids[2]}\n"
        f"Also held: acknowledged of #{ids[4]}; resolved of #{ids[3]}."
    )
    assert len(recorder.sent) == 4  # two pages, the critical page, one summary
    # nothing lost: every held message is told by that summary
    with db.connect() as conn:
        (summary_id,) = conn.execute(
            select(notifications.c.id).where(notifications.c.kind == "held_summary")
        ).scalars()
        held_rows = conn.execute(select(held_back).order_by(held_back.c.id)).all()
        statuses = dict(conn.execute(select(notifications.c.id, notifications.c.status)).all())
    assert [r.notification_id for r in held_rows] == notes[2:]
    assert {r.summary_id for r in held_rows} == {summary_id}
    assert statuses[summary_id] == "sent"
    assert [statuses[n] for n in notes] == ["sent", "sent", "held", "held", "held"]
    for i in ids[2:]:
        told = [d for k, d in timeline_kinds(db, i) if k == "held_summary"]
        assert told and told[0]["total"] == 3 and told[0]["notification"] == summary_id
    sent = [d for k, d in timeline_kinds(db, ids[4]) if k == "notified"]
    assert [d["kind"] for d in sent] == ["held_summary"]  # the summary's own delivery
    # the next message after the summary waits for the next token, like any other
    queue(db, clock, ids[0], "sms", "resolved", "warning", "later", "alice")
    run(engine)
    assert len(recorder.sent) == 4


def test_metrics_show_the_queue_by_lane_and_the_held_messages(
    api: Api, clock: VirtualClock
) -> None:
    db = api.state.db
    for n in range(3):
        queue(db, clock, incident(db, f"w{n}", "warning"), "ops", "firing", "warning", f"w{n}")
    queue(db, clock, incident(db, "c", "critical"), "ops", "resolved", "critical", "c")
    text = api.get("/metrics").text
    assert 'tocsin_delivery_queue{lane="warning/page"} 3.0' in text
    assert 'tocsin_delivery_queue{lane="critical/info"} 1.0' in text
    assert 'tocsin_delivery_queue{lane="critical/page"} 0.0' in text
    assert "tocsin_notifications_held_total" in text


def test_an_idle_engine_sleeps(db: Engine, clock: VirtualClock) -> None:
    """With nothing due, the running engine passes once and sleeps until its idle interval,
    a wake-up or new work. The backlog task started at each pass ends at once, having sent
    nothing: that is no reason for another pass (it once was, and an idle server spun a core
    taking the writer's turn hundreds of times a second)."""
    engine = engine_for(db, clock, Recorder())
    passes = 0
    run_once = engine.run_once

    async def counted(limit: int = 100, backlog: bool = True) -> int:
        nonlocal passes
        passes += 1
        return await run_once(limit, backlog)

    engine.run_once = counted  # type: ignore[method-assign]

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.create_task(engine.run_forever(stop, idle_s=30.0))
        # not a measure of speed: the spinning engine made hundreds of passes in this time
        await asyncio.sleep(0.5)
        stop.set()
        engine.wake.set()
        await loop

    asyncio.run(go())
    assert passes <= 3


def test_the_engine_goes_on_while_a_slow_channel_drains_its_backlog(
    db: Engine, clock: VirtualClock
) -> None:
    """The running engine hands the deliveries due to a task of their own: while a slow
    channel hangs on a backlog of warnings, due work still runs and what it creates is sent
    (here the summary of what alice's limit held back)."""
    recorder = Recorder(gated={"slow"})
    engine = engine_for(db, clock, recorder)
    for n in range(3):
        i = incident(db, f"p{n}", "warning")
        queue(db, clock, i, "sms", "escalation", "warning", f"page{n}", "alice")
    run(engine, lambda: engine.deliverer.run())
    assert recorder.sent_keys() == ["page0", "page1"]  # page2 held: its summary is due in 30 s
    for n in range(50):
        queue(db, clock, incident(db, f"w{n}", "warning"), "slow", "firing", "warning", f"w{n}")

    async def go() -> None:
        recorder.gate, recorder.entered = asyncio.Event(), asyncio.Event()
        stop = asyncio.Event()
        loop = asyncio.create_task(engine.run_forever(stop, idle_s=0.05))
        try:
            await recorder.entered.wait()  # the backlog hangs on the slow channel
            clock.advance(60)
            engine.wake.set()

            async def summary_sent() -> None:
                while not any(m.kind == "held_summary" for m in recorder.sent):
                    await asyncio.sleep(0.01)

            # not a measure of speed: an engine waiting for the backlog would never send it
            await asyncio.wait_for(summary_sent(), timeout=60)
            assert [m.idempotency_key for m in recorder.sent if m.kind != "held_summary"] == [
                "page0",
                "page1",
            ]  # no warning went out yet: the slow channel still hangs
        finally:
            recorder.gate.set()
            stop.set()
            await loop
        assert sorted(k for k in recorder.sent_keys() if k.startswith("w")) == sorted(
            f"w{n}" for n in range(50)
        )

    asyncio.run(go())
