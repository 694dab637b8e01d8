"""A real Prometheus whose always-firing ``Watchdog`` rule keeps a heartbeat of a real
``tocsin serve`` alive, as kube-prometheus sets it up (the Watchdog routed to a null
receiver); Prometheus is stopped part-way, and the heartbeat's alert fires and pages a local
webhook sink. Real time here: a 1 s evaluation interval and a 4 s timeout, with waits on
conditions (``waiting.wait_for``), never on the clock."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from tests.notify.sinks import HttpSink
from tests.prometheus import alerting_prometheus
from tests.server.test_real_clients import Server, tocsin
from tests.server.waiting import wait_for

pytestmark = pytest.mark.slow

CONFIG = dedent(
    """
    route:
      receiver: default
      group_by: [alertname, heartbeat]
      group_wait: 0s
      group_interval: 1s
      routes:
        - matchers: ['alertname="Watchdog"']
          receiver: "null"
        - matchers: ['alertname="HeartbeatMissed"']
          receiver: pager
          channels: [hook]
    receivers: [{{name: default}}, {{name: pager}}, {{name: "null"}}]
    channels:
      - {{name: hook, type: webhook, url: "{hook}"}}
    heartbeats:
      - name: prometheus
        interval: 3s
        grace: 1s
        from_alert: ['alertname="Watchdog"']
        labels: {{severity: critical}}
    """
)

RULES = dedent(
    """
    groups:
      - name: general.rules
        interval: 1s
        rules:
          - alert: Watchdog
            expr: vector(1)
            labels: {severity: none}
            annotations:
              summary: An alert that should always be firing, to certify that the pipeline works.
    """
)


def _heartbeat(server: Server) -> dict[str, Any]:
    status, answer = server.request("GET", "/api/v1/heartbeats")
    assert status == 200 and isinstance(answer, dict)
    [found] = answer["heartbeats"]
    assert isinstance(found, dict)
    return found


def _pages(sink: HttpSink) -> list[tuple[str, str]]:
    """(kind, the heartbeat's name) of every message the sink received."""
    out = []
    for request in list(sink.requests):
        body = request.json()
        out.append((body["kind"], body["group_labels"].get("heartbeat", "")))
    return out


def test_a_stopped_prometheus_pages_through_its_watchdog_heartbeat(
    tmp_path: Path, database_url: str
) -> None:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.skip("prometheus not installed (Debian package prometheus)")
    with HttpSink() as sink:
        config = tmp_path / "tocsin.yaml"
        config.write_text(CONFIG.format(hook=sink.url))
        db_args = (
            ["--database-url", database_url]
            if not database_url.startswith("sqlite")
            else ["--data-dir", str(tmp_path / "data")]
        )
        made = tocsin("tokens", "create", "--role", "admin", *db_args)
        token = made.stdout.strip().splitlines()[-1]
        server = Server.serving(config, token, tmp_path, db_args)
        server.start()
        host = server.url.removeprefix("http://")
        process = alerting_prometheus(prometheus, tmp_path, RULES, [(host, token)])
        try:
            # Prometheus finds tocsin in 5 to 10 s; until then the heartbeat may already
            # have been missed once (tocsin watches it from its start): its Watchdogs make
            # it beat, and the heartbeat is alive
            wait_for(lambda: _heartbeat(server)["beats"] >= 3, timeout=90)
            wait_for(lambda: _heartbeat(server)["state"] == "ok", timeout=30)
            before = len(_pages(sink))
            # the Watchdog itself went to the null receiver: no page for it
            assert all(name == "prometheus" for _kind, name in _pages(sink))
            process.send_signal(signal.SIGKILL)  # the pipeline Prometheus -> tocsin breaks
            process.wait(timeout=30)
            wait_for(lambda: _heartbeat(server)["state"] == "missed", timeout=60)
            wait_for(lambda: ("firing", "prometheus") in _pages(sink)[before:], timeout=60)
            page = next(
                r.json() for r in list(sink.requests)[before:] if r.json()["kind"] == "firing"
            )
            [alert] = page["alerts"]
            assert alert["labels"] == {
                "alertname": "HeartbeatMissed",
                "heartbeat": "prometheus",
                "severity": "critical",
            }
            assert alert["annotations"]["last_beat"] == _heartbeat(server)["last_beat"]
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
            server.kill()
