"""Benchmark: the floor under bench/latency.py's idle figure on this machine.

What is the least time any Python server built on tocsin's parts can take from an alert's POST
to its webhook, if it answers only after a durable commit? This runs, beside tocsin and
Alertmanager and with the same probes and sink as ``bench/latency.py`` (idle condition):

- ``floor/http``: uvicorn (uvloop, httptools) with a bare ASGI handler that parses the alert
  with orjson and posts it to the sink with aiohttp: no routing, no validation, no database.
- ``floor/durable``: the same, plus one SQLite transaction per alert on the event loop's own
  thread (``BEGIN IMMEDIATE``, one INSERT, ``COMMIT`` in WAL mode with ``synchronous=FULL``)
  before the post: the commit every tocsin page waits for, with nothing else.

Neither is a product; both show how much of the gap to Alertmanager is Python's HTTP on both
ends and the durable commit, which any design keeping tocsin's contract pays, and how much is
tocsin's own work.

    .venv/bin/python bench/latency_floor.py [--runs 100]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest import Target, free_port, wait_ready
from bench.latency import Row, Sink, alertmanager_start, measure, report, tocsin_start

MODES = ("http", "durable")


def serve(port: int, sink_port: int, mode: str, data: str) -> None:
    """The floor server (run in its own process by ``--serve``)."""
    import aiohttp
    import orjson
    import uvicorn

    db: sqlite3.Connection | None = None
    if mode == "durable":
        db = sqlite3.connect(f"{data}/floor.db", isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE IF NOT EXISTS alerts (id INTEGER PRIMARY KEY, labels TEXT)")
    session: aiohttp.ClientSession | None = None
    sink = f"http://127.0.0.1:{sink_port}/hook"
    sending: set[asyncio.Task[None]] = set()

    async def send(body: bytes) -> None:
        assert session is not None
        async with session.post(sink, data=body) as answer:
            await answer.read()

    async def app(scope: dict[str, Any], receive: Any, send_asgi: Any) -> None:
        nonlocal session
        if scope["type"] != "http":
            return
        if scope["path"] == "/-/ready":
            await send_asgi({"type": "http.response.start", "status": 200, "headers": []})
            await send_asgi({"type": "http.response.body", "body": b"OK"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        alerts = orjson.loads(body)
        if db is not None:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO alerts (labels) VALUES (?)", (orjson.dumps(alerts[0]),))
            db.execute("COMMIT")
        if session is None:
            session = aiohttp.ClientSession()
        task = asyncio.get_running_loop().create_task(send(orjson.dumps({"alerts": alerts})))
        sending.add(task)
        task.add_done_callback(sending.discard)
        await send_asgi({"type": "http.response.start", "status": 200, "headers": []})
        await send_asgi({"type": "http.response.body", "body": b""})

    uvicorn.run(
        app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", log_level="warning"
    )


def floor_start(mode: str, workdir: Path, sink_port: int) -> Any:
    def start() -> tuple[subprocess.Popen[bytes], int, dict[str, str]]:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port), str(sink_port), mode, str(workdir)]
        )
        wait_ready(f"http://127.0.0.1:{port}")
        return process, port, {"Content-Type": "application/json"}

    return start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=100, help="probes per target")
    parser.add_argument("--serve", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        port, sink_port, mode, data = args.serve
        serve(int(port), int(sink_port), mode, data)
        return
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    tag = secrets.token_hex(3)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp, Sink() as sink:
        starts: list[tuple[str, Any]] = [
            (f"floor/{mode}", floor_start(mode, Path(tmp) / mode, sink.port)) for mode in MODES
        ]
        starts.append(("tocsin/sqlite", tocsin_start(Path(tmp) / "tocsin", sink.port, None)))
        if binary:
            starts.append(("alertmanager", alertmanager_start(binary, Path(tmp) / "am", sink.port)))
        else:
            print("alertmanager: not installed (apt-get install prometheus-alertmanager)")
        for place in (*MODES, "tocsin", "am"):
            (Path(tmp) / place).mkdir()
        for name, start in starts:
            row = Row(name, "idle")
            with Target(name, start) as target:
                measure(target, sink, row, args.runs, tag)
            print(f"  {name}: p50 {row.percentile(50):.2f} ms")
            rows.append(row)
    report(rows)


if __name__ == "__main__":
    main()
