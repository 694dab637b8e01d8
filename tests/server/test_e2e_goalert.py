"""End to end, in the GoAlert manner (issue 17, "Checks"): a real ``tocsin serve``, a Slack
sink (checking what Slack checks) for the team channel and for bob's pager, a real SMTP server
(aiosmtpd) for alice. An alert fires, a two-step policy pages alice and then escalates to bob,
a person acknowledges through the API, then resolves. The test states the exact messages each
recipient got, in order, with their status lines, and that nothing else arrived."""

from __future__ import annotations

import time
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
global: {{resolve_timeout: 1h, external_url: "https://tocsin.example.com"}}
route:
  receiver: default
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 10m
  escalation_policy: two-steps
  channels: [team]
receivers: [{{name: default}}]
channels:
  - {{name: team, type: slack, url: "{team}"}}
  - {{name: pager, type: slack, url: "{pager}"}}
  - name: mail
    type: email
    smtp: {{host: 127.0.0.1, port: {smtp}, starttls: false}}
    from: tocsin@example.com
users:
  - {{name: alice, email: alice@example.com, contact: [mail]}}
  - {{name: bob, email: bob@example.com, slack: U0BOB1234, contact: [pager]}}
escalation_policies:
  - name: two-steps
    steps:
      - {{targets: ["user:alice"], delay: 2s}}
      - {{targets: ["user:bob"], delay: 1h}}
severities:
  levels: [{{name: critical}}]
"""
ALERT = {"alertname": "DatabaseDown", "instance": "db1", "severity": "critical"}
TITLE = "DatabaseDown instance=db1 (critical)"


@pytest.fixture
def harness(tmp_path: Path, database_url: str) -> Iterator[dict[str, Any]]:
    with HttpSink("slack") as team, HttpSink("slack") as pager, SmtpSink() as smtp:
        config = tmp_path / "tocsin.yaml"
        config.write_text(dedent(CONFIG).format(team=team.url, pager=pager.url, smtp=smtp.port))
        db_args = (
            ["--database-url", database_url]
            if not database_url.startswith("sqlite")
            else ["--data-dir", str(tmp_path / "data")]
        )
        token = tocsin("tokens", "create", "--role", "admin", *db_args).stdout.splitlines()[-1]
        server = Server.serving(config, token, tmp_path, db_args)
        server.start()
        try:
            yield {"server": server, "team": team, "pager": pager, "smtp": smtp}
        finally:
            server.kill()


def slack(sink: HttpSink) -> list[tuple[str, str]]:
    """Each Slack message as (header, the section that holds the status line)."""
    out = []
    for request in sink.requests:
        blocks = request.json()["blocks"]
        status = next(
            b["text"]["text"]
            for b in blocks
            if b["type"] == "section" and b["text"]["text"].startswith("*Status:*")
        )
        out.append((blocks[0]["text"]["text"], status))
    return out


def mails(sink: SmtpSink) -> list[tuple[list[str], str, str]]:
    """Each email as (recipients, subject, the text part's status and summary lines)."""
    out = []
    for received in sink.messages:
        message = received.message
        text = message.get_body(("plain",))
        assert text is not None
        body = text.get_content()
        lines = [
            line
            for line in body.splitlines()
            if line.startswith(("Status:", "Alerts:", "Summary:", "alice, you are paged"))
        ]
        out.append((received.rcpt_tos, str(message["Subject"]), "\n".join(lines)))
    return out


def test_fire_escalate_acknowledge_resolve(harness: dict[str, Any]) -> None:
    server: Server = harness["server"]
    team: HttpSink = harness["team"]
    pager: HttpSink = harness["pager"]
    smtp: SmtpSink = harness["smtp"]
    assert server.request("POST", "/api/v2/alerts", [{"labels": ALERT}])[0] == 200
    # the team channel is told; step 1 pages alice by email; 2 s later, step 2 pages bob
    wait_for(lambda: len(team.requests) == 1 and len(smtp.messages) == 1)
    wait_for(lambda: len(pager.requests) == 1)
    status, acked = server.request("POST", "/api/v1/incidents/1/ack")
    assert status == 200 and isinstance(acked, dict)
    by = acked["acknowledged_by"]
    acked_at = acked["acknowledged_at"][:19].replace("T", " ") + " UTC"
    wait_for(lambda: len(team.requests) == 2 and len(smtp.messages) == 2)
    wait_for(lambda: len(pager.requests) == 2)
    status, resolved = server.request("POST", "/api/v1/incidents/1/resolve")
    assert status == 200 and isinstance(resolved, dict)
    assert "still fires (DatabaseDown)" in resolved["warning"]  # nobody ended the alert
    resolved_at = resolved["resolved_at"][:19].replace("T", " ") + " UTC"
    wait_for(lambda: len(team.requests) == 3 and len(smtp.messages) == 3)
    wait_for(lambda: len(pager.requests) == 3)
    time.sleep(3)  # nothing else may arrive: bob's step was the last, an hour is far away

    ack_line = f"Acknowledged by {by} at {acked_at}; 1 alert firing."
    resolve_line = (
        f"Resolved by {by} at {resolved_at}. 1 alert still firing (DatabaseDown): the incident"
        " is closed, but a new one opens when the alerts are sent again."
    )
    firing = "*Status:* triggered    *Severity:* critical    *Alerts:* 1 firing, 0 resolved"
    acked_status = (
        "*Status:* acknowledged    *Severity:* critical    *Alerts:* 1 firing, 0 resolved"
    )
    resolved_status = (
        "*Status:* resolved    *Severity:* critical    *Alerts:* 1 still firing, 0 resolved"
    )
    assert slack(team) == [
        (f"[FIRING:1] {TITLE}", firing),  # the counts once: no summary repeats them
        (f"[ACK] {TITLE}", f"{acked_status}\n{ack_line}"),
        (f"[RESOLVED] {TITLE}", f"{resolved_status}\n{resolve_line}"),
    ]
    assert slack(pager) == [
        (f"[ESCALATED step 2] {TITLE}", firing),
        (f"[ACK] {TITLE}", f"{acked_status}\n{ack_line}"),
        (f"[RESOLVED] {TITLE}", f"{resolved_status}\n{resolve_line}"),
    ]
    assert pager.requests[0].json()["text"].startswith("<@U0BOB1234>")  # bob is mentioned
    assert mails(smtp) == [
        (
            ["alice@example.com"],
            f"[FIRING:1] {TITLE}",  # her first page reads as one; bob's, a step later, escalated
            "alice, you are paged for this incident.\n"
            "Status:   triggered\nAlerts:   1 firing, 0 resolved",
        ),
        (
            ["alice@example.com"],
            f"[ACK] {TITLE}",
            f"Status:   acknowledged\nAlerts:   1 firing, 0 resolved\nSummary:  {ack_line}",
        ),
        (
            ["alice@example.com"],
            f"[RESOLVED] {TITLE}",
            f"Status:   resolved\nAlerts:   1 still firing, 0 resolved\nSummary:  {resolve_line}",
        ),
    ]
    assert team.rejected == [] and pager.rejected == []  # Slack would have taken them all
    # the record agrees with what people got
    _, notes = server.request("GET", "/api/v1/incidents/1/notifications")
    assert isinstance(notes, list)
    assert sorted((n["channel"], n["kind"], n["status"]) for n in notes) == sorted(
        [
            ("team", "firing", "sent"),
            ("mail", "firing", "sent"),
            ("pager", "escalation", "sent"),
            ("team", "acknowledged", "sent"),
            ("mail", "acknowledged", "sent"),
            ("pager", "acknowledged", "sent"),
            ("team", "resolved", "sent"),
            ("mail", "resolved", "sent"),
            ("pager", "resolved", "sent"),
        ]
    )
