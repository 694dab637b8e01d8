"""Issue 22: ``tocsin serve --config alertmanager.yml``. An Alertmanager configuration's
Slack, email and webhook receivers deliver, through the real server and engine, to local
sinks what Alertmanager would have sent: the Slack channel override, Alertmanager's webhook
body, mail from the global SMTP settings, and no resolution where ``send_resolved`` is false
(Alertmanager's default for Slack and email)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.notify.sinks import HttpSink, SmtpSink
from tests.server.conftest import Api
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config

FIXTURES = Path(__file__).parents[1] / "config" / "alertmanager"

CONFIG = """
global:
  resolve_timeout: 5m
  slack_api_url_file: {slack_file}
  smtp_smarthost: 127.0.0.1:{smtp_port}
  smtp_from: alertmanager@example.org
  smtp_require_tls: false
route:
  receiver: team
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
  routes:
    - matchers: [severity="critical"]
      receiver: oncall
      continue: true
    - matchers: [alertname="Watchdog"]
      receiver: blackhole
receivers:
  - name: blackhole
  - name: team
    email_configs:
      - to: team@example.org
  - name: oncall
    slack_configs:
      - channel: '#ops'
        send_resolved: true
        username: alertmanager
        title: '{{{{ template "slack.default.title" . }}}}'
    webhook_configs:
      - url: {hook}
        max_alerts: 1
"""


class Am:
    def __init__(self, api: Api, clock: VirtualClock) -> None:
        self.api = api
        self.clock = clock

    def now(self) -> str:
        return datetime.fromtimestamp(self.clock.now(), UTC).isoformat()

    def send(self, labels: dict[str, str], *, resolved: bool = False) -> None:
        """What Prometheus sends: firing (endsAt ahead), or resolved (endsAt now)."""
        ends = self.now() if resolved else "2027-01-15T10:00:00Z"
        answer = self.api.post(
            "/api/v2/alerts",
            [{"labels": labels, "startsAt": "2026-12-01T00:00:00Z", "endsAt": ends}],
        )
        assert answer.status_code == 200
        self.api.run_once()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.api.run_once()


@pytest.fixture
def sinks(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with HttpSink(mode="slack") as slack, HttpSink() as hook, SmtpSink() as smtp:
        slack_file = tmp_path / "slack-url"
        slack_file.write_text(slack.url + "\n")
        yield {"slack": slack, "hook": hook, "smtp": smtp, "slack_file": slack_file}


@pytest.fixture
def am(db: Engine, clock: VirtualClock, sinks: dict[str, Any]) -> Iterator[Am]:
    text = dedent(CONFIG).format(
        slack_file=sinks["slack_file"], smtp_port=sinks["smtp"].port, hook=sinks["hook"].url
    )
    state = AppState(db=db, config=parse_config(text, "alertmanager.yml"), clock=clock)
    with TestClient(create_app(state, run_engine=False)) as client:
        yield Am(Api(client, state, db), clock)


def test_slack_webhook_and_email_receivers_get_what_alertmanager_would_send(
    am: Am, sinks: dict[str, Any]
) -> None:
    labels = {"alertname": "DiskFull", "severity": "critical", "instance": "db1"}
    am.send(labels)
    am.send({**labels, "instance": "db2"})
    am.advance(61)
    slack, hook, smtp = sinks["slack"], sinks["hook"], sinks["smtp"]
    assert not slack.rejected
    posted = [r.json() for r in slack.requests]
    assert posted and all(p["channel"] == "#ops" for p in posted)  # the channel override
    assert all(p["username"] == "alertmanager" for p in posted)
    assert "DiskFull" in posted[0]["blocks"][0]["text"]["text"]  # tocsin's default title
    bodies = [r.json() for r in hook.requests]
    first = bodies[0]
    assert first["version"] == "4" and first["status"] == "firing"
    assert first["receiver"] == "oncall"
    assert first["groupLabels"] == {"alertname": "DiskFull"}
    assert first["externalURL"] == "http://localhost:9093"
    assert len(first["alerts"]) == 1  # max_alerts: 1, the rest counted
    alert = first["alerts"][0]
    assert alert["status"] == "firing" and alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["labels"]["alertname"] == "DiskFull" and alert["fingerprint"]
    last = bodies[-1]
    assert last["commonLabels"] == {"alertname": "DiskFull", "severity": "critical"}
    assert last["truncatedAlerts"] == 1
    assert not smtp.messages  # a child route took it: the root's receiver is not told
    am.send({"alertname": "QueueSlow", "severity": "warning"})  # no child route takes it
    am.advance(1)
    [mail] = smtp.messages
    assert mail.mail_from == "alertmanager@example.org"
    assert mail.rcpt_tos == ["team@example.org"]
    assert not mail.tls  # smtp_require_tls: false
    assert "QueueSlow" in str(mail.message["Subject"])

    seen_slack, seen_hook = len(slack.requests), len(hook.requests)
    am.send(labels, resolved=True)
    am.send({**labels, "instance": "db2"}, resolved=True)
    am.send({"alertname": "QueueSlow", "severity": "warning"}, resolved=True)
    am.advance(61)
    resolved_hook = [r.json() for r in hook.requests[seen_hook:]]
    assert resolved_hook and resolved_hook[-1]["status"] == "resolved"
    assert all(a["status"] == "resolved" for a in resolved_hook[-1]["alerts"])
    assert resolved_hook[-1]["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
    assert len(slack.requests) > seen_slack  # send_resolved: true
    resolved_slack = slack.requests[-1].json()
    assert resolved_slack["channel"] == "#ops"
    incidents = am.api.get("/api/v1/incidents?status=resolved").json()
    assert {i["receiver"] for i in incidents} == {"oncall", "team"}  # both resolved
    assert len(smtp.messages) == 1  # email's send_resolved is false: no resolution mailed


def test_a_blackhole_receiver_sends_nothing(am: Am, sinks: dict[str, Any]) -> None:
    am.send({"alertname": "Watchdog", "severity": "none"})
    am.advance(61)
    assert not sinks["slack"].requests and not sinks["hook"].requests
    assert not sinks["smtp"].messages


def test_the_fixtures_slack_receivers_post_to_their_own_urls_and_channels(
    db: Engine, clock: VirtualClock, tmp_path: Path
) -> None:
    """Alertmanager's own test configuration: the global URL file, a config's own file, an
    inline URL; each posts to its channel with the text the file gives."""
    source = (
        FIXTURES / "alertmanager-testdata-slack-api-url-file" / "alertmanager.yml"
    ).read_text()
    with (
        HttpSink(mode="slack") as one,
        HttpSink(mode="slack") as two,
        HttpSink(mode="slack") as three,
    ):
        (tmp_path / "global_file").write_text(one.url)
        (tmp_path / "override_file").write_text(two.url)
        text = (
            source.replace("'/global_file'", f"'{tmp_path / 'global_file'}'")
            .replace("'/override_file'", f"'{tmp_path / 'override_file'}'")
            .replace("http://mysecret.example.com/", three.url)
        )
        config = parse_config(text, "alertmanager.yml")
        state = AppState(db=db, config=config, clock=clock)
        with TestClient(create_app(state, run_engine=False)) as client:
            am = Am(Api(client, state, db), clock)
            am.send({"alertname": "HighLatency", "datacenter": "eu", "app": "shop"})
            am.advance(31)  # Alertmanager's default group_wait
        for sink, channel in ((one, "#alerts1"), (two, "#alerts2"), (three, "#alerts3")):
            assert not sink.rejected
            [posted] = [r.json() for r in sink.requests]
            assert posted["channel"] == channel
            assert "test" in str(posted["blocks"])  # the fixture's text: 'test'
