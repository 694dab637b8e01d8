"""Benchmark: alert intake over loopback, tocsin beside Alertmanager in the same run.

Posts batches of 100 alerts to ``/api/v2/alerts`` from several client processes (keep-alive
connections, bodies built in advance): first new alerts, then re-posts of the same 1,000 (as
Prometheus resends). Targets: tocsin on SQLite (committing with full fsync), tocsin on
PostgreSQL (when one answers), and Alertmanager from Debian's package. Prints alerts/s for
each and the ratio tocsin/Alertmanager, then the resident memory of each server (its writer
process included) after it holds ``--memory-alerts`` alerts, and its peak while it took them.

    .venv/bin/python bench/ingest.py [--alerts 50000] [--clients 4] [--workers 1]
        [--memory-alerts 1000000] [--targets sqlite,postgresql,alertmanager]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

BATCH = 100
PG_ADMIN = os.environ.get("TOCSIN_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
CONFIG = """
global: {resolve_timeout: 5m}
route:
  receiver: default
  group_by: [alertname, instance]
  group_wait: 30s
receivers: [{name: default}]
limits: {max_alerts_per_batch: 1000, max_body_bytes: 10485760}
api: {anonymous_intake: false}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready")


def rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (workers included)."""
    total = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total += int(line.split()[1])
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        total += sum(rss_kb(int(child)) for child in children)
    return total


class PeakRss:
    """The highest resident memory (``rss_kb``, workers included) of a process while the
    block runs, sampled twice a second."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            with contextlib.suppress(OSError):  # a worker may have just ended
                self.peak_kb = max(self.peak_kb, rss_kb(self.pid))
            if self._stop.wait(0.5):
                return

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def batches(prefix: str, start: int, count: int) -> list[bytes]:
    out = []
    for b in range(start, start + count):
        alerts = [
            {
                "labels": {
                    "alertname": "BenchAlert",
                    "instance": f"{prefix}-{b}-{i}",
                    "job": "bench",
                    "severity": "warning",
                },
                "annotations": {"summary": "benchmark alert"},
            }
            for i in range(BATCH)
        ]
        out.append(json.dumps(alerts).encode())
    return out


def _client(port: int, headers: dict[str, str], bodies: list[bytes], results: object) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    failures = 0
    for body in bodies:
        conn.request("POST", "/api/v2/alerts", body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        if answer.status != 200:
            failures += 1
    conn.close()
    results.put(failures)  # type: ignore[attr-defined]


def blast(port: int, headers: dict[str, str], bodies: list[bytes], clients: int) -> float:
    """Send all bodies from ``clients`` processes; alerts per second."""
    chunks = [bodies[i::clients] for i in range(clients)]
    results: multiprocessing.Queue[int] = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=_client, args=(port, headers, c, results)) for c in chunks
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - started
    failures = sum(results.get() for _ in procs)
    if failures:
        print(f"  warning: {failures} requests failed")
    return len(bodies) * BATCH / elapsed


class Target:
    def __init__(
        self, name: str, start: Callable[[], tuple[subprocess.Popen[bytes], int, dict[str, str]]]
    ):
        self.name = name
        self._start = start
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.headers: dict[str, str] = {}

    def __enter__(self) -> Target:
        self.process, self.port, self.headers = self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def tocsin_target(
    workdir: Path, database_url: str | None, workers: int = 1, config_text: str = CONFIG
) -> Callable[[], tuple[subprocess.Popen[bytes], int, dict[str, str]]]:
    """Starts ``tocsin serve`` (its token made first) on SQLite in ``workdir`` or on
    ``database_url``; other benchmarks pass their own configuration."""

    def start() -> tuple[subprocess.Popen[bytes], int, dict[str, str]]:
        config = workdir / "tocsin.yaml"
        config.write_text(config_text)
        db = (
            ["--database-url", database_url]
            if database_url
            else ["--data-dir", str(workdir / "data")]
        )
        token = (
            subprocess.run(
                [sys.executable, "-m", "tocsin", "tokens", "create", "--role", "intake", *db],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        port = free_port()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tocsin",
                "serve",
                "--config",
                str(config),
                "--listen",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "--workers",
                str(workers),
                *db,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_ready(f"http://127.0.0.1:{port}")
        return (
            process,
            port,
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )

    return start


AM_GROUPING = (
    "route: {receiver: default, group_by: [alertname, instance]}\nreceivers: [{name: default}]\n"
)


def post_batch(conn: http.client.HTTPConnection, body: bytes, headers: dict[str, str]) -> bool:
    """POST one batch to ``/api/v2/alerts`` on a kept-alive connection: whether it was
    taken (200). A broken connection is closed (the next request opens it again)."""
    try:
        conn.request("POST", "/api/v2/alerts", body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        return answer.status == 200
    except (OSError, http.client.HTTPException):
        conn.close()
        return False


def alertmanager_target(
    binary: str, workdir: Path, config_text: str = AM_GROUPING
) -> Callable[[], tuple[subprocess.Popen[bytes], int, dict[str, str]]]:
    """Start Debian's Alertmanager with ``config_text`` on a free port (no cluster): the one
    way every bench starts the peer."""

    def start() -> tuple[subprocess.Popen[bytes], int, dict[str, str]]:
        config = workdir / "alertmanager.yml"
        config.write_text(config_text)
        port = free_port()
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={workdir / 'am'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_ready(f"http://127.0.0.1:{port}")
        return process, port, {"Content-Type": "application/json"}

    return start


def pg_database() -> str | None:
    try:
        import psycopg

        name = f"tocsin_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    except Exception as exc:
        print(f"PostgreSQL skipped: {exc.__class__.__name__}: {exc}")
        return None


def drop_pg(url: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description="alert intake benchmark")
    parser.add_argument("--alerts", type=int, default=50_000, help="new alerts per target")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--workers", type=int, default=1, help="tocsin server processes (tocsin serve --workers)"
    )
    parser.add_argument(
        "--memory-alerts",
        type=int,
        default=0,
        help="also store this many alerts and report resident memory",
    )
    parser.add_argument(
        "--targets",
        default="sqlite,postgresql,alertmanager",
        help="comma-separated: sqlite, postgresql, alertmanager",
    )
    args = parser.parse_args()
    wanted = set(args.targets.split(","))
    n_batches = max(1, args.alerts // BATCH)
    tag = secrets.token_hex(3)
    new_bodies = batches(f"new{tag}", 0, n_batches)
    same = batches(f"same{tag}", 0, 1000 // BATCH)
    repost_bodies = (same * (n_batches // len(same) + 1))[:n_batches]
    targets: list[tuple[str, Callable[[Path], Target]]] = []
    if "sqlite" in wanted:
        targets.append(
            (
                "tocsin/sqlite",
                lambda d: Target("tocsin/sqlite", tocsin_target(d, None, args.workers)),
            )
        )
    pg = pg_database() if "postgresql" in wanted else None
    if pg:
        targets.append(
            (
                "tocsin/postgresql",
                lambda d: Target("tocsin/postgresql", tocsin_target(d, pg, args.workers)),
            )
        )
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if "alertmanager" not in wanted:
        pass
    elif binary:
        targets.append(
            ("alertmanager", lambda d: Target("alertmanager", alertmanager_target(binary, d)))
        )
    else:
        print("Alertmanager skipped: install Debian's prometheus-alertmanager")
    print(
        f"{n_batches} batches of {BATCH} alerts, {args.clients} client processes, "
        f"{os.cpu_count()} cores"
    )
    results: dict[str, dict[str, float]] = {}
    try:
        for name, make in targets:
            with tempfile.TemporaryDirectory() as tmp, make(Path(tmp)) as target:
                blast(target.port, target.headers, batches(f"warm{tag}", 0, 20), args.clients)
                new = blast(target.port, target.headers, new_bodies, args.clients)
                again = blast(target.port, target.headers, repost_bodies, args.clients)
                row = {"new": new, "repost": again}
                if args.memory_alerts:
                    extra = max(0, args.memory_alerts - args.alerts) // BATCH
                    assert target.process is not None
                    with PeakRss(target.process.pid) as memory:
                        for start in range(0, extra, 1000):
                            blast(
                                target.port,
                                target.headers,
                                batches(f"mem{tag}", start, min(1000, extra - start)),
                                args.clients,
                            )
                    row["rss_mb"] = rss_kb(target.process.pid) / 1024
                    row["peak_rss_mb"] = memory.peak_kb / 1024
                results[name] = row
                print(
                    f"{name:18} new {new:9.0f} alerts/s   re-post {again:9.0f} alerts/s"
                    + (
                        f"   RSS {row['rss_mb']:.0f} MB after {args.memory_alerts:,} alerts "
                        f"(peak {row['peak_rss_mb']:.0f} MB while they were taken)"
                        if "rss_mb" in row
                        else ""
                    ),
                    flush=True,
                )
    finally:
        if pg:
            drop_pg(pg)
    peer = results.get("alertmanager")
    if peer:
        for name, row in results.items():
            if name != "alertmanager":
                print(
                    f"ratio {name}/alertmanager: new {row['new'] / peer['new']:.2f}x, "
                    f"re-post {row['repost'] / peer['repost']:.2f}x"
                )


if __name__ == "__main__":
    main()
