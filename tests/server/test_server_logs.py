"""What ``tocsin serve`` logs while it works (issue 17, item 14): a real server with
``--log-format json``, a webhook sink that takes messages and one that fails; every stderr line
is a JSON object, and the intake, the engine and every delivery (sent, and dead with its
reason) are there with their facts, and no message body or secret."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import urllib.request
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from tests.notify.sinks import HttpSink
from tests.server.test_real_clients import free_port, tocsin
from tests.server.waiting import wait_for
from tocsin import logs

CONFIG = """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
  escalation_policy: page
  channels: [team]
receivers: [{{name: default}}]
channels:
  - {{name: team, type: webhook, url: "{team}"}}
  - name: broken
    type: webhook
    url: "{broken}"
    retry: {{max_attempts: 1}}
users:
  - {{name: alice, email: alice@example.com, contact: [broken]}}
escalation_policies:
  - name: page
    steps: [{{targets: ["user:alice"], delay: 1h}}]
"""
SECRET_TEXT = "the-annotation-body-must-not-be-logged"


def records(path: Path) -> list[dict[str, Any]]:
    """Every line of the server's stderr, each a JSON object (json.loads fails otherwise)."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def find(recs: list[dict[str, Any]], message: str, **facts: Any) -> list[dict[str, Any]]:
    return [
        r for r in recs if r["message"] == message and all(r.get(k) == v for k, v in facts.items())
    ]


@pytest.mark.slow
def test_the_server_logs_intake_escalation_and_every_delivery_as_json(tmp_path: Path) -> None:
    with HttpSink() as team, HttpSink() as broken:
        broken.reply(500, b"upstream exploded", times=10)
        config = tmp_path / "tocsin.yaml"
        broken_url = f"{broken.url}?key=sekrit-webhook-key"  # a URL can be a secret
        config.write_text(dedent(CONFIG).format(team=team.url, broken=broken_url))
        data = ["--data-dir", str(tmp_path / "data")]
        token = tocsin("tokens", "create", "--role", "admin", *data).stdout.splitlines()[-1]
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        stderr = tmp_path / "stderr.log"
        with stderr.open("wb") as err_file:
            process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "tocsin", "serve", "--config", str(config)),
                    *("--listen", f"127.0.0.1:{port}", "--log-format", "json", *data),
                ],
                stdout=subprocess.DEVNULL,
                stderr=err_file,
            )
        try:

            def post(alerts: list[dict[str, Any]]) -> None:
                request = urllib.request.Request(
                    f"{url}/api/v2/alerts",
                    data=json.dumps(alerts).encode(),
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                    },
                )
                with urllib.request.urlopen(request, timeout=30) as answer:
                    assert answer.status == 200

            def ready() -> bool:
                try:
                    with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as answer:
                        return bool(answer.status == 200)
                except OSError:
                    return False

            wait_for(ready)
            alerts = [
                {
                    "labels": {"alertname": "DiskFull", "instance": name},
                    "annotations": {"description": SECRET_TEXT},
                }
                for name in ("db1", "db2")
            ]
            post(alerts)
            wait_for(lambda: bool(find(records(stderr), "delivery dead")))
            wait_for(lambda: bool(find(records(stderr), "delivery sent")))
            post(alerts)  # the same alerts again: updates of the same episodes
            wait_for(lambda: len(find(records(stderr), "alerts received")) == 2)
        finally:
            process.terminate()
            process.wait(timeout=30)

    text = stderr.read_text()
    recs = records(stderr)
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in recs)
    first, second = find(recs, "alerts received")
    assert first["logger"] == second["logger"] == "tocsin.intake"
    assert (first["count"], first["new"], first["updated"], first["incidents_opened"]) == (
        2,
        2,
        0,
        1,
    )
    assert (second["count"], second["new"], second["updated"]) == (2, 0, 2)
    assert first["source"] == second["source"]
    [triggered] = find(recs, "incident triggered")
    incident = triggered["incident"]
    assert triggered["logger"] == "tocsin.engine" and triggered["policy"] == "page"
    [escalated] = find(recs, "escalated", incident=incident)
    assert (escalated["step"], escalated["targets"], escalated["recipients"]) == (
        1,
        ["user:alice"],
        ["alice"],
    )
    [sent] = find(recs, "delivery sent", incident=incident)
    assert sent["logger"] == "tocsin.engine.deliver" and sent["level"] == "info"
    assert (sent["channel"], sent["status"], sent["attempt"], sent["kind"]) == (
        "team",
        "sent",
        1,
        "firing",
    )
    [dead] = find(recs, "delivery dead", incident=incident)
    assert dead["level"] == "warning"
    assert (dead["channel"], dead["status"], dead["attempt"]) == ("broken", "dead", 1)
    assert "alice" in dead["recipient"]
    assert dead["response_status"] == 500 and "500" in dead["error"]
    assert SECRET_TEXT not in text  # no message, no payload
    assert token not in text and "sekrit-webhook-key" not in text


def test_text_lines_carry_the_facts_quoted_so_a_value_cannot_forge_a_line() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure("info", "text", stream)
        logging.getLogger("tocsin.engine.deliver").warning(
            "delivery dead",
            extra=logs.fields(channel="team", attempt=2, error="bad\nFAKE INFO line \x1b[31m"),
        )
        logging.getLogger("tocsin.engine").debug("not at info")
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
    [line] = stream.getvalue().splitlines()
    assert line.endswith(
        ' WARNING tocsin.engine.deliver: delivery dead channel=team attempt=2 error="bad\\n'
        'FAKE INFO line \\u001b[31m"'
    )
    with pytest.raises(ValueError, match="text, json"):
        logs.configure("info", "xml")
