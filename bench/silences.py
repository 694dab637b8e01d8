"""Benchmark: silences at scale (issue 18, item 5).

Starts one ``tocsin serve`` on SQLite per silence shape, side by side, posts ``--silences``
silences (each with two matchers) to each, then ``--alerts`` alerts (each its own group:
``group_by: [alertname, instance]``) in batches of 1,000, each batch to every server in turn
(so that the machine's other load falls on all shapes alike), and times: the posts of the
alerts (intake of new groups), ``GET /api/v2/alerts?filter=alertname="K1"`` (an equality
filter), ``?filter=alertname=~"K1"`` (a regex filter) and ``GET /api/v2/alerts/groups``,
once every server's engine has flushed the new groups (``tocsin_engine_lag_seconds`` 0: the
time it took is printed, "flushed all after"), so that no read competes with another
server's flushes. The servers' ``api.read_budget`` is ``--timeout``; a read that takes longer
prints ``>T`` (the server is stopped afterwards, so it burns no more CPU). Silence shapes:

- ``regex``: ``alertname=~"S<i>.*"``, ``instance=~"h<i>-[0-9]+"`` (a literal prefix);
- ``unanchored``: ``alertname=~".*S<i>.*"``, ``instance=~".*h<i>-[0-9]+"`` (nothing to
  index);
- ``literal``: ``alertname=~"S<i>|T<i>"``, ``instance=~"h<i>"`` (literal alternatives);
- ``equality``: ``alertname="S<i>"``, ``instance="h<i>"``;
- ``mixed``: the issue's target: every other silence ``equality``, the rest ``regex``;
- ``none``: no silences (the baseline for intake).

A few silences (one in 200) match real alerts, so some alerts are muted. Each read is made
twice (the first builds the server's index of the silences, the second finds it cached).
At the end a table gives, for each shape, the intake rate of new groups and its ratio to
``none`` in the same run, and the reads.

    .venv/bin/python bench/silences.py [--silences 2000] [--alerts 2000,20000]
        [--shapes none,regex,unanchored,literal,equality,mixed] [--src DIR] [--timeout 120]

The issue's target (docs/storms.md, "Silences at scale"):

    .venv/bin/python bench/silences.py --silences 10000 --alerts 20000 --shapes none,mixed

``--src`` runs another tree's code (e.g. main's: ``git archive main src | tar -x -C /tmp/m``
then ``--src /tmp/m/src``), to compare before and after in the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.ingest import free_port, wait_ready

CONFIG = """
global: {resolve_timeout: 1h}
route:
  receiver: default
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 5m
receivers: [{name: default}]
limits: {max_alerts_per_batch: 1000, max_body_bytes: 10485760}
"""
BATCH = 1000


def silence_matchers(shape: str, i: int) -> list[dict[str, object]]:
    if shape == "mixed":
        return silence_matchers("equality" if i % 2 == 0 else "regex", i)
    hit = i % 200 == 0  # one silence in 200 matches alerts: alertname K<i/200>
    name = f"K{i // 200}" if hit else f"S{i}"
    if shape == "equality":
        return [
            {"name": "alertname", "value": name, "isRegex": False},
            {"name": "instance", "value": "host-1" if hit else f"h{i}", "isRegex": False},
        ]
    if shape == "literal":
        return [
            {"name": "alertname", "value": f"{name}|T{i}", "isRegex": True},
            {"name": "instance", "value": "host-1|host-2" if hit else f"h{i}", "isRegex": True},
        ]
    if shape == "unanchored":
        return [
            {"name": "alertname", "value": f".*{name}" if hit else f".*{name}.*", "isRegex": True},
            {
                "name": "instance",
                "value": ".*-[0-9]+" if hit else f".*h{i}-[0-9]+",
                "isRegex": True,
            },
        ]
    return [
        {"name": "alertname", "value": f"{name}.*" if not hit else name, "isRegex": True},
        {"name": "instance", "value": "host-[0-9]+" if hit else f"h{i}-[0-9]+", "isRegex": True},
    ]


def alert_batches(count: int) -> list[bytes]:
    alerts = [
        {"labels": {"alertname": f"K{n % 100}", "instance": f"host-{n}", "job": "bench"}}
        for n in range(count)
    ]
    return [json.dumps(alerts[i : i + BATCH]).encode() for i in range(0, count, BATCH)]


def request(
    port: int, headers: dict[str, str], method: str, path: str, body: bytes | None, timeout: float
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def timed_get(port: int, headers: dict[str, str], path: str, timeout: float) -> tuple[str, str]:
    """The time a read took (or ``>T``), and what it answered."""
    started = time.perf_counter()
    try:
        status, body = request(port, headers, "GET", path, None, timeout)
    except TimeoutError:
        return f">{timeout:.0f} s", "no answer"
    elapsed = time.perf_counter() - started
    if status != 200:
        return f"{elapsed:.3f} s", f"{status}: {body[:80]!r}"
    return f"{elapsed:.3f} s", f"{len(json.loads(body))} items"


# the reads timed, each twice
FILTERED = "/api/v2/alerts?filter=alertname%3D%22K1%22"
READS = [
    ("filtered", FILTERED),
    ("filtered regex", "/api/v2/alerts?filter=alertname%3D~%22K1%22"),
    ("groups", "/api/v2/alerts/groups"),
]


@dataclass
class Target:
    """One server: a shape's silences, and what was measured."""

    shape: str
    port: int
    headers: dict[str, str]
    server: subprocess.Popen[bytes]
    result: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def serve(shape: str, workdir: Path, src: str | None, timeout: float) -> Iterator[Target]:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    config = workdir / "tocsin.yaml"
    # the read budget as long as the client waits (a tree of before api.read_budget: none)
    config.write_text(CONFIG + ("" if src else f"api: {{read_budget: {timeout:g}s}}\n"))
    db = ["--data-dir", str(workdir / "data")]
    made = subprocess.run(
        [sys.executable, "-m", "tocsin", "tokens", "create", "--role", "responder", *db],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    token = made.stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    port = free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "tocsin", "serve", "--config", str(config)),
            *("--listen", f"127.0.0.1:{port}", "--log-level", "warning", *db),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        yield Target(shape, port, headers, server)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def post_silences(target: Target, count: int, first: int = 0) -> None:
    started = time.perf_counter()
    for i in range(first, first + count):
        body = {
            "matchers": silence_matchers(target.shape, i),
            "startsAt": "2000-01-01T00:00:00Z",
            "endsAt": "2100-01-01T00:00:00Z",
            "createdBy": "bench",
            "comment": "storm",
        }
        status, text = request(
            target.port, target.headers, "POST", "/api/v2/silences", json.dumps(body).encode(), 60
        )
        assert status == 200, text
    if not first:
        target.result["silences"] = count
    print(f"{target.shape}: {count} silences posted in {time.perf_counter() - started:.1f} s")


def run(shapes: list[str], silences: int, alerts: int, src: str | None, timeout: float) -> None:
    """The shapes side by side, one server each: the silences posted, then the alerts'
    batches to each server in turn (so that the machine's other load falls on all alike),
    then the reads."""
    with contextlib.ExitStack() as stack:
        targets = []
        for shape in shapes:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            targets.append(stack.enter_context(serve(shape, workdir, src, timeout)))
        for target in targets:
            target.result.update(shape=target.shape, alerts=alerts)
            post_silences(target, silences if target.shape != "none" else 0)
        took = {target.shape: 0.0 for target in targets}
        slowest = {target.shape: 0.0 for target in targets}
        for body_bytes in alert_batches(alerts):
            for target in targets:
                one = time.perf_counter()
                status, text = request(
                    target.port, target.headers, "POST", "/api/v2/alerts", body_bytes, 120
                )
                assert status == 200, text
                elapsed = time.perf_counter() - one
                took[target.shape] += elapsed
                slowest[target.shape] = max(slowest[target.shape], elapsed)
        settle(targets)
        for target in targets:
            shape = target.shape
            target.result.update(rate=alerts / took[shape], slowest=slowest[shape])
            print(
                f"{shape:9} silences={target.result['silences']:6} alerts={alerts:6}: {alerts}"
                f" new groups posted in {took[shape]:.2f} s ({alerts / took[shape]:,.0f}/s;"
                f" slowest batch of {BATCH} {slowest[shape]:.2f} s); the engine flushed them"
                f" all {target.result.get(SETTLED, 'not')} after the intake",
                flush=True,
            )
            for name, path in READS:
                for attempt in ("first", "again"):
                    elapsed_text, said = timed_get(target.port, target.headers, path, timeout)
                    target.result[f"{name} {attempt}"] = elapsed_text
                    print(f"    GET {path} ({attempt}): {elapsed_text} ({said})", flush=True)
            if target.shape != "none":
                # one silence more: the next read builds the index again, parsing only it
                post_silences(target, 1, first=silences)
                elapsed_text, said = timed_get(target.port, target.headers, FILTERED, timeout)
                target.result[AFTER_WRITE] = elapsed_text
                print(f"    GET {FILTERED} (after it): {elapsed_text} ({said})", flush=True)
        RESULTS.extend(target.result for target in targets)


def engine_lag(target: Target) -> float:
    status, body = request(target.port, target.headers, "GET", "/metrics", None, 60)
    assert status == 200, body
    for line in body.decode().splitlines():
        if line.startswith("tocsin_engine_lag_seconds "):
            return float(line.split()[1])
    raise AssertionError("no tocsin_engine_lag_seconds in /metrics")


def settle(targets: list[Target], limit_s: float = 300.0) -> None:
    """Wait until every server's engine has flushed the groups the intake left it (no due
    work waiting, twice in a row), so that no server's reads compete with another's
    flushes; each server's time to get there is its "flushed all after"."""
    started = time.perf_counter()
    quiet = dict.fromkeys((t.shape for t in targets), 0)
    while any(q < 2 for q in quiet.values()) and time.perf_counter() - started < limit_s:
        for target in targets:
            if quiet[target.shape] >= 2:
                continue
            quiet[target.shape] = quiet[target.shape] + 1 if engine_lag(target) == 0 else 0
            if quiet[target.shape] == 2:
                target.result[SETTLED] = f"{time.perf_counter() - started:.1f} s"
        time.sleep(0.5)


RESULTS: list[dict[str, Any]] = []
SETTLED = "flushed all after"
AFTER_WRITE = "filtered after one silence more"


def table(results: list[dict[str, Any]]) -> None:
    """The run as one Markdown table: each shape's intake rate as a ratio of ``none``'s."""
    columns = [f"{name} {attempt}" for name, _ in READS for attempt in ("first", "again")]
    columns.append(AFTER_WRITE)
    columns.insert(0, SETTLED)
    print()
    print(
        "| silences | alerts | new groups/s | vs none | slowest batch | "
        + " | ".join(columns)
        + " |"
    )
    print("|---" * (5 + len(columns)) + "|")
    for r in results:
        base = next(
            (b for b in results if b["shape"] == "none" and b["alerts"] == r["alerts"]), None
        )
        ratio = f"{r['rate'] / base['rate']:.2f}x" if base else "-"
        print(
            f"| {r['silences']:,} {r['shape']} | {r['alerts']:,} | {r['rate']:,.0f} | {ratio} "
            f"| {r['slowest']:.2f} s | " + " | ".join(r.get(c, "-") for c in columns) + " |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--silences", type=int, default=2000)
    parser.add_argument("--alerts", default="2000,20000")
    parser.add_argument("--shapes", default="none,regex,unanchored,literal,equality,mixed")
    parser.add_argument("--src", default=None, help="run this source tree's tocsin")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="the client's wait and api.read_budget"
    )
    args = parser.parse_args()
    print(f"tocsin from {args.src or 'this tree'}", flush=True)
    for alerts in [int(a) for a in args.alerts.split(",")]:
        run(args.shapes.split(","), args.silences, alerts, args.src, args.timeout)
    table(RESULTS)


if __name__ == "__main__":
    main()
