"""The writer process (``tocsin serve``'s intake writer): batches cross a socket to a process
of its own, which stores and commits them and flushes at intake; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.server.conftest import CONFIG
from tocsin.alerts.model import Alert
from tocsin.api.state import EngineFlush
from tocsin.clock import RealClock
from tocsin.config import parse_config
from tocsin.intake.commit import StoreFailed
from tocsin.intake.process import WriterProcess, WriterSpec
from tocsin.intake.turn import turn_for
from tocsin.store.db import make_engine, upgrade

# the critical route (group_wait 0s) pages the console channel "ops"
PAGING = CONFIG.replace(
    "      group_wait: 0s\n", "      group_wait: 0s\n      channels: [ops]\n"
).replace("receivers:\n", "channels:\n  - {name: ops, type: console}\nreceivers:\n")


def _alert(name: str, severity: str = "warning", summary: str = "") -> Alert:
    now = datetime.now(UTC)
    return Alert(
        labels={"alertname": name, "severity": severity},
        annotations={"summary": summary} if summary else {},
        starts_at=now,
        ends_at=now + timedelta(hours=1),
        updated_at=now,
    )


class Harness:
    def __init__(self, tmp_path: Path, db: Engine, config: str) -> None:
        self.path = tmp_path / "tocsin.yaml"
        self.path.write_text(config)
        self.heard: list[float] = []
        self.handed: list[tuple[list[Any], asyncio.Future[bool]]] = []
        self.before_answer: list[bool] = []  # per handing: its request not answered yet
        self.writer = WriterProcess(
            WriterSpec(
                self.path, db.url.render_as_string(hide_password=False), "tester", EngineFlush
            ),
            lambda: parse_config(self.path.read_text()).route,
            RealClock(),
            on_commit=self.heard.append,
            on_created=self._handed,
        )

    def _handed(self, made: list[Any], held: asyncio.Future[bool]) -> None:
        self.handed.append((made, held))
        self.before_answer.append(bool(self.writer._waiting))

    @property
    def created(self) -> list[list[Any]]:
        """The deliveries handed over whose commit held."""
        return [made for made, held in self.handed if held.done() and held.result()]

    def run(self, body: Callable[[WriterProcess], Awaitable[None]]) -> None:
        async def go() -> None:
            await self.writer.start()
            try:
                await body(self.writer)
            finally:
                await self.writer.aclose()

        asyncio.run(go())


def _rows(db: Engine, sql: str) -> list[Any]:
    with db.connect() as conn:
        return list(conn.execute(text(sql)))


def test_batches_are_stored_merged_and_answered(tmp_path: Path, db: Engine) -> None:
    harness = Harness(tmp_path, db, CONFIG)

    async def body(writer: WriterProcess) -> None:
        first = await writer.write([_alert("DiskFull", summary="90%")])
        assert (first.stored, first.new_episodes, first.new_incidents) == (1, 1, 1)
        assert first.later is not None and harness.heard == [first.later]  # group_wait 30s
        again = await writer.write([_alert("DiskFull", summary="95%")])  # the same episode
        assert (again.stored, again.new_episodes, again.new_incidents) == (1, 0, 0)
        many = await asyncio.gather(*(writer.write([_alert(f"Load{i}")]) for i in range(30)))
        assert [r.new_episodes for r in many] == [1] * 30

    harness.run(body)
    rows = _rows(db, "SELECT labels, annotations FROM alerts WHERE labels LIKE '%DiskFull%'")
    assert len(rows) == 1 and '"95%"' in rows[0].annotations  # merged, as Alertmanager does
    assert len(_rows(db, "SELECT id FROM alerts")) == 31
    process = harness.writer._process
    assert process is not None and process.exitcode == 0  # told to stop, it stopped


def test_the_flush_at_intake_runs_in_the_writer_and_its_pages_come_back(
    tmp_path: Path, db: Engine
) -> None:
    harness = Harness(tmp_path, db, CONFIG)

    async def body(writer: WriterProcess) -> None:
        await writer.write([_alert("DatabaseDown", "critical")])
        assert harness.created == []  # the critical route has no channel yet
        harness.path.write_text(PAGING)
        writer.reload()  # as /-/reload and SIGHUP do
        await writer.write([_alert("CacheDown", "critical")])
        # the page reached the event loop in a message of its own, before the writer's
        # answer (the writer sends it before it commits; only the order of the two messages
        # can be seen from here), and its commit was reported held with the answer
        assert harness.before_answer == [True]
        ((_made, held),) = harness.handed
        assert held.result() is True

    harness.run(body)
    ((item, notification),) = harness.created[0]
    assert item.kind == "deliver" and item.lease_owner == "tester"  # the server's engine sends
    assert notification.channel == "ops" and notification.status == "pending"
    # both groups were flushed in the intake's own transaction: their next flush is a
    # group_interval away
    flushes = _rows(db, "SELECT due_at FROM due_work WHERE kind = 'flush'")
    assert len(flushes) == 2 and all(row.due_at > time.time() + 60 for row in flushes)


def test_a_writer_that_dies_fails_its_requests_and_the_next_write_starts_another(
    tmp_path: Path,
) -> None:
    db = make_engine(f"sqlite:///{tmp_path / 'tocsin.db'}")
    upgrade(db)
    harness = Harness(tmp_path, db, CONFIG)

    async def body(writer: WriterProcess) -> None:
        first = writer.pid
        assert first is not None
        with turn_for(db).hold():  # the writer waits for its turn at the file, holding the batch
            waiting = asyncio.ensure_future(writer.write([_alert("Lost")]))
            await asyncio.sleep(0.5)
            os.kill(first, signal.SIGKILL)
            with pytest.raises(StoreFailed):
                await waiting
        stored = await writer.write([_alert("Kept")])
        assert stored.new_episodes == 1 and writer.pid not in (None, first)

    harness.run(body)
    names = [r.labels for r in _rows(db, "SELECT labels FROM alerts")]
    assert len(names) == 1 and "Kept" in names[0]  # the failed batch was never stored
    db.dispose()
