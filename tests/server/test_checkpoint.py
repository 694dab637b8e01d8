"""SQLite's write-ahead log is copied back into the database on a thread of the server's own
(``store.db.Checkpointer``), not in whichever commit takes the log past 1,000 pages: that
commit, and the requests it answered, waited for the copy and its fsync."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, text

from tests.server.waiting import wait_for
from tocsin.store.db import WAL_BACKSTOP_PAGES, Checkpointer, begin_write, make_engine

ROWS = 3_000
PAD = "x" * 2_000  # each row about half a 4 KiB page: 3,000 rows are some 1,500 pages


def _fill(engine: Engine, tag: str) -> None:
    """Commits that write well past SQLite's default checkpoint threshold (1,000 pages)."""
    for start in range(0, ROWS, 500):
        with begin_write(engine) as conn:
            conn.execute(
                text("INSERT INTO pad (tag, body) VALUES (:tag, :body)"),
                [{"tag": f"{tag}{n}", "body": PAD} for n in range(start, start + 500)],
            )


def _engine(tmp_path: Path) -> tuple[Engine, Path]:
    path = tmp_path / "tocsin.db"
    engine = make_engine(f"sqlite:///{path}")
    with begin_write(engine) as conn:
        conn.execute(text("CREATE TABLE pad (id INTEGER PRIMARY KEY, tag TEXT, body TEXT)"))
    return engine, path


def test_commits_leave_the_checkpoint_to_the_thread_up_to_the_backstop(tmp_path: Path) -> None:
    engine, path = _engine(tmp_path)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == WAL_BACKSTOP_PAGES
        assert conn.exec_driver_sql("PRAGMA journal_size_limit").scalar() == (
            WAL_BACKSTOP_PAGES * 4096
        )
    before = os.path.getsize(path)
    _fill(engine, "a")
    wal = Path(f"{path}-wal")
    # no commit copied the log back: the rows are all in it, the database file as it was
    assert os.path.getsize(wal) > 1_000 * 4096
    assert os.path.getsize(path) == before
    busy, pages, copied = Checkpointer(engine).run_once()
    assert (busy, copied) == (0, pages) and pages > 1_000
    assert os.path.getsize(path) > ROWS * len(PAD)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM pad").scalar() == ROWS
    engine.dispose()


def test_the_servers_thread_checkpoints_beside_the_commits_until_stopped(tmp_path: Path) -> None:
    engine, path = _engine(tmp_path)
    checkpointer = Checkpointer(engine, every_s=0.01).start()
    try:
        _fill(engine, "b")
        wait_for(lambda: os.path.getsize(path) > ROWS * len(PAD))
    finally:
        checkpointer.stop()
    assert not checkpointer.running()
    size = os.path.getsize(path)
    _fill(engine, "c")  # stopped: nothing copies the log back now
    assert os.path.getsize(path) == size
    engine.dispose()


def test_nothing_runs_on_another_database_nor_in_memory() -> None:
    for url in ("postgresql+psycopg://nobody@127.0.0.1:9/none", "sqlite://"):
        checkpointer = Checkpointer(make_engine(url)).start()
        assert not checkpointer.running()
        checkpointer.stop()
