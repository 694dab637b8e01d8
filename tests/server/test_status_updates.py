"""Status updates and update reminders through the real server on a virtual clock: the
rendered text reaches the incident's channels (a webhook sink and a Slack-validating sink),
the errors come in the one shape, and reminders fall due exactly when no update came."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.notify.sinks import HttpSink
from tests.server.conftest import Api
from tests.server.test_paging import Paging
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.runbooks.loader import load_catalog

CONFIG = """
global: {{resolve_timeout: 5m, external_url: "https://tocsin.example.com"}}
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
  channels: [team, slack]
receivers: [{{name: default}}]
channels:
  - {{name: team, type: webhook, url: {team}}}
  - {{name: slack, type: slack, url: {slack}}}
severities:
  levels:
    - {{name: critical, ack_deadline: 5m, update_every: 30m}}
    - {{name: warning, ack_deadline: 30m}}
"""

RUNBOOK = """\
# Pebble database runbook

## Alerts

### DatabaseDown

**Severity:** P1 - Critical

**Impact:** Uploads and logins fail

## Communication Templates

### Initial Incident Report
```
[INCIDENT] <Brief Description>
Severity: P<1-4>
Status: Investigating / Identified / Monitoring / Resolved
Impact: <User-facing impact>
Start Time: <HH:MM UTC>
Next Update: <HH:MM UTC>
ETA: <If known>
```
"""


@pytest.fixture
def updates(db: Engine, clock: VirtualClock, tmp_path: Path) -> Iterator[Paging]:
    with HttpSink() as team, HttpSink(mode="slack") as slack:
        text = dedent(CONFIG).format(team=team.url, slack=slack.url)
        (tmp_path / "db.md").write_text(RUNBOOK)
        catalog = load_catalog([tmp_path / "db.md"])
        state = AppState(db=db, config=parse_config(text), clock=clock, catalog=catalog)
        with TestClient(create_app(state, run_engine=False)) as client:
            assert state.engine is not None
            state.engine.pager.catalog = catalog
            yield Paging(Api(client, state, db), clock, {"team": team, "slack": slack})


def _of(messages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in messages if m["kind"] == kind]


def post(p: Paging, incident: int, body: dict[str, Any], role: str = "responder") -> Any:
    return p.api.post(f"/api/v1/incidents/{incident}/status-updates", body, role=role)


def test_an_update_is_rendered_recorded_and_sent_to_the_channels(updates: Paging) -> None:
    incident = updates.fire()
    updates.new("team"), updates.new("slack")
    updates.advance(10 * 60)
    answer = post(updates, incident, {"stage": "investigating", "message": "Looking at the DB"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["template"] == "initial" and body["by"] == "responder"
    assert body["previous_stage"] == "investigating" and body["channels"] == ["team", "slack"]
    text = body["text"]
    assert text.startswith("[INCIDENT] DatabaseDown")
    for line in (
        "Status: Investigating",
        "Severity: critical",
        "Impact: Uploads and logins fail",  # from the runbook
        "Start Time: 2027-01-15 08:00 UTC",
        "Duration so far: 10m",
        "What we know: Looking at the DB",
        "Next Update: 08:40 UTC",  # update_every: 30m from now
    ):
        assert line in text.splitlines(), line
    updates.run()
    [sent] = _of(updates.new("team"), "status_update")
    assert sent["text"] == text and sent["incident_id"] == incident
    [slack] = updates.new("slack")  # accepted by the Slack-validating sink
    assert "*Update:*" in str(slack["blocks"])
    assert updates.sinks["slack"].rejected == []
    # the second one is an update; the stage moves
    answer = post(updates, incident, {"stage": "identified", "message": "Disk full"})
    assert answer.json()["template"] == "update"
    assert "Status: Identified" in answer.json()["text"]
    listed = updates.api.get(f"/api/v1/incidents/{incident}/status-updates", role="viewer")
    assert [u["stage"] for u in listed.json()] == ["investigating", "identified"]
    assert listed.json()[1]["previous_stage"] == "investigating"
    assert updates.kinds(incident).count("status_update") == 2


def test_a_runbook_template_gets_the_fields(updates: Paging) -> None:
    incident = updates.fire()
    answer = post(
        updates,
        incident,
        {"stage": "identified", "message": "Disk full", "template": "Initial Incident Report"},
    )
    assert answer.status_code == 201, answer.text
    text = answer.json()["text"]
    assert text.splitlines()[:6] == [
        "[INCIDENT] DatabaseDown",
        "Severity: P1",
        "Status: Identified",
        "Impact: Uploads and logins fail",
        "Start Time: 08:00 UTC",
        "Next Update: 08:30 UTC",
    ]
    assert "ETA: <If known>" in text  # unknown placeholders stay
    assert text.rstrip().endswith("Disk full")


def test_errors_come_in_the_one_shape(updates: Paging) -> None:
    incident = updates.fire()
    cases: list[tuple[int, dict[str, Any], int]] = [
        (9999, {"stage": "identified", "message": "x"}, 404),
        (incident, {"stage": "fixed", "message": "x"}, 422),
        (incident, {"stage": "identified"}, 422),
        (incident, {"stage": "identified", "message": "   "}, 422),
        (incident, {"stage": "identified", "message": "x", "template": "nope"}, 422),
        (incident, {"stage": "identified", "message": "x", "extra": 1}, 422),
    ]
    for target, body, status in cases:
        answer = post(updates, target, body)
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["error"]["status"] == status
        assert answer.json()["error"]["message"]
    assert post(updates, incident, {"stage": "identified", "message": "x"}, "viewer").status_code
    assert post(updates, incident, {"stage": "resolved", "message": "Fixed"}).status_code == 201
    again = post(updates, incident, {"stage": "monitoring", "message": "hm"})
    assert again.status_code == 409 and "reopen" in again.json()["error"]["message"]
    # the resolved stage does not resolve the paging
    assert updates.api.get(f"/api/v1/incidents/{incident}").json()["status"] == "triggered"
    missing = updates.api.get("/api/v1/incidents/9999/status-updates")
    assert missing.status_code == 404 and missing.json()["error"]["status"] == 404


def _reminders(p: Paging) -> list[dict[str, Any]]:
    return _of(p.new("team"), "update_reminder")


def test_a_reminder_falls_due_exactly_after_the_period_and_again(updates: Paging) -> None:
    incident = updates.fire()
    updates.new("team")
    updates.advance(30 * 60 - 1)
    assert _reminders(updates) == []
    updates.advance(1)
    [reminder] = _reminders(updates)
    assert "No status update on incident" in reminder["text"] and "30m" in reminder["text"]
    slack = updates.new("slack")
    assert any("Status update due" in str(m["blocks"]) for m in slack)
    assert updates.sinks["slack"].rejected == []
    timeline = updates.api.get(f"/api/v1/incidents/{incident}/timeline").json()
    [entry] = [e for e in timeline if e["kind"] == "update_reminder"]
    assert entry["at"].startswith("2027-01-15T08:30:00") and entry["detail"]["every_s"] == 1800
    updates.advance(30 * 60 - 1)
    assert _reminders(updates) == []
    updates.advance(1)
    assert len(_reminders(updates)) == 1


def test_an_update_moves_the_reminder(updates: Paging) -> None:
    incident = updates.fire()
    updates.advance(20 * 60)
    assert post(updates, incident, {"stage": "identified", "message": "x"}).status_code == 201
    updates.run()
    updates.new("team")
    updates.advance(10 * 60)  # 30 min after the trigger: an update came 10 min ago
    assert _reminders(updates) == []
    updates.advance(20 * 60 - 1)
    assert _reminders(updates) == []
    updates.advance(1)  # 30 min after the update
    assert len(_reminders(updates)) == 1


def test_no_reminder_after_resolve_or_the_resolved_stage(updates: Paging) -> None:
    incident = updates.fire()
    other = updates.fire(name="DiskFull")
    assert other != incident
    done = updates.api.post(f"/api/v1/incidents/{incident}/resolve", {}, role="responder")
    assert done.status_code == 200
    assert post(updates, other, {"stage": "resolved", "message": "done"}).status_code == 201
    updates.advance(110 * 60)  # the alerts end at 10:00
    assert _reminders(updates) == []
    assert "update_reminder" not in updates.kinds(incident)
    assert "update_reminder" not in updates.kinds(other)


def test_no_reminders_where_the_severity_asks_none(updates: Paging) -> None:
    incident = updates.fire(severity="warning")
    updates.advance(3 * 3600)
    assert _reminders(updates) == []
    assert "update_reminder" not in updates.kinds(incident)
