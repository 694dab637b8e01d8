"""10,000 incidents whose escalation steps fall due at the same moment on the virtual clock,
carried out by two engines at once (two owners, as two processes would be): every step is
taken exactly once and every page delivered exactly once."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from textwrap import dedent
from typing import Any

import aiohttp
import pytest
from sqlalchemy import Engine, func, insert, select

from tests.server.conftest import START
from tocsin.clock import VirtualClock
from tocsin.config import ChannelConfig, parse_config
from tocsin.engine.loop import DueWorkEngine
from tocsin.notify.message import Message
from tocsin.notify.retry import Outcome
from tocsin.oncall.escalation import Policy, Step, Target
from tocsin.store import kinds
from tocsin.store.db import begin_write
from tocsin.store.schema import due_work, incidents, timeline

pytestmark = pytest.mark.slow
COUNT = 10_000

CONFIG = dedent(
    """
    route: {receiver: default}
    receivers: [{name: default}]
    channels: [{name: sink, type: console}]
    """
)


class Recorder:
    """Stands in for the channel's far end: counts what each key received."""

    def __init__(self) -> None:
        self.keys: Counter[str] = Counter()
        self.lock = threading.Lock()

    def factory(self, cfg: ChannelConfig, _http: aiohttp.ClientSession) -> Any:
        recorder = self

        class Channel:
            name = cfg.name
            kind = "recorder"

            async def send(self, message: Message) -> Outcome:
                with recorder.lock:
                    recorder.keys[message.idempotency_key] += 1
                return Outcome(ok=True, status=200)

        return Channel()


def seed(db: Engine, due_at: float, count: int = COUNT) -> None:
    """``count`` triggered incidents, each with its escalation snapshot at step 1 and step 2 due
    at ``due_at``."""
    policy = Policy(
        "load",
        (Step((Target("channel", "sink"),), 300.0), Step((Target("channel", "sink"),), 3600.0)),
    )
    snapshot = json.dumps(
        {
            "policy": policy.to_json(),
            "labels": {},
            "generation": 1,
            "started_at": START,
            "state": {"step": 0, "round": 0, "next_at": due_at, "exhausted": False},
        }
    )
    rows = [
        {
            "group_key": f'{{}}:{{instance="i{i}"}}',
            "route_id": "{}",
            "receiver": "default",
            "group_labels": json.dumps({"instance": f"i{i}"}),
            "status": "triggered",
            "opened_at": START,
            "first_alert_at": START,
            "last_alert_at": START,
            "group_wait_s": 0.0,
            "group_interval_s": 300.0,
            "repeat_interval_s": 3600.0,
            "triggered_at": START,
            "escalation": snapshot,
            "channels": "[]",
        }
        for i in range(count)
    ]
    with begin_write(db) as conn:
        conn.execute(insert(incidents), rows)
        ids = [r.id for r in conn.execute(select(incidents.c.id))]
        conn.execute(
            insert(due_work),
            [{"kind": kinds.ESCALATE, "ref": i, "due_at": due_at, "attempts": 0} for i in ids],
        )


def test_ten_thousand_simultaneous_escalations_once_each(db: Engine) -> None:
    clock = VirtualClock(START)
    due_at = START + 300
    seed(db, due_at)
    config = parse_config(CONFIG)
    recorder = Recorder()
    engines = [
        DueWorkEngine(db, config, clock, owner=f"worker-{n}", channel_factory=recorder.factory)
        for n in range(2)
    ]
    clock.set(due_at)
    errors: list[BaseException] = []

    def work(engine: DueWorkEngine) -> None:
        try:
            asyncio.run(_drain(engine))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.connect() as conn:
        escalated = Counter(
            r.incident_id
            for r in conn.execute(
                select(timeline.c.incident_id).where(timeline.c.kind == "escalated")
            )
        )
        left = conn.execute(
            select(func.count()).select_from(due_work).where(due_work.c.due_at <= due_at)
        ).scalar_one()
    assert len(escalated) == COUNT and set(escalated.values()) == {1}
    assert len(recorder.keys) == COUNT and set(recorder.keys.values()) == {1}
    assert left == 0  # nothing due is left behind; the next steps wait an hour


async def _drain(engine: DueWorkEngine) -> None:
    while await engine.run_once():
        pass
    await engine.deliverer.close()


def test_a_channel_sends_at_most_its_concurrency_at_once(db: Engine) -> None:
    """Six pages due at once on a channel with ``concurrency: 2``: two in flight at most."""
    clock = VirtualClock(START)
    config = parse_config(CONFIG.replace("type: console}", "type: console, concurrency: 2}"))
    in_flight = 0
    most = 0
    sent: list[str] = []

    def factory(cfg: ChannelConfig, _http: aiohttp.ClientSession) -> Any:
        class Slow:
            name = cfg.name
            kind = "slow"

            async def send(self, message: Message) -> Outcome:
                nonlocal in_flight, most
                in_flight += 1
                most = max(most, in_flight)
                await asyncio.sleep(0.05)
                in_flight -= 1
                sent.append(message.idempotency_key)
                return Outcome(ok=True, status=200)

        return Slow()

    seed(db, START + 300, count=6)
    engine = DueWorkEngine(db, config, clock, owner="w", channel_factory=factory)
    clock.set(START + 300)
    asyncio.run(_drain(engine))
    assert most == 2 and len(sent) == 6 == len(set(sent))
