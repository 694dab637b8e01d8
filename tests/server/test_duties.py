"""Post-incident duties through the real server on a virtual clock (SQLite and PostgreSQL):
resolving a critical incident gives its commander the seeds' duties as action items, due
after the resolution; the commander is reminded on their own channel before a deadline;
what is past due shows in ``tocsin actions list --overdue`` and the API; the postmortem's
status moves from draft to in review to published (API and CLI), and publishing it closes
its duty."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from tests.server.conftest import Api
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.cli import app
from tocsin.clock import VirtualClock
from tocsin.config import parse_config

# 2025-01-15T08:00:00Z: in the past, so that the command line, on the real clock, finds
# the duties overdue as the server's virtual clock does later
START = 1_736_928_000.0
H = 3600.0

CONFIG = dedent(
    """
    route:
      receiver: default
      group_by: [alertname]
      group_wait: 0s
      escalation_policy: default
      channels: [team]
    receivers: [{name: default}]
    channels:
      - {name: team, type: console}
      - {name: pager, type: console}
    users:
      - {name: alice, contact: [pager]}
      - {name: carol, contact: [pager]}
    severities:
      levels:
        - {name: critical}
        - {name: warning}
    escalation_policies:
      - name: default
        steps: [{targets: ["user:alice"], delay: 5m}]
    """
)


@pytest.fixture
def api(db: Engine) -> Iterator[Api]:
    state = AppState(db=db, config=parse_config(CONFIG), clock=VirtualClock(START))
    with TestClient(create_app(state, run_engine=False)) as client:
        yield Api(client, state, db)


def run(api: Api) -> None:
    assert api.state.engine is not None
    portal = api.client.portal
    assert portal is not None
    portal.call(api.state.engine.run_once)


def advance(api: Api, seconds: float) -> None:
    clock = api.state.clock
    assert isinstance(clock, VirtualClock)
    clock.advance(seconds)
    run(api)


def items(api: Api, query: str = "") -> list[dict[str, object]]:
    answer = api.get(f"/api/v1/action-items{query}", role="viewer")
    assert answer.status_code == 200
    listed: list[dict[str, object]] = answer.json()
    return listed


def test_resolving_gives_duties_reminders_and_overdue_work(
    api: Api, database_url: str, tmp_path: Path
) -> None:
    alert = {"labels": {"alertname": "PebbleDatabaseDown", "severity": "critical"}}
    assert api.post("/api/v2/alerts", [alert]).status_code == 200
    run(api)
    [incident] = api.get("/api/v1/incidents").json()
    number = incident["id"]
    named = api.client.patch(
        f"/api/v1/incidents/{number}", json={"commander": "carol"}, headers=api.headers()
    )
    assert named.status_code == 200
    assert items(api) == []  # not before the resolution
    advance(api, 600)
    done = api.post(f"/api/v1/incidents/{number}/resolve", {}, role="responder")
    assert done.status_code == 200
    run(api)

    resolved = START + 600
    duties = items(api, f"?incident={number}")
    assert [(i["duty"], i["owner"], i["due_at"], i["status"]) for i in duties] == [
        ("report", "carol", "2025-01-16T08:10:00Z", "open"),
        ("postmortem", "carol", "2025-01-17T08:10:00Z", "open"),
        ("meeting", "carol", "2025-01-22T08:10:00Z", "open"),
    ]
    assert [i["title"] for i in duties] == [
        "Write the incident report",
        "Complete the postmortem",
        "Hold the post-mortem meeting",
    ]

    # two hours before the report's deadline: carol is reminded on her own channel
    advance(api, resolved + 22 * H - api.state.clock.now())
    sent = api.get(f"/api/v1/incidents/{number}/notifications").json()
    reminders = [n for n in sent if n["kind"] == "duty_reminder"]
    assert [(n["channel"], n["target"]) for n in reminders] == [("pager", "user:carol")]
    advance(api, 3 * H)  # the report is overdue now; the postmortem is not
    assert [i["duty"] for i in items(api, "?overdue=true")] == ["report"]
    report = api.get("/api/v1/reports?since=7d", role="viewer").json()
    assert [
        (i["incident_id"], i["duty"], i["overdue"]) for i in report["overdue_action_items"]
    ] == [(number, "report", True)]
    sent = api.get(f"/api/v1/incidents/{number}/notifications").json()
    assert len([n for n in sent if n["kind"] == "duty_reminder"]) == 1  # once per duty
    timeline = api.get(f"/api/v1/incidents/{number}/timeline").json()
    assert [e["detail"]["duty"] for e in timeline if e["kind"] == "duty_reminder"] == ["report"]

    # the postmortem's status: in review, then published, which closes its duty
    moved = api.client.patch(
        f"/api/v1/incidents/{number}/postmortem",
        json={"status": "in-review"},
        headers=api.headers("responder"),
    )
    assert moved.status_code == 200 and moved.json() == {
        "incident": number,
        "status": "in-review",
        "was": "draft",
    }
    wrong = api.client.patch(
        f"/api/v1/incidents/{number}/postmortem",
        json={"status": "done"},
        headers=api.headers("responder"),
    )
    assert wrong.status_code == 422
    viewer = api.client.patch(
        f"/api/v1/incidents/{number}/postmortem",
        json={"status": "published"},
        headers=api.headers("viewer"),
    )
    assert viewer.status_code == 403
    missing = api.client.patch(
        "/api/v1/incidents/999/postmortem", json={"status": "published"}, headers=api.headers()
    )
    assert missing.status_code == 404 and "no incident 999" in missing.json()["error"]["message"]
    text = api.get(f"/api/v1/incidents/{number}/postmortem", role="viewer").text
    assert "| Postmortem | in-review |" in text

    config = tmp_path / "tocsin.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    site = ["-c", str(config), "--database-url", database_url]
    runner = CliRunner()
    done_cli = runner.invoke(
        app, ["incident", "postmortem", str(number), "--status", "published", "--by", "carol",
              *site],
    )  # fmt: skip
    assert done_cli.exit_code == 0, done_cli.output
    assert f"postmortem of incident {number}: published (was in-review)" in done_cli.output
    bad = runner.invoke(app, ["incident", "postmortem", str(number), "--status", "final", *site])
    assert bad.exit_code == 2 and "--status must be one of draft, in-review, published" in (
        bad.output
    )

    # on the real clock (2025 is past) the report and the meeting are overdue; the
    # published postmortem's duty is done
    listed = runner.invoke(app, ["actions", "list", "--overdue", "--format", "json", *site])
    assert listed.exit_code == 0, listed.output
    assert [(i["duty"], i["status"]) for i in json.loads(listed.output)] == [
        ("report", "open"),
        ("meeting", "open"),
    ]
    table = runner.invoke(app, ["actions", "list", "--overdue", *site])
    assert "Write the incident report" in table.output and "overdue" in table.output
    assert "Complete the postmortem" not in table.output
    reported = runner.invoke(app, ["report", "--since", "1000d", *site])
    assert reported.exit_code == 0, reported.output
    late = reported.output.split("overdue action items")[1]
    assert "Write the incident report (report duty)" in late and "carol" in late
    events = api.get(f"/api/v1/incidents/{number}/timeline").json()
    assert [e["detail"]["status"] for e in events if e["kind"] == "postmortem_status"] == [
        "in-review",
        "published",
    ]

    # the same group fires again: the new incident's postmortem names the first as related
    assert api.post("/api/v2/alerts", [alert]).status_code == 200
    run(api)
    again = max(i["id"] for i in api.get("/api/v1/incidents").json())
    assert again != number
    text = api.get(f"/api/v1/incidents/{again}/postmortem", role="viewer").text
    related = text.split("## Related incidents")[1].split("##")[0]
    assert f"| {number} | PebbleDatabaseDown | critical | 2025-01-15 08:00:00 UTC | resolved |" in (
        related
    )


def test_a_warning_incident_has_no_duties_by_default(api: Api) -> None:
    alert = {"labels": {"alertname": "DiskFilling", "severity": "warning"}}
    assert api.post("/api/v2/alerts", [alert]).status_code == 200
    run(api)
    [incident] = api.get("/api/v1/incidents").json()
    assert api.post(f"/api/v1/incidents/{incident['id']}/resolve", {}).status_code == 200
    run(api)
    assert items(api) == []
