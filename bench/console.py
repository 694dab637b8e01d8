"""Benchmark: the console's pages with a large record, beside the API's JSON of the same reads.

Starts ``tocsin serve`` on SQLite, stores ``--incidents`` incidents (100,000 by default;
statuses and severities mixed, as a year of a busy team's would be) and one incident with
``--events`` timeline events (10,000) and 20 alerts, straight into its database, then signs in
to the console as a viewer and times each page over HTTP on a kept-alive connection (median
and max of ``--rounds``, client side, loopback) with its size, and beside it the API read a
script would make of the same data (the peer: the same service call without the page):

- the incident list, its first page, a page deep in it, filtered by status;
- the big incident's page and its whole timeline's first page.

Targets (issue 19): each page under 100 ms and 150 KB.

    .venv/bin/python bench/console.py [--incidents 100000] [--events 10000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

# run as a script, sys.path[0] is bench/: the repository root makes ``bench.ingest`` importable
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from bench.ingest import free_port, wait_ready
from tocsin.store.db import make_engine
from tocsin.store.schema import alerts, incident_alerts, incidents, timeline

CONFIG = """
route: {receiver: default, group_by: [alertname, instance], group_wait: 0s}
receivers: [{name: default}]
"""
STATUSES = ("resolved",) * 8 + ("acknowledged", "triggered")
SEVERITIES = ("critical", "warning", "info", "warning")
TARGET_MS = 100.0
TARGET_KB = 150.0


def fill(database: Path, count: int, events: int) -> int:
    """Store ``count`` incidents and the big one; its id."""
    db = make_engine(f"sqlite:///{database}")
    start = time.time() - 365 * 86400
    with db.begin() as conn:
        rows = []
        for n in range(count):
            at = start + n * (365 * 86400 / count)
            labels = {"alertname": f"Alert{n % 300}", "instance": f"host-{n % 5000}"}
            status = STATUSES[n % len(STATUSES)]
            rows.append(
                {
                    "group_key": f"{{}}:{json.dumps(labels, sort_keys=True)}",
                    "route_id": "{}",
                    "receiver": "default",
                    "group_labels": json.dumps(labels),
                    "status": status,
                    "opened_at": at,
                    "first_alert_at": at,
                    "last_alert_at": at,
                    "resolved_at": at + 600 if status == "resolved" else None,
                    "group_wait_s": 0.0,
                    "group_interval_s": 300.0,
                    "repeat_interval_s": 14400.0,
                    "severity": SEVERITIES[n % len(SEVERITIES)],
                    "triggered_at": at,
                    "title": f"Alert{n % 300} instance=host-{n % 5000}",
                    "stage": "resolved" if status == "resolved" else "investigating",
                }
            )
            if len(rows) == 5000:
                conn.execute(insert(incidents), rows)
                rows = []
        if rows:
            conn.execute(insert(incidents), rows)
        big = count + 1
        conn.execute(insert(incidents), [{**_big_row(start), "id": big}])
        now = time.time()
        for n in range(20):
            fingerprint = f"{n:016x}"
            labels = {"alertname": "BigAlert", "instance": f"web-{n}", "severity": "critical"}
            conn.execute(
                insert(alerts).values(
                    fingerprint=fingerprint,
                    source="bench",
                    generator_url="",
                    labels=json.dumps(labels),
                    annotations=json.dumps({"summary": "a big incident's alert " * 4}),
                    starts_at=now - 3600,
                    ends_at=now + 3600,
                    updated_at=now,
                    timeout=True,
                )
            )
            conn.execute(
                insert(incident_alerts),
                [{"incident_id": big, "fingerprint": fingerprint, "added_at": now}],
            )
        kinds = ("alerts_changed", "notified", "note", "group_flushed")
        conn.execute(
            insert(timeline),
            [
                {
                    "incident_id": big,
                    "at": now - events + n,
                    "kind": kinds[n % len(kinds)],
                    "detail": json.dumps({"by": "bench", "text": f"event {n}", "firing": 20}),
                }
                for n in range(events)
            ],
        )
    db.dispose()
    return big


def _big_row(start: float) -> dict[str, object]:
    labels = {"alertname": "BigAlert"}
    return {
        "group_key": '{}:{alertname="BigAlert"}',
        "route_id": "{}",
        "receiver": "default",
        "group_labels": json.dumps(labels),
        "status": "triggered",
        "opened_at": start,
        "first_alert_at": start,
        "last_alert_at": start,
        "group_wait_s": 0.0,
        "group_interval_s": 300.0,
        "repeat_interval_s": 14400.0,
        "severity": "critical",
        "triggered_at": start,
        "title": "BigAlert",
        "stage": "investigating",
    }


def sign_in(conn: http.client.HTTPConnection, token: str) -> str:
    """The console's session cookie for ``token``."""
    conn.request("GET", "/signin")
    answer = conn.getresponse()
    page = answer.read().decode()
    form_cookie = answer.getheader("set-cookie", "").split(";")[0]
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    body = urlencode({"token": token, "csrf": found.group(1), "next": "/incidents"})
    conn.request(
        "POST",
        "/signin",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": form_cookie},
    )
    answer = conn.getresponse()
    answer.read()
    assert answer.status == 303, answer.status
    cookies = [v for k, v in answer.getheaders() if k.lower() == "set-cookie"]
    return next(c.split(";")[0] for c in cookies if c.startswith("tocsin_session="))


def timed(
    conn: http.client.HTTPConnection, path: str, headers: dict[str, str], rounds: int
) -> tuple[float, float, int]:
    """Median and max milliseconds of ``rounds`` GETs of ``path``, and its size in bytes."""
    spent = []
    size = 0
    for _ in range(rounds + 2):
        started = time.perf_counter()
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        body = answer.read()
        spent.append((time.perf_counter() - started) * 1000)
        assert answer.status == 200, (path, answer.status, body[:300])
        size = len(body)
    spent = spent[2:]  # the first two warm the caches
    return statistics.median(spent), max(spent), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "tocsin.yaml").write_text(CONFIG)
        db = ["--data-dir", str(work / "data")]
        tocsin = [sys.executable, "-m", "tocsin"]
        token = (
            subprocess.run(
                [*tocsin, "tokens", "create", "--user", "viewer", "--role", "viewer", *db],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        started = time.perf_counter()
        big = fill(work / "data" / "tocsin.db", args.incidents, args.events)
        print(
            f"stored {args.incidents:,} incidents and one of {args.events:,} events "
            f"in {time.perf_counter() - started:.1f} s"
        )
        port = free_port()
        server = subprocess.Popen(
            [*tocsin, "serve", "--config", str(work / "tocsin.yaml"), "--listen",
             f"127.0.0.1:{port}", "--log-level", "warning", *db],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_ready(f"http://127.0.0.1:{port}")
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            page_headers = {"Cookie": sign_in(conn, token)}
            api_headers = {"Authorization": f"Bearer {token}"}
            deep = args.incidents // 50 // 2
            rows = [
                ("incident list", "/incidents", "/api/v1/incidents?limit=50"),
                (f"list, page {deep:,}", f"/incidents?page={deep}",
                 f"/api/v1/incidents?limit=50&offset={(deep - 1) * 50}"),
                ("list, triggered", "/incidents?status=triggered",
                 "/api/v1/incidents?limit=50&status=triggered"),
                (f"incident of {args.events:,} events", f"/incidents/{big}",
                 f"/api/v1/incidents/{big}"),
                ("its whole timeline, page 1", f"/incidents/{big}/timeline",
                 f"/api/v1/incidents/{big}/timeline?limit=200"),
            ]  # fmt: skip
            print(
                f"\n| page | console median / max | console size | API median | API size "
                f"| console / API | target ({TARGET_MS:.0f} ms, {TARGET_KB:.0f} KB) |"
            )
            print("|---|---|---|---|---|---|---|")
            for name, page, api in rows:
                p50, pmax, size = timed(conn, page, page_headers, args.rounds)
                a50, _amax, asize = timed(conn, api, api_headers, args.rounds)
                met = "met" if pmax < TARGET_MS and size < TARGET_KB * 1024 else "not met"
                print(
                    f"| {name} | {p50:.1f} / {pmax:.1f} ms | {size / 1024:.1f} KB "
                    f"| {a50:.1f} ms | {asize / 1024:.1f} KB | {p50 / a50:.2f}x | {met} |"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
