"""End to end, in the GoAlert manner: two real ``tocsin serve`` processes on one database
(SQLite file, and PostgreSQL where one answers), a real SMTP server (aiosmtpd) and a local
webhook sink. Every message that arrives is accounted for: the test fails on any message it
did not expect, and on any idempotency key delivered twice by the two processes."""

from __future__ import annotations

import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from tests.notify.sinks import HttpSink, SmtpSink
from tests.server.test_real_clients import Server, tocsin
from tests.server.waiting import wait_for

pytestmark = pytest.mark.slow

CONFIG = """
global: {{resolve_timeout: 1h}}
route:
  receiver: default
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 10m
  escalation_policy: page
  channels: [team]
receivers: [{{name: default}}]
channels:
  - {{name: team, type: webhook, url: "{team}"}}
  - {{name: hook, type: webhook, url: "{hook}"}}
  - name: mail
    type: email
    smtp: {{host: 127.0.0.1, port: {smtp}, starttls: false}}
    from: tocsin@example.com
users:
  - {{name: alice, email: alice@example.com, contact: [mail]}}
  - {{name: bob, email: bob@example.com, contact: [hook]}}
escalation_policies:
  - name: page
    steps:
      - {{targets: ["user:alice"], delay: 3s}}
      - {{targets: ["user:bob"], delay: 1h}}
severities:
  levels: [{{name: critical}}]
# 12 pages and 12 acknowledgements to one person in seconds: here no limit per person
delivery: {{person_limits: {{email: null, webhook: null}}}}
"""


@pytest.fixture
def harness(tmp_path: Path, database_url: str) -> Iterator[dict[str, Any]]:
    with HttpSink() as team, HttpSink() as hook, SmtpSink() as smtp:
        config = tmp_path / "tocsin.yaml"
        config.write_text(dedent(CONFIG).format(team=team.url, hook=hook.url, smtp=smtp.port))
        db_args = (
            ["--database-url", database_url]
            if not database_url.startswith("sqlite")
            else ["--data-dir", str(tmp_path / "data")]
        )
        token = tocsin("tokens", "create", "--role", "admin", *db_args).stdout.splitlines()[-1]
        servers = []
        for i in range(2):
            (tmp_path / f"s{i}").mkdir()
            server = Server.serving(config, token, tmp_path / f"s{i}", db_args)
            server.start()
            servers.append(server)
        try:
            yield {"servers": servers, "team": team, "hook": hook, "smtp": smtp}
        finally:
            for server in servers:
                server.kill()


def keys(sink: HttpSink) -> list[str]:
    return [r.headers["idempotency-key"] for r in sink.requests]


def test_two_processes_page_once_escalate_once_and_stop_on_ack(harness: dict[str, Any]) -> None:
    a, b = harness["servers"]
    team, hook, smtp = harness["team"], harness["hook"], harness["smtp"]
    groups = 12
    for i in range(groups):  # alternate between the two processes
        server = a if i % 2 == 0 else b
        status, _ = server.request(
            "POST",
            "/api/v2/alerts",
            [{"labels": {"alertname": "DiskFull", "instance": f"db{i}", "severity": "critical"}}],
        )
        assert status == 200
    # each incident: one message to the team channel, one page to alice by email
    wait_for(lambda: len(team.requests) >= groups and len(smtp.messages) >= groups)
    # after 3 s without acknowledgement: bob is paged through the webhook, once per incident
    wait_for(lambda: len(hook.requests) >= groups, timeout=20)
    status, incidents = a.request("GET", "/api/v1/incidents")
    assert status == 200 and isinstance(incidents, list) and len(incidents) == groups
    for incident in incidents:
        status, body = b.request("POST", f"/api/v1/incidents/{incident['id']}/ack", {})
        assert status == 200, body
    # the acknowledgements: to the team channel, and to alice and bob, who were paged, on
    # the channel that paged each (issue 17, item 4)
    wait_for(lambda: len(team.requests) >= 2 * groups)
    wait_for(lambda: len(hook.requests) >= 2 * groups and len(smtp.messages) >= 2 * groups)
    time.sleep(4)  # nothing else may arrive: the next step was an hour away, and acked
    assert len(team.requests) == 2 * groups
    assert len(hook.requests) == 2 * groups
    assert len(smtp.messages) == 2 * groups
    for sink in (team, hook):
        duplicates = [k for k, n in Counter(keys(sink)).items() if n > 1]
        assert duplicates == [], f"delivered twice: {duplicates}"
    kinds = Counter(r.json()["kind"] for r in team.requests)
    assert kinds == {"firing": groups, "acknowledged": groups}
    assert {r.json()["recipient"]["name"] for r in hook.requests} == {"bob"}
    assert Counter(r.json()["kind"] for r in hook.requests) == {
        "escalation": groups,
        "acknowledged": groups,
    }
    assert {m.rcpt_tos[0] for m in smtp.messages} == {"alice@example.com"}
    ids = Counter(m.message["X-Tocsin-Idempotency-Key"] for m in smtp.messages)
    assert max(ids.values()) == 1
    # every notification sent, each with exactly one attempt, whichever process made it
    # (in runs here both processes share the work; which one takes what is up to timing)
    for incident in incidents:
        _, notes = a.request("GET", f"/api/v1/incidents/{incident['id']}/notifications")
        assert isinstance(notes, list) and len(notes) == 6
        assert all(n["status"] == "sent" and len(n["attempts"]) == 1 for n in notes)


def test_serve_with_two_workers_shares_the_port_and_stops_cleanly(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.server.conftest import CONFIG as INTAKE_CONFIG

    config = tmp_path / "tocsin.yaml"
    config.write_text(INTAKE_CONFIG)
    db_args = ["--data-dir", str(tmp_path / "data")]
    token = tocsin("tokens", "create", "--role", "admin", *db_args).stdout.splitlines()[-1]
    server = Server.serving(config, token, tmp_path, db_args, extra=("--workers", "2"))
    server.start()
    try:

        def post(i: int) -> int:
            labels = {"alertname": "Disk", "instance": f"host{i}"}
            return server.request("POST", "/api/v2/alerts", [{"labels": labels}])[0]

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(post, range(200))) == {200}
        status, listed = server.request("GET", "/api/v2/alerts")
        assert status == 200 and isinstance(listed, list) and len(listed) == 200
        # each request reached one worker or the other; every scrape, whichever worker
        # answers it, counts all 200 (a connection each, so the kernel spreads them too)
        counted = {_scraped(server)['tocsin_alerts_received_total{source="api"}'] for _ in range(8)}
        assert counted == {200.0}
        assert server.process is not None
        children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
        workers = [
            pid
            for pid in children.read_text().split()
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(workers) == 2  # (multiprocessing's resource tracker is a third child)
        environ = Path(f"/proc/{workers[0]}/environ").read_bytes().split(b"\0")
        (kept,) = [e.split(b"=", 1)[1] for e in environ if e.startswith(b"PROMETHEUS_MULTIPROC")]
        assert Path(kept.decode()).is_dir()
    finally:
        server.kill()
    assert server.process is not None and server.process.returncode == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    assert not Path(kept.decode()).exists()  # the counters' files went with the workers


def _scraped(server: Server) -> dict[str, float]:
    """``/metrics`` of the worker that takes this connection, as {"name{labels}": value}."""
    from prometheus_client.parser import text_string_to_metric_families

    request = urllib.request.Request(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {server.token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read().decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples
