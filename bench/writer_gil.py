"""Diagnostic: what a busy event-loop thread costs the intake writer's SQLite statements.

Python's sqlite3 lets go of the GIL around every step of a statement, one step per row it
returns. A thread that lets go of the GIL gets it back only when the thread that took it
yields, at the latest after the switch interval (5 ms). While the event loop's thread is busy
parsing requests, each step of the writer can cost that long. This times one transaction that
inserts 300 rows and reads their ids back, alone and beside a thread that keeps the GIL busy,
two ways: ``RETURNING`` (one step per row) and one JSON row (store/bulk.py's way on SQLite).

    .venv/bin/python bench/writer_gil.py [--rows 300] [--runs 20]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import threading
import time
from pathlib import Path


def transaction(conn: sqlite3.Connection, rows: int, run: int, returning: bool) -> float:
    keys = [f"k{run}-{i}" for i in range(rows)]
    insert = "INSERT INTO t (k) VALUES " + ",".join(["(?)"] * rows)
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    if returning:
        found = conn.execute(insert + " RETURNING k, id", keys).fetchall()
    else:
        top = conn.execute("SELECT coalesce(max(rowid), 0) FROM t").fetchone()[0]
        conn.execute(insert, keys)
        found = conn.execute(
            "SELECT json_group_array(json_array(k, id)) FROM t WHERE rowid > ?", [top]
        ).fetchone()
    conn.execute("COMMIT")
    assert found
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "t.db", isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT)")
        busy = threading.Event()

        def spin() -> None:
            while busy.is_set():
                sum(range(10_000))

        run = 0
        for label in ("alone", "beside a busy thread"):
            if label != "alone":
                busy.set()
                threading.Thread(target=spin, daemon=True).start()
            for returning in (True, False):
                total = 0.0
                for _ in range(args.runs):
                    run += 1
                    total += transaction(conn, args.rows, run, returning)
                way = "RETURNING" if returning else "one JSON row"
                print(f"{label:22} {way:13} {1e3 * total / args.runs:9.2f} ms per transaction")
        busy.clear()


if __name__ == "__main__":
    main()
