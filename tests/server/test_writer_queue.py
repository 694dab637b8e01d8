"""Writers on one SQLite file take turns through the lock file beside it: threads of one
process and separate processes alike, each waking as soon as the other commits."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

from sqlalchemy import text

from tocsin import times
from tocsin.store.db import WriterQueue, begin_write, make_engine, upgrade


def _hold(lock: str, log: str, name: str, rounds: int) -> None:
    queue = WriterQueue(Path(lock))
    for _ in range(rounds):
        with queue:
            with open(log, "a") as out:
                out.write(f"{name} in\n")
            time.sleep(0.001)
            with open(log, "a") as out:
                out.write(f"{name} out\n")


def test_threads_and_processes_take_turns(tmp_path: Path) -> None:
    lock, log = str(tmp_path / "lock"), str(tmp_path / "log")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hold, args=(lock, log, f"p{i}", 30)) for i in range(2)]
    threads = [threading.Thread(target=_hold, args=(lock, log, f"t{i}", 30)) for i in range(2)]
    for proc in procs:
        proc.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for proc in procs:
        proc.join()
        assert proc.exitcode == 0
    lines = Path(log).read_text().splitlines()
    assert len(lines) == 4 * 30 * 2
    for enter, leave in zip(lines[::2], lines[1::2], strict=True):
        assert enter.endswith(" in") and leave == enter.replace(" in", " out")


def test_sqlite_writers_queue_on_a_file_beside_the_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'tocsin.db'}")
    upgrade(engine)
    with begin_write(engine) as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    assert (tmp_path / "tocsin.db-writer.lock").exists()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalar() == 1


def test_a_writer_in_one_thread_may_nest(tmp_path: Path) -> None:
    queue = WriterQueue(tmp_path / "lock")
    with queue, queue:
        pass
    done = threading.Event()

    def other() -> None:
        with queue:
            done.set()

    thread = threading.Thread(target=other)
    thread.start()
    assert done.wait(5)
    thread.join()


def test_no_queue_for_memory_or_postgresql() -> None:
    assert WriterQueue.beside(make_engine("sqlite://")) is None
    assert WriterQueue.beside(make_engine("postgresql+psycopg://u@127.0.0.1:1/x")) is None


def test_the_intake_writers_turn_is_chosen_from_the_dialect(tmp_path: Path) -> None:
    """A SQLite file: its writer queue (the one ``begin_write`` waits in); in-memory SQLite:
    none; PostgreSQL: the advisory lock, taken in each transaction."""
    from tocsin.intake.turn import PostgresTurn, SqliteTurn, turn_for

    on_file = make_engine(f"sqlite:///{tmp_path / 'tocsin.db'}")
    turn = turn_for(on_file)
    assert isinstance(turn, SqliteTurn) and turn.queue is not None
    assert turn.queue is WriterQueue.beside(on_file)
    in_memory = turn_for(make_engine("sqlite://"))
    assert isinstance(in_memory, SqliteTurn) and in_memory.queue is None
    assert isinstance(turn_for(make_engine("postgresql+psycopg://u@127.0.0.1:1/x")), PostgresTurn)


def test_batches_that_arrive_while_another_process_writes_share_the_next_commit(
    tmp_path: Path,
) -> None:
    import asyncio
    from datetime import timedelta

    from sqlalchemy import event

    from tests.server.conftest import START, make_state
    from tocsin.alerts.model import Alert
    from tocsin.clock import VirtualClock
    from tocsin.intake.writer import AlertWriter

    database = tmp_path / "tocsin.db"
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    clock = VirtualClock(START)
    state = make_state(engine, clock)
    commits: list[int] = []
    event.listen(engine, "commit", lambda _conn: commits.append(1))
    writer = AlertWriter(engine, lambda: state.config.route, clock)
    other_process = WriterQueue(Path(f"{database}-writer.lock"))  # its own open file

    def alert(name: str) -> Alert:
        now = times.to_dt(START)
        return Alert(
            labels={"alertname": name},
            starts_at=now,
            ends_at=now + timedelta(hours=1),
            updated_at=now,
        )

    async def scenario() -> None:
        with other_process:
            posts = [asyncio.create_task(writer.write([alert("A0")]))]
            await asyncio.sleep(0.2)  # the writer has the first batch and waits its turn
            posts += [asyncio.create_task(writer.write([alert(f"A{i}")])) for i in (1, 2)]
            await asyncio.sleep(0.2)
            assert not any(p.done() for p in posts)
            commits.clear()
        await asyncio.gather(*posts)

    try:
        asyncio.run(scenario())
    finally:
        writer.close()
    assert len(commits) == 1


def test_a_held_writer_keeps_its_connection_and_drops_it_after_a_failure(
    tmp_path: Path,
) -> None:
    import pytest

    from tocsin.intake.turn import HeldWriter

    engine = make_engine(f"sqlite:///{tmp_path / 'tocsin.db'}")
    upgrade(engine)
    held = HeldWriter(engine)
    with held.begin() as first:
        first.execute(text("CREATE TABLE t (x INTEGER)"))
    with held.begin() as again:
        again.execute(text("INSERT INTO t VALUES (1)"))
    assert again is first
    with pytest.raises(RuntimeError), held.begin() as failing:
        failing.execute(text("INSERT INTO t VALUES (2)"))
        raise RuntimeError("boom")
    with held.begin() as fresh:
        assert fresh is not first
        assert fresh.execute(text("SELECT x FROM t")).scalars().all() == [1]
    held.close()


def test_the_writer_tries_a_batch_again_on_a_fresh_connection(tmp_path: Path) -> None:
    """The writer's held connection may go stale (a database restart): the batch that meets
    it is tried once more on a new connection instead of failing."""
    import asyncio
    from datetime import timedelta

    from tests.server.conftest import START, make_state
    from tocsin.alerts.model import Alert
    from tocsin.clock import VirtualClock
    from tocsin.intake.writer import AlertWriter
    from tocsin.store import repo

    engine = make_engine(f"sqlite:///{tmp_path / 'tocsin.db'}")
    upgrade(engine)
    clock = VirtualClock(START)
    state = make_state(engine, clock)
    writer = AlertWriter(engine, lambda: state.config.route, clock)
    now = times.to_dt(START)

    def alert(name: str) -> Alert:
        return Alert(
            labels={"alertname": name},
            starts_at=now,
            ends_at=now + timedelta(hours=1),
            updated_at=now,
        )

    try:
        asyncio.run(writer.write([alert("First")]))
        held = writer._committer._held._conn
        assert held is not None
        held.connection.driver_connection.close()  # type: ignore[union-attr]
        result = asyncio.run(writer.write([alert("Second")]))
        assert result.stored == 1
    finally:
        writer.close()
    with engine.connect() as conn:
        assert repo.current_alerts(conn, [alert("Second").fingerprint])


def test_postgresql_prepares_fixed_statements_but_not_in_lists() -> None:
    """psycopg prepares what a connection runs often; the generic plans PostgreSQL then chose
    for the intake's IN lists scanned whole tables, so statements whose text varies with their
    data (IN lists, multi-row VALUES) are never prepared. Fixed statements still are."""
    from tests.server.conftest import postgres_database
    from tocsin.store import bulk
    from tocsin.store.db import database_url

    with postgres_database("tocsin_prepare") as url:
        engine = make_engine(database_url(None, url))
        upgrade(engine)
        try:
            with engine.begin() as conn:
                for _ in range(10):
                    bulk.select_in(
                        conn, "SELECT id FROM incidents WHERE group_key IN ({in_})", ["a"]
                    )
                    bulk.fetch(conn, "SELECT id FROM incidents WHERE id = {p}", [1])
                    bulk.insert(
                        conn,
                        "overrides",
                        (
                            "schedule",
                            "user_name",
                            "starts_at",
                            "ends_at",
                            "created_by",
                            "created_at",
                            "reason",
                        ),
                        [("s", "u", 0, 1, "t", 0, "")],
                    )
                prepared = [
                    row[0]
                    for row in conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements")
                ]
        finally:
            engine.dispose()
    assert any("WHERE id = $1" in text for text in prepared)
    assert not any("IN (" in text or "INSERT INTO overrides" in text for text in prepared)


def test_engines_on_one_file_share_one_queue(tmp_path: Path) -> None:
    """Two engines (or two threads meeting at start) must not make two queues on one file:
    a thread holding one would wait forever on the other's flock."""
    from tocsin.intake.turn import turn_for

    url = f"sqlite:///{tmp_path / 'tocsin.db'}"
    first, second = make_engine(url), make_engine(url)
    upgrade(first)
    done = threading.Event()

    def nested() -> None:
        with turn_for(first).hold(), begin_write(second) as conn:
            conn.execute(text("SELECT 1"))
        done.set()

    thread = threading.Thread(target=nested, daemon=True)
    thread.start()
    assert done.wait(10), "a writer waited on its own lock"
    thread.join()
