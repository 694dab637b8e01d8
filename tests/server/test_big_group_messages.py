"""A message of a big group tells the truth about its counts (issue 18): a group of more
alerts than a message lists (50) and than a flush reads in full (``BIG``, 1,000 unresolved),
flushed by its tally from a view of its alerts, reaches Slack, email and a webhook with the
true number firing, says how many are not listed, and claims no label common that the group
does not guarantee. Through the API and the engine, on a virtual clock, to real sinks."""

from __future__ import annotations

from collections.abc import Iterator
from textwrap import dedent
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.notify.sinks import HttpSink, SmtpSink
from tests.server.conftest import Api
from tocsin import times
from tocsin.alerts.fingerprint import fingerprint_hex
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.engine import flush

CONFIG = """
global: {{resolve_timeout: 1h, external_url: "https://tocsin.example.com"}}
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
  channels: [slack, mail, hook]
receivers: [{{name: default}}]
channels:
  - {{name: slack, type: slack, url: "{slack}"}}
  - {{name: hook, type: webhook, url: "{hook}"}}
  - name: mail
    type: email
    smtp: {{host: 127.0.0.1, port: {smtp}, starttls: false}}
    from: tocsin@example.com
    to: [oncall@example.com]
"""
FIRST = 1_100  # more than BIG: every flush after the first goes by the tally


def labels(n: int, severity: str = "warning") -> dict[str, str]:
    return {"alertname": "NodeDown", "instance": f"n{n:05d}", "severity": severity}


class Harness:
    def __init__(self, api: Api, clock: VirtualClock) -> None:
        self.api = api
        self.clock = clock

    def run(self) -> None:
        """One engine pass: due work, then deliveries."""
        self.api.run_once()

    def post(self, alerts: list[dict[str, str]]) -> None:
        at = times.to_dt(self.clock.now()).isoformat()
        for start in range(0, len(alerts), 500):
            body = [{"labels": a, "startsAt": at} for a in alerts[start : start + 500]]
            assert self.api.post("/api/v2/alerts", body).status_code == 200


@pytest.fixture
def sinks() -> Iterator[tuple[HttpSink, HttpSink, SmtpSink]]:
    with HttpSink("slack") as slack, HttpSink() as hook, SmtpSink() as smtp:
        yield slack, hook, smtp


def test_a_big_group_s_message_carries_its_true_counts(
    db: Engine,
    clock: VirtualClock,
    sinks: tuple[HttpSink, HttpSink, SmtpSink],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slack, hook, smtp = sinks
    text = dedent(CONFIG).format(slack=slack.url, hook=hook.url, smtp=smtp.port)
    state = AppState(db=db, config=parse_config(text), clock=clock)
    read: list[str] = []
    by_tally = flush._by_tally

    def watched(*args: Any) -> Any:
        found = by_tally(*args)
        read.append("full" if found is None else "tally")
        return found

    monkeypatch.setattr(flush, "_by_tally", watched)
    # one alert critical, the last by fingerprint: never among the 50 a message lists, so
    # that the listed alerts all say severity=warning while the group does not
    last = max(range(FIRST), key=lambda n: fingerprint_hex(labels(n)))
    alerts = [labels(n, "critical" if n == last else "warning") for n in range(FIRST)]
    with TestClient(create_app(state, run_engine=False)) as client:
        harness = Harness(Api(client, state, db), clock)
        harness.post(alerts)
        harness.run()
        while not hook.requests:  # a storm's first flush reads 1,000 at a time, then speaks
            clock.advance(flush.CATCH_UP_S)
            harness.run()
        clock.advance(60)
        harness.post([labels(FIRST)])  # one more: the next flush reads it and a view
        harness.run()
        assert read and set(read) == {"tally"}
        assert len(hook.requests) == len(slack.requests) == len(smtp.messages) == 2

    sent = zip(hook.requests, slack.requests, smtp.messages, strict=True)
    for total, (body, posted, mail) in zip((FIRST, FIRST + 1), sent, strict=True):
        message = body.json()
        assert message["kind"] == "firing"
        assert message["firing_total"] == total and message["resolved_total"] == 0
        assert len(message["alerts"]) == 50  # the first 50 by fingerprint, not the critical
        assert {a["labels"]["severity"] for a in message["alerts"]} == {"warning"}
        listed = [a["labels"]["instance"] for a in message["alerts"]]
        # the 50 listed: the group's first by fingerprint (what the index reads), in order
        window = sorted(fingerprint_hex(labels(n)) for n in range(total))[:50]
        assert sorted(a["fingerprint"] for a in message["alerts"]) == window
        assert listed == sorted(listed)  # listed by their labels, not by fingerprint

        said = f"{total:,}"
        blocks = posted.json()["blocks"]
        assert blocks[0]["text"]["text"] == f"[FIRING:{said}] NodeDown (critical)"
        sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
        assert f"*Alerts:* {said} firing, 0 resolved" in sections[0]
        assert sections[-1].startswith("*Firing:*")
        assert sections[-1].endswith(f"… and {total - 10:,} more")
        lines = sections[-1].splitlines()[1:11]  # Slack's ten, in the order listed
        assert lines == [f"• *NodeDown* `instance={i}, severity=warning`" for i in listed[:10]]

        email = mail.message
        assert email["Subject"] == f"[FIRING:{said}] NodeDown (critical)"
        plain = email.get_body(("plain",))
        assert plain is not None
        body_text = plain.get_content()
        assert f"Alerts:   {said} firing, 0 resolved" in body_text
        assert "severity=warning" not in body_text  # not common: one alert is critical
        assert f"Firing ({said}):" in body_text
        assert f"… and {total - 20:,} more" in body_text
        shown = [line.split(" = ")[1] for line in body_text.splitlines() if "instance = " in line]
        assert shown == listed[:20]  # the email's twenty, in the order listed
