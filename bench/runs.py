"""Benchmark: from an alert to its runbook's diagnostics, beside the floor of running the same
commands by hand in the same run.

A real ``tocsin serve`` (SQLite, and PostgreSQL when one answers) with one shell runner at
its defaults (``concurrency: 4``; ``execute.per_incident: 2``) and ``auto_diagnose`` on, and a
runbook whose alert has five ``read`` commands (``uname -a``, ``cat /proc/loadavg``,
``df -h /``, ``ps -e | wc -l``, ``date -u``). Each probe posts one alert of a new group
(``group_wait: 0s``) and times, from just before the POST, the arrival at a local webhook sink
of the page (``firing``) and of the follow-up message with the five outputs
(``diagnostics``). One probe at a time, 3 warm-up probes not counted.

The floor is what the same five commands cost without tocsin: each run as tocsin's shell
runner runs it (``bash --noprofile --norc -c``, a scrubbed environment, a new session, stdin
closed, output read through a pipe), two at a time as ``per_incident`` allows, from this
process. Printed: p50/p90/max of page, follow-up and the floor; the time the diagnostics add
after the page (follow-up minus page) beside the floor; and the overhead per run: what a run's
own record says it took (started to finished, the executor's clock) minus the floor's time
for that command alone.

    .venv/bin/python bench/runs.py [--runs 30] [--targets sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest import Target, drop_pg, pg_database, tocsin_target

COMMANDS = ["uname -a", "cat /proc/loadavg", "df -h /", "ps -e | wc -l", "date -u"]
RUNBOOK = "# Host runbook\n\n## HostChecks\n\n**Severity:** critical\n\n### Diagnosis\n" + "".join(
    f"{i}. Check {i}:\n   ```bash\n   {c}\n   ```\n" for i, c in enumerate(COMMANDS, 1)
)
CONFIG = """
route:
  receiver: default
  group_by: [alertname, instance]
  group_wait: 0s
  auto_diagnose: true
  channels: [sink]
  storm: {{enabled: false}}
receivers: [{{name: default}}]
channels: [{{name: sink, type: webhook, url: "http://127.0.0.1:{port}/"}}]
runbooks: [{book}]
execute:
  runners: [{{name: local, type: shell}}]
"""
WARMUP = 3


class Sink:
    """Records when each instance's page and follow-up first arrived (perf_counter)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.seen: dict[tuple[str, str], float] = {}
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = time.perf_counter()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                doc = json.loads(body)
                instance = str(doc.get("group_labels", {}).get("instance", ""))
                with sink.cond:
                    sink.seen.setdefault((instance, str(doc.get("kind"))), at)
                    sink.cond.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, instance: str, kind: str, deadline: float) -> float | None:
        with self.cond:
            while (instance, kind) not in self.seen:
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.seen[(instance, kind)]


def run_like_tocsin(command: str) -> float:
    """One command as the shell runner runs it; its time in seconds."""
    env = {k: os.environ[k] for k in ("PATH", "LANG", "TZ") if k in os.environ}
    start = time.perf_counter()
    subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd="/",
        start_new_session=True,
        check=False,
    )
    return time.perf_counter() - start


def floor_once(pool: ThreadPoolExecutor) -> tuple[float, dict[str, float]]:
    """The five commands, two at a time: the whole, and each alone."""
    start = time.perf_counter()
    each = dict(zip(COMMANDS, pool.map(run_like_tocsin, COMMANDS), strict=True))
    return time.perf_counter() - start, each


def fmt(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    p50, top = statistics.median(ordered) * 1000, ordered[-1] * 1000
    return f"p50 {p50:7.1f} ms  p90 {p90 * 1000:7.1f} ms  max {top:7.1f} ms"


def api(port: int, headers: dict[str, str], method: str, path: str, body: Any = None) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    answer = conn.getresponse()
    raw = answer.read()
    conn.close()
    return json.loads(raw) if raw else None


def measure(name: str, database_url: str | None, runs: int, workdir: Path) -> None:
    sink = Sink()
    book = workdir / "host.md"
    book.write_text(RUNBOOK)
    config = CONFIG.format(port=sink.port, book=book)
    admin_env = dict(os.environ)
    with Target(name, tocsin_target(workdir, database_url, config_text=config)) as target:
        db = (
            ["--database-url", database_url]
            if database_url
            else ["--data-dir", str(workdir / "data")]
        )
        admin = subprocess.run(
            [sys.executable, "-m", "tocsin", "tokens", "create", "--role", "viewer", *db],
            capture_output=True,
            text=True,
            check=True,
            env=admin_env,
        ).stdout.splitlines()[-1]
        reader = {"Authorization": f"Bearer {admin}"}
        pages, follows, added, own = [], [], [], []
        floors, floor_each = [], []
        with ThreadPoolExecutor(2) as pool:
            for i in range(runs + WARMUP):
                instance = f"probe-{i}"
                body = [
                    {
                        "labels": {
                            "alertname": "HostChecks",
                            "instance": instance,
                            "severity": "critical",
                        }
                    }
                ]
                start = time.perf_counter()
                answer = api(target.port, target.headers, "POST", "/api/v2/alerts", body)
                assert answer is None or isinstance(answer, (dict, list))
                deadline = start + 30
                page = sink.wait(instance, "firing", deadline)
                follow = sink.wait(instance, "diagnostics", deadline)
                whole, each = floor_once(pool)
                if i < WARMUP:
                    continue
                if page is None or follow is None:
                    print(f"  {name}: probe {i} missed (page {page}, follow-up {follow})")
                    continue
                pages.append(page - start)
                follows.append(follow - start)
                added.append(follow - page)
                floors.append(whole)
                incidents = api(target.port, reader, "GET", "/api/v1/incidents?limit=1")
                ran = api(
                    target.port, reader, "GET", f"/api/v1/incidents/{incidents[0]['id']}/runs"
                )
                for r in ran:
                    if r.get("duration_s") is not None:
                        own.append(r["duration_s"])
                        floor_each.append(each[r["command"]])
    print(f"{name}: {len(pages)} probes, five read commands each")
    print(f"  page (POST to the page at the sink)           {fmt(pages)}")
    print(f"  follow-up (POST to the diagnostics message)   {fmt(follows)}")
    print(f"  diagnostics after the page                    {fmt(added)}")
    print(f"  floor: the five by hand, two at a time        {fmt(floors)}")
    if added and floors:
        ratio = statistics.median(added) / statistics.median(floors)
        print(f"  ratio, diagnostics after the page / floor     {ratio:5.2f}x (p50s)")
    if own and floor_each:
        per_run = statistics.median(own) - statistics.median(floor_each)
        print(
            f"  per run: its record says p50 {statistics.median(own) * 1000:.1f} ms, the command "
            f"alone {statistics.median(floor_each) * 1000:.1f} ms: overhead {per_run * 1000:.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--targets", default="sqlite,postgresql")
    args = parser.parse_args()
    for name in args.targets.split(","):
        with tempfile.TemporaryDirectory(prefix=f"tocsin-runs-{name}-") as tmp:
            if name == "sqlite":
                measure("tocsin/SQLite", None, args.runs, Path(tmp))
            elif name == "postgresql":
                url = pg_database()
                if url is None:
                    print("tocsin/PostgreSQL: skipped: no PostgreSQL answers")
                    continue
                try:
                    measure("tocsin/PostgreSQL", url, args.runs, Path(tmp))
                finally:
                    drop_pg(url)
            else:
                raise SystemExit(f"unknown target {name!r}")


if __name__ == "__main__":
    main()
