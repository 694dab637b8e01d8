"""Benchmark: acknowledging from a Slack button, beside the same acknowledgement through the
API, on one real server in the same run.

A real ``tocsin serve`` (SQLite, and PostgreSQL when one answers) whose route sends every
message to a local webhook sink, and whose slack channel has a signing secret (its button
presses come to ``/api/v1/slack/interactions``). Each probe posts an alert of a new group
(``group_wait: 0s``), waits for its page at the sink, then acknowledges the incident, by
turns:

- **button**: a signed ``block_actions`` press, as Slack sends it (the answer comes at once;
  the acknowledgement runs after it, queued, and its result goes to ``response_url``, a
  local sink here);
- **api** (the peer): ``POST /api/v1/incidents/N/ack`` with a responder's token, which answers
  once the acknowledgement is committed.

Timed from just before the request: the HTTP answer (what Slack's 3-second limit is about),
and the arrival at the sink of the ``acknowledged`` message (what the team sees). Printed:
p50/p90/max of each, and the button's ratio to the API's. One probe at a time, 3 warm-up
probes of each kind not counted.

    .venv/bin/python bench/chat_ack.py [--runs 30] [--targets sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest import drop_pg, pg_database, tocsin_target
from bench.runs import Sink  # when each instance's messages of each kind first arrived

SECRET = "bench-signing-secret"
CONFIG = """
route:
  receiver: default
  group_by: [alertname, instance]
  group_wait: 0s
  channels: [sink]
  storm: {{enabled: false}}
receivers: [{{name: default}}]
channels:
  - {{name: sink, type: webhook, url: "http://127.0.0.1:{port}/"}}
  - name: slack
    type: slack
    url: "http://127.0.0.1:{port}/slack-unused"
    signing_secret: {{value: {secret}}}
    api_url: "http://127.0.0.1:{port}/api/"  # Slack's host here: response_url may be on it
users:
  - {{name: alice, slack: U0ALICE01, contact: [sink]}}
"""


def press(incident: int, sink_port: int) -> tuple[bytes, dict[str, str]]:
    """A signed button press of alice's Acknowledge, as Slack posts it."""
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ALICE01", "username": "alice", "name": "alice", "team_id": "T0BENCH01"},
        "actions": [
            {
                "type": "button",
                "action_id": "tocsin_ack",
                "block_id": "tocsin_actions",
                "value": str(incident),
                "action_ts": f"{time.time():.6f}",
            }
        ],
        "response_url": f"http://127.0.0.1:{sink_port}/response",
        "trigger_id": f"{time.time_ns()}.T0BENCH01.bench",
    }
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


def fmt(values: list[float]) -> str:
    if not values:
        return "no samples"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"p50 {statistics.median(ordered):7.1f} ms  p90 {p90:7.1f} ms  max {ordered[-1]:7.1f} ms"


def responder_token(db: list[str]) -> str:
    made = subprocess.run(
        [sys.executable, "-m", "tocsin", "tokens", "create", "--role", "responder", *db],
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip().splitlines()[-1]


def run_target(name: str, database_url: str | None, runs: int) -> None:
    sink = Sink()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = CONFIG.format(port=sink.port, secret=SECRET)
        db = (
            ["--database-url", database_url] if database_url else ["--data-dir", str(work / "data")]
        )
        process, port, headers = tocsin_target(work, database_url, config_text=config)()
        token = responder_token(db)
        times: dict[str, dict[str, list[float]]] = {
            way: {"answer": [], "acknowledged": []} for way in ("button", "api")
        }
        try:
            for i in range(2 * (runs + 3)):
                way = "button" if i % 2 == 0 else "api"
                instance = f"{name}-{i}"
                alert = [{"labels": {"alertname": "BenchDown", "instance": instance}}]
                # a connection per probe: a wait for the sink may outlast the keep-alive
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("POST", "/api/v2/alerts", json.dumps(alert), headers)
                conn.getresponse().read()
                if sink.wait(instance, "firing", time.perf_counter() + 30) is None:
                    raise RuntimeError(f"no page for {instance}")
                conn.request(
                    "GET", "/api/v1/incidents?limit=1", headers={"Authorization": f"Bearer {token}"}
                )
                incident = int(json.loads(conn.getresponse().read())[0]["id"])
                if way == "button":
                    body, sent = press(incident, sink.port)
                    path = "/api/v1/slack/interactions"
                else:
                    body, path = b"{}", f"/api/v1/incidents/{incident}/ack"
                    sent = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                start = time.perf_counter()
                conn.request("POST", path, body, sent)
                answer = conn.getresponse()
                said = answer.read()
                answered = time.perf_counter()
                if answer.status != 200:
                    raise RuntimeError(f"{way}: {answer.status} {said[:300]!r}")
                told = sink.wait(instance, "acknowledged", start + 30)
                if told is None:
                    raise RuntimeError(f"{way}: no acknowledgement reached the sink")
                conn.close()
                if i >= 6:  # 3 warm-up probes of each way
                    times[way]["answer"].append((answered - start) * 1000)
                    times[way]["acknowledged"].append((told - start) * 1000)
        finally:
            process.terminate()
            process.wait(30)
    print(f"\n{name}: {runs} acknowledgements each way, one at a time")
    for way in ("button", "api"):
        print(f"  {way:6} answer        {fmt(times[way]['answer'])}")
        print(f"  {way:6} acknowledged  {fmt(times[way]['acknowledged'])}")
    ratio = statistics.median(times["button"]["acknowledged"]) / statistics.median(
        times["api"]["acknowledged"]
    )
    print(f"  button / api, to the acknowledged message (p50): {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--targets", default="sqlite,postgresql")
    args = parser.parse_args()
    for name in args.targets.split(","):
        if name == "sqlite":
            run_target("sqlite", None, args.runs)
        elif name == "postgresql":
            url = pg_database()
            if url is None:
                print("\npostgresql: not reachable, skipped")
                continue
            try:
                run_target("postgresql", url, args.runs)
            finally:
                drop_pg(url)


if __name__ == "__main__":
    main()
