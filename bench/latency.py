"""Benchmark: page latency, tocsin beside its durable floor and Alertmanager in the same run.

Posts one alert of a new group (``group_wait: 0s``, ``severity: critical``) to
``/api/v2/alerts`` and times, from just before the POST (client side) to the moment a local
webhook sink has read a notification body naming that alert's unique ``instance``: the time
from intake to the page leaving the server. One probe at a time over a keep-alive connection,
a pause of 50 ms between probes, 5 warm-up probes not counted, a miss after 10 s.

Two conditions (issue 18 item 6):

- ``idle``: nothing else happens;
- ``storm``: a background process posts batches of 100 new alerts (``bench/storm.py``'s
  loader: each a new group, on a route without channels, where the storm digest takes over as
  it would) at half of the target's sustained intake, measured first in the same run by
  ``bench/storm.py``'s two clients posting as fast as they are answered for
  ``--intake-seconds`` (or at ``--load-rate`` alerts/s when given). Alertmanager gets the rate
  of the first tocsin target, so that both carry the same load.

Targets: ``floor`` (``bench/latency_floor.py``'s durable floor: a bare uvicorn server that
commits each alert to SQLite with ``synchronous=FULL`` before posting it; idle only), tocsin
on SQLite, tocsin on PostgreSQL (a throwaway database, when one answers) and Alertmanager from
Debian's package. Prints p50, p90 and max per target and condition, then the ratios of issue
18 item 6: tocsin's idle p50 over the floor's (target: at most 1.5x) and tocsin's storm p90
over its own idle p50 (target: at most 3x), and each beside Alertmanager. The load client
waits for each answer, so a target whose intake stalls takes less than the offered rate: the
rate it actually held is printed beside its row.

    .venv/bin/python bench/latency.py [--runs 60] [--intake-seconds 10] [--load-rate N]
        [--targets floor,sqlite,postgresql,alertmanager]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

# run as a script, sys.path[0] is bench/: the repository root makes ``bench.ingest`` importable
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest import (
    BATCH,
    Target,
    alertmanager_target,
    drop_pg,
    pg_database,
    post_batch,
    tocsin_target,
)
from bench.storm import batch_body, choice, run_storm, window_rates

TARGETS = ("floor", "sqlite", "postgresql", "alertmanager")
WARMUP = 5
TIMEOUT_S = 10.0
PAUSE_S = 0.05
LOAD_SETTLE_S = 1.0
PROBE = "LatencyProbe"  # the probes' alertname: only their route has a channel
FLOOR_TARGET = 1.5  # issue 18 item 6: idle p50 within 1.5x of the durable floor
STORM_TARGET = 3.0  # and storm p90 within 3x of tocsin's own idle p50

TOCSIN_CONFIG = """
global: {{resolve_timeout: 5m}}
route:
  receiver: default
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 5m
  routes:
    # the root has no channels: only the probes page; the load's incidents are recorded,
    # triggered and escalated (to nobody), and its route's storm digest takes over as it would
    - matchers: ['alertname="{probe}"']
      channels: [sink]{probe_storm}
receivers: [{{name: default}}]
channels:
  - {{name: sink, type: webhook, url: "http://127.0.0.1:{port}/hook"}}
limits: {{max_alerts_per_batch: 1000, max_body_bytes: 10485760}}
api: {{anonymous_intake: false}}
"""

ALERTMANAGER_CONFIG = """
route:
  receiver: blackhole
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 5m
  routes:
    - matchers: ['alertname="{probe}"']
      receiver: sink
receivers:
  - name: sink
    webhook_configs: [{{url: "http://127.0.0.1:{port}/hook", send_resolved: false}}]
  - name: blackhole
"""

Start = Callable[[], tuple[subprocess.Popen[bytes], int, dict[str, str]]]


# --------------------------------------------------------------------------- the sink


class Sink:
    """A webhook receiver: answers 200 at once and records when each probe's instance first
    arrived (``time.perf_counter()``, the clock the probes are timed with)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seen: dict[str, float] = {}
        self.posts = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the senders use it

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                at = time.perf_counter()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                sink.record(at, body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Sink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def record(self, at: float, body: bytes) -> None:
        try:
            doc = json.loads(body)
        except ValueError:
            return
        alerts = doc.get("alerts") if isinstance(doc, dict) else None
        instances = [
            str(a["labels"]["instance"])
            for a in (alerts if isinstance(alerts, list) else [])
            if isinstance(a, dict) and isinstance(a.get("labels"), dict)
            if "instance" in a["labels"]
        ]
        with self._cond:
            self.posts += 1
            for instance in instances:
                self._seen.setdefault(instance, at)
            self._cond.notify_all()

    def wait(self, instance: str, deadline: float) -> float | None:
        """When ``instance`` arrived, or None if not before ``deadline`` (perf_counter)."""
        with self._cond:
            while instance not in self._seen:
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                self._cond.wait(left)
            return self._seen[instance]


# --------------------------------------------------------------------------- targets


# The probes open about ten incidents a second on their route: the storm digest (issue 18
# item 4, 20 incidents in 60 s by default) would fold all but the first 20 into a digest and
# page none of them. The load's route keeps the default, as a user meets it.
PROBE_STORM = "\n      storm: {enabled: false}"


def tocsin_start(
    workdir: Path, sink_port: int, database_url: str | None, storm_key: bool = True
) -> Start:
    """``storm_key``: False for a version that predates the ``storm:`` key (no digest)."""
    config = TOCSIN_CONFIG.format(
        probe=PROBE, port=sink_port, probe_storm=PROBE_STORM if storm_key else ""
    )
    return tocsin_target(workdir, database_url, config_text=config)


def alertmanager_start(binary: str, workdir: Path, sink_port: int) -> Start:
    config = ALERTMANAGER_CONFIG.format(probe=PROBE, port=sink_port)
    return alertmanager_target(binary, workdir, config)


# --------------------------------------------------------------------------- load


def _load(
    port: int,
    headers: dict[str, str],
    rate: float,
    prefix: str,
    stop: EventType,
    results: multiprocessing.Queue[tuple[int, int, float]],
) -> None:
    """Post batches of new alerts at ``rate`` alerts/s until ``stop``; a client that falls
    behind catches up by at most half a second (no unbounded bursts)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    interval = BATCH / rate
    sent = failures = index = 0
    started = next_at = time.perf_counter()
    while not stop.is_set():
        body = batch_body(prefix, index)
        index += 1
        delay = next_at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        ok = post_batch(conn, body, headers)
        if ok:
            sent += BATCH
        else:
            failures += 1
        next_at = max(next_at + interval, time.perf_counter() - 0.5)
    conn.close()
    results.put((sent, failures, time.perf_counter() - started))


class Load:
    """The background ingest load of one target, in one process."""

    def __init__(self, port: int, headers: dict[str, str], rate: float, prefix: str) -> None:
        self._stop = multiprocessing.Event()
        self._results: multiprocessing.Queue[tuple[int, int, float]] = multiprocessing.Queue()
        self._process = multiprocessing.Process(
            target=_load, args=(port, headers, rate, prefix, self._stop, self._results)
        )
        self.rate = 0.0
        self.failures = 0

    def __enter__(self) -> Load:
        self._process.start()
        time.sleep(LOAD_SETTLE_S)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        sent, self.failures, elapsed = self._results.get(timeout=150)
        self._process.join()
        self.rate = sent / elapsed if elapsed else 0.0


# --------------------------------------------------------------------------- probes


@dataclass
class Row:
    target: str
    condition: str
    latencies_ms: list[float] = field(default_factory=list)
    misses: int = 0
    failures: int = 0
    note: str = ""

    def percentile(self, q: int) -> float:
        """The ``q``-th percentile (nearest rank); NaN without data."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        rank = max(1, -(-q * len(ordered) // 100))
        return ordered[rank - 1]


def probe_body(instance: str) -> bytes:
    return json.dumps(
        [
            {
                "labels": {
                    "alertname": PROBE,
                    "instance": instance,
                    "job": "bench",
                    "severity": "critical",
                },
                "annotations": {"summary": "notification latency probe"},
            }
        ]
    ).encode()


def probe(
    conn: http.client.HTTPConnection, headers: dict[str, str], sink: Sink, instance: str
) -> tuple[float | None, bool]:
    """One probe: (milliseconds from POST to notification or None on a miss, POST ok). A
    keep-alive connection the server closed while we waited (uvicorn closes after 5 s idle)
    is opened again, and the clock restarted."""
    body = probe_body(instance)
    for attempt in range(2):
        started = time.perf_counter()
        try:
            conn.request("POST", "/api/v2/alerts", body=body, headers=headers)
            answer = conn.getresponse()
            answer.read()
            break
        except (OSError, http.client.HTTPException):
            conn.close()
            if attempt:
                raise
    arrived = sink.wait(instance, started + TIMEOUT_S)
    return (None if arrived is None else (arrived - started) * 1000), answer.status == 200


def measure(target: Target, sink: Sink, row: Row, runs: int, tag: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=TIMEOUT_S * 3)
    try:
        for n in range(WARMUP + runs):
            instance = f"probe-{tag}-{row.target.replace('/', '-')}-{row.condition}-{n}"
            latency, ok = probe(conn, target.headers, sink, instance)
            if not ok:
                row.failures += 1
            if n >= WARMUP:
                if latency is None:
                    row.misses += 1
                else:
                    row.latencies_ms.append(latency)
            time.sleep(PAUSE_S)
    finally:
        conn.close()


# --------------------------------------------------------------------------- report


def _ms(value: float) -> str:
    return "-" if value != value else f"{value:.1f}"


def _ratio(value: float, base: float) -> str:
    return "-" if value != value or base != base or not base else f"{value / base:.2f}x"


def report(rows: list[Row]) -> None:
    print()
    print(f"{'target':18} {'condition':9} {'p50 ms':>8} {'p90 ms':>8} {'max ms':>8} {'runs':>5}")
    for row in rows:
        runs = len(row.latencies_ms)
        extra = []
        if row.misses:
            extra.append(f"{row.misses} missed (>{TIMEOUT_S:.0f} s)")
        if row.failures:
            extra.append(f"{row.failures} POSTs failed")
        if row.note:
            extra.append(row.note)
        print(
            f"{row.target:18} {row.condition:9} {_ms(row.percentile(50)):>8} "
            f"{_ms(row.percentile(90)):>8} "
            f"{_ms(max(row.latencies_ms) if row.latencies_ms else float('nan')):>8} "
            f"{runs:>5}" + (f"   {'; '.join(extra)}" if extra else "")
        )
    found = {(r.target, r.condition): r for r in rows}
    floor = found.get(("floor/durable", "idle"))
    print()
    for row in rows:
        if row.condition != "idle" or row.target == "floor/durable":
            continue
        storm = found.get((row.target, "storm"))
        idle_p50 = row.percentile(50)
        parts = []
        if floor is not None and row.target != "alertmanager":
            parts.append(
                f"idle p50 / floor p50 {_ratio(idle_p50, floor.percentile(50))}"
                f" (target <= {FLOOR_TARGET}x)"
            )
        if storm is not None:
            parts.append(
                f"storm p90 / idle p50 {_ratio(storm.percentile(90), idle_p50)}"
                + (f" (target <= {STORM_TARGET:.0f}x)" if row.target != "alertmanager" else "")
            )
        if parts:
            print(f"{row.target}: " + ", ".join(parts))
    peers = {r.condition: r for r in rows if r.target == "alertmanager" and r.latencies_ms}
    for row in rows:
        peer = peers.get(row.condition)
        if row.target in ("alertmanager", "floor/durable") or peer is None:
            continue
        if not row.latencies_ms:
            print(
                f"ratio {row.target}/alertmanager, {row.condition}: none "
                f"(every probe missed, >{TIMEOUT_S:.0f} s)"
            )
            continue
        print(
            f"ratio {row.target}/alertmanager, {row.condition}: "
            f"p50 {row.percentile(50) / peer.percentile(50):.1f}x, "
            f"p90 {row.percentile(90) / peer.percentile(90):.1f}x"
        )


def sustained_intake(target: Target, seconds: float, prefix: str) -> float:
    """New alerts/s ``target`` takes in: ``bench/storm.py``'s clients posting as fast as they
    are answered for ``seconds``, the mean of its whole 5-s windows."""
    start, requests = run_storm(target.port, target.headers, prefix, seconds)
    rates = window_rates(requests, start, seconds)
    return sum(rates) / len(rates) if rates else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=60, help="probes per target and condition")
    parser.add_argument(
        "--intake-seconds",
        type=float,
        default=10,
        help="how long each target's sustained intake is measured (at least 5)",
    )
    parser.add_argument(
        "--load-rate",
        type=float,
        default=None,
        help="alerts/s of the storm's background load (default: half the sustained intake)",
    )
    parser.add_argument(
        "--targets",
        type=choice(TARGETS),
        default=list(TARGETS),
        help="comma-separated subset of " + ",".join(TARGETS),
    )
    args = parser.parse_args()
    if args.load_rate is None and args.intake_seconds < 5:
        parser.error("--intake-seconds must be at least 5 (one whole window)")
    tag = secrets.token_hex(3)
    chosen: list[str] = args.targets
    starts: list[tuple[str, Callable[[Path, int], Start]]] = []
    pg: str | None = None
    if "floor" in chosen:
        # imported here: bench.latency_floor imports this module
        from bench.latency_floor import floor_start

        starts.append(("floor/durable", lambda d, p: floor_start("durable", d, p)))
    if "sqlite" in chosen:
        starts.append(("tocsin/sqlite", lambda d, p: tocsin_start(d, p, None)))
    if "postgresql" in chosen:
        pg = pg_database()
        if pg:
            url = pg
            starts.append(("tocsin/postgresql", lambda d, p: tocsin_start(d, p, url)))
    if "alertmanager" in chosen:
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        if binary:
            found = binary
            starts.append(("alertmanager", lambda d, p: alertmanager_start(found, d, p)))
        else:
            print("Alertmanager skipped: install Debian's prometheus-alertmanager")
    load = (
        f"{args.load_rate:.0f} alerts/s"
        if args.load_rate
        else f"half the sustained intake (measured for {args.intake_seconds:.0f} s)"
    )
    print(
        f"{args.runs} probes (+{WARMUP} warm-up) per target and condition, {PAUSE_S * 1000:.0f} ms"
        f" apart; storm load: 1 process, {load}, in batches of {BATCH} new alerts",
        flush=True,
    )
    rows: list[Row] = []
    storm_rate: float | None = args.load_rate
    try:
        with Sink() as sink:
            for name, make in starts:
                with (
                    tempfile.TemporaryDirectory() as tmp,
                    Target(name, make(Path(tmp), sink.port)) as target,
                ):
                    idle = Row(name, "idle")
                    measure(target, sink, idle, args.runs, tag)
                    rows.append(idle)
                    print(f"  {name} idle: p50 {_ms(idle.percentile(50))} ms", flush=True)
                    if name == "floor/durable":
                        continue
                    rate = storm_rate
                    intake = ""
                    if rate is None or (name != "alertmanager" and not args.load_rate):
                        sustained = sustained_intake(target, args.intake_seconds, f"in{tag}")
                        rate = sustained / 2
                        intake = f"sustained intake {sustained:.0f} alerts/s, "
                        if storm_rate is None:
                            storm_rate = rate
                    stormed = Row(name, "storm")
                    background = Load(target.port, target.headers, rate, f"storm{tag}")
                    with background:
                        measure(target, sink, stormed, args.runs, tag)
                    stormed.note = (
                        f"{intake}load {rate:.0f} offered, {background.rate:.0f} held alerts/s"
                        + (
                            f", {background.failures} load POSTs failed"
                            if background.failures
                            else ""
                        )
                    )
                    rows.append(stormed)
                    print(
                        f"  {name} storm: p90 {_ms(stormed.percentile(90))} ms, {stormed.note}",
                        flush=True,
                    )
    finally:
        if pg:
            drop_pg(pg)
    report(rows)


if __name__ == "__main__":
    main()
