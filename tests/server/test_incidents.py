"""The incident record through the native API on the virtual clock: title, stage, people,
notes, reopening, auto-resolve per route, typed timeline, runbook sections, response figures
worked out by hand, pagination and the one error shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.server.conftest import Api
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.runbooks.loader import load_catalog

CONFIG = """
global: {resolve_timeout: 5m}
route:
  receiver: default
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 1m
  routes:
    - matchers: ['team="db"']
      auto_resolve: false
receivers: [{name: default}]
incident_title: "{{ common_labels.alertname }} on {{ common_labels.instance | default('?') }}"
users:
  - {name: alice, email: alice@example.com, contact: [console]}
  - {name: bob, email: bob@example.com, contact: [console]}
channels: [{name: console, type: console}]
severities:
  levels:
    - {name: critical, update_every: 30m}
    - {name: warning}
"""

RUNBOOK = """
# Database runbook

## DatabaseDown, DatabaseUnreachable

Severity: critical

### Critical
Page the DBA now: writes are failing.

### Warning
Replica only: look during working hours.

### Investigation
```bash
pg_isready -h <host>
```

## DiskFull

Severity: warning

### Investigation
```bash
df -h
```
"""


@pytest.fixture
def rec(db: Engine, clock: VirtualClock, tmp_path: Path) -> Iterator[Api]:
    book = tmp_path / "db.md"
    book.write_text(dedent(RUNBOOK).lstrip())
    state = AppState(
        db=db,
        config=parse_config(CONFIG),
        clock=clock,
        catalog=load_catalog([book]),
    )
    with TestClient(create_app(state, run_engine=False)) as client:
        yield Api(client, state, db)


def fire(api: Api, name: str, instance: str = "db1", **labels: str) -> None:
    body = [{"labels": {"alertname": name, "instance": instance, **labels}}]
    assert api.post("/api/v2/alerts", body).status_code == 200


def resolve_alert(api: Api, name: str, instance: str = "db1", **labels: str) -> None:
    body = [
        {
            "labels": {"alertname": name, "instance": instance, **labels},
            "startsAt": "2027-01-15T07:00:00Z",
            "endsAt": "2027-01-15T07:30:00Z",
        }
    ]
    assert api.post("/api/v2/alerts", body).status_code == 200


def only(api: Api) -> dict[str, Any]:
    [incident] = api.get("/api/v1/incidents").json()
    record: dict[str, Any] = api.get(f"/api/v1/incidents/{incident['id']}").json()
    return record


def kinds(api: Api, number: int) -> list[str]:
    return [e["kind"] for e in api.get(f"/api/v1/incidents/{number}/timeline").json()]


def test_figures_worked_out_by_hand(rec: Api, clock: VirtualClock) -> None:
    """Fired at 08:00:00, acknowledged at 08:03:00, its alert resolved at 08:20:00 and the
    next flush (group_interval 1m, due 08:20:00) resolves it: TTA 180 s, TTR 1,200 s."""
    fire(rec, "DatabaseDown", severity="critical")
    rec.run_engine()
    record = only(rec)
    number = record["number"]
    assert record["title"] == "DatabaseDown on db1"  # the configured template
    assert record["status"] == "triggered" and record["stage"] == "investigating"
    assert record["severity"] == "critical"
    clock.advance(180)
    assert rec.post(f"/api/v1/incidents/{number}/ack", {}, role="responder").status_code == 200
    clock.advance(1020)
    resolve_alert(rec, "DatabaseDown", severity="critical")
    rec.run_engine()
    record = rec.get(f"/api/v1/incidents/{number}").json()
    assert record["status"] == "resolved"
    assert record["figures"]["time_to_acknowledge_s"] == 180
    assert record["figures"]["time_to_resolve_s"] == 1200
    assert kinds(rec, number) == [
        "opened",
        "alerts_changed",
        "triggered",
        "group_flushed",  # after the trigger: it says whether the channels were told
        "acknowledged",
        "alerts_changed",
        "group_flushed",
        "resolved",
    ]


def test_notes_people_and_reopen(rec: Api, clock: VirtualClock) -> None:
    fire(rec, "DiskFull")
    rec.run_engine()
    number = only(rec)["number"]
    added = rec.post(f"/api/v1/incidents/{number}/notes", {"text": "disk at 97%"}, "responder")
    assert added.status_code == 201 and added.json() == {"text": "disk at 97%", "by": "responder"}
    changed = rec.client.patch(
        f"/api/v1/incidents/{number}",
        json={"assignee": "alice", "commander": "bob"},
        headers=rec.headers("responder"),
    )
    assert changed.status_code == 200
    assert (changed.json()["assignee"], changed.json()["commander"]) == ("alice", "bob")
    stranger = rec.client.patch(
        f"/api/v1/incidents/{number}", json={"assignee": "mallory"}, headers=rec.headers()
    )
    assert stranger.status_code == 422
    assert "not a user" in stranger.json()["error"]["message"]
    cleared = rec.client.patch(
        f"/api/v1/incidents/{number}", json={"commander": ""}, headers=rec.headers()
    )
    assert cleared.json()["commander"] is None and cleared.json()["assignee"] == "alice"
    early = rec.post(f"/api/v1/incidents/{number}/reopen", {})
    assert early.status_code == 409 and early.json()["error"]["status"] == 409
    clock.advance(60)
    rec.post(f"/api/v1/incidents/{number}/resolve", {})
    clock.advance(60)
    again = rec.post(f"/api/v1/incidents/{number}/reopen", {"reason": "came back"}, "responder")
    assert again.status_code == 200
    assert again.json()["status"] == "acknowledged" and again.json()["stage"] == "investigating"
    record = rec.get(f"/api/v1/incidents/{number}").json()
    assert record["figures"]["resolved_at"] is None  # open again
    timeline = rec.get(f"/api/v1/incidents/{number}/timeline?kind=note,assigned,reopened").json()
    assert [e["kind"] for e in timeline] == ["note", "assigned", "assigned", "reopened"]
    assert timeline[-1]["detail"] == {"by": "responder", "reason": "came back"}


def test_a_route_without_auto_resolve_keeps_the_incident_open(
    rec: Api, clock: VirtualClock
) -> None:
    fire(rec, "DiskFull", team="db")
    rec.run_engine()
    number = only(rec)["number"]
    clock.advance(60)
    resolve_alert(rec, "DiskFull", team="db")
    rec.run_engine()
    record = rec.get(f"/api/v1/incidents/{number}").json()
    assert record["status"] == "triggered"  # a person resolves it
    assert kinds(rec, number)[-2:] == ["group_flushed", "alerts_resolved"]
    assert rec.post(f"/api/v1/incidents/{number}/resolve", {}).status_code == 200


def test_runbook_sections_shared_and_by_severity(rec: Api) -> None:
    fire(rec, "DatabaseDown", instance="db1", severity="warning")
    fire(rec, "DatabaseUnreachable", instance="db1", severity="warning")
    rec.run_engine()
    incidents = rec.get("/api/v1/incidents").json()
    down = next(i for i in incidents if i["group_labels"]["alertname"] == "DatabaseDown")
    [section] = rec.get(f"/api/v1/incidents/{down['id']}").json()["runbooks"]
    assert section["section"].startswith("DatabaseDown")
    assert section["shares_section_with"] == ["DatabaseUnreachable"]
    first = section["severity_variants"][0]
    assert first["severity"] == "warning" and first["matches"]  # its own variant first
    assert section["steps"][-1]["commands"][0]["code"].strip() == "pg_isready -h <host>"
    opened = rec.post(f"/api/v1/incidents/{down['id']}/runbook", {}, role="responder")
    assert opened.status_code == 200 and opened.json()[0]["section"] == section["section"]
    rec.post(f"/api/v1/incidents/{down['id']}/runbook", {}, role="responder")  # recorded once
    assert kinds(rec, down["id"]).count("runbook_opened") == 1


def test_next_link_never_reflects_the_host_header(rec: Api) -> None:
    """The Link header is built from global.external_url, or relative (issue 17, item 32)."""
    for i in range(3):
        fire(rec, "DiskFull", instance=f"host{i}")
    rec.run_engine()
    hostile = {**rec.headers(), "Host": "evil.example"}
    link = rec.client.get("/api/v1/incidents?limit=2", headers=hostile).headers["Link"]
    assert link == '</api/v1/incidents?limit=2&offset=2>; rel="next"'
    rec.state.config = parse_config(
        CONFIG.replace(
            "global: {resolve_timeout: 5m}",
            "global: {resolve_timeout: 5m, external_url: 'https://tocsin.example.com/base/'}",
        )
    )
    link = rec.client.get("/api/v1/incidents?limit=2", headers=hostile).headers["Link"]
    assert link == '<https://tocsin.example.com/base/api/v1/incidents?limit=2&offset=2>; rel="next"'


def test_pagination_filters_and_errors(rec: Api) -> None:
    for i in range(5):
        fire(rec, "DiskFull", instance=f"host{i}")
    rec.run_engine()
    page = rec.get("/api/v1/incidents?limit=2")
    assert page.status_code == 200 and len(page.json()) == 2
    assert page.headers["X-Total-Count"] == "5"
    assert 'rel="next"' in page.headers["Link"] and "offset=2" in page.headers["Link"]
    last = rec.get("/api/v1/incidents?limit=2&offset=4")
    assert len(last.json()) == 1 and "Link" not in last.headers
    assert [i["id"] for i in page.json()] == sorted((i["id"] for i in page.json()), reverse=True)
    assert len(rec.get("/api/v1/incidents?status=triggered,acknowledged").json()) == 5
    assert rec.get("/api/v1/incidents?severity=critical").json() == []
    assert len(rec.get("/api/v1/incidents?since=2027-01-15T08:00:00Z").json()) == 5
    for path, status in (
        ("/api/v1/incidents?status=open", 400),
        ("/api/v1/incidents?since=yesterday", 400),
        ("/api/v1/incidents?limit=0", 422),
        ("/api/v1/incidents/999", 404),
        ("/api/v1/nowhere", 404),
    ):
        answer = rec.get(path)
        assert answer.status_code == status, path
        error = answer.json()["error"]
        assert error["status"] == status and error["message"], path
    number = rec.get("/api/v1/incidents").json()[0]["id"]
    bodies: list[object] = [{"text": ""}, {"text": "x" * 10_001}, {"words": "hi"}, []]
    for body in bodies:
        bad = rec.client.post(f"/api/v1/incidents/{number}/notes", json=body, headers=rec.headers())
        assert bad.status_code == 422 and bad.json()["error"]["status"] == 422
    denied = rec.post(f"/api/v1/incidents/{number}/notes", {"text": "hi"}, role="viewer")
    assert denied.status_code == 403 and denied.json()["error"]["status"] == 403
    anonymous = rec.client.get("/api/v1/incidents")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["status"] == 401
    assert rec.post("/api/v1/incidents/999/notes", {"text": "hi"}).status_code == 404


def test_a_reopened_incident_is_reminded_to_post_updates(rec: Api, clock: VirtualClock) -> None:
    """critical: update_every 30m. Resolved by hand at 08:10 (no reminder since), reopened at
    08:20: the next reminder is due at 08:50, not at once; and the alert that ended at 08:05
    does not resolve the reopened incident again."""
    fire(rec, "DatabaseDown", severity="critical")
    rec.run_engine()
    number = only(rec)["number"]
    clock.advance(600)
    rec.post(f"/api/v1/incidents/{number}/resolve", {})
    clock.advance(600)
    assert rec.post(f"/api/v1/incidents/{number}/reopen", {}).status_code == 200
    clock.advance(1799)
    rec.run_engine()
    assert "update_reminder" not in kinds(rec, number)
    clock.advance(1)
    rec.run_engine()
    assert kinds(rec, number)[-1] == "update_reminder"
    assert rec.get(f"/api/v1/incidents/{number}").json()["status"] == "acknowledged"


def test_review_findings_answer_4xx(rec: Api, clock: VirtualClock) -> None:
    """Reopening while the group has another open incident, updating a resolved incident,
    far-away times, huge offsets and huge bodies: each a clear 4xx, nothing stored."""
    fire(rec, "DiskFull")
    rec.run_engine()
    first = only(rec)["number"]
    rec.post(f"/api/v1/incidents/{first}/resolve", {})
    update = {"stage": "monitoring", "message": "still watching"}
    late = rec.post(f"/api/v1/incidents/{first}/status-updates", update)
    assert late.status_code == 409 and "resolved" in late.json()["error"]["message"]
    clock.advance(60)
    fire(rec, "DiskFull")  # still firing: a new incident for the group
    rec.run_engine()
    second = rec.get("/api/v1/incidents?status=triggered").json()[0]["number"]
    assert second != first
    twice = rec.post(f"/api/v1/incidents/{first}/reopen", {})
    assert twice.status_code == 409 and f"#{second}" in twice.json()["error"]["message"]
    for due in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "999999999d"):
        item = {"title": "x", "owner": "y", "due": due}
        answer = rec.post(f"/api/v1/incidents/{second}/action-items", item)
        assert answer.status_code == 422 and "century" in answer.json()["error"]["message"]
    assert rec.get("/api/v1/action-items").json() == []
    for path in (
        "/api/v1/action-items?offset=9223372036854775808",
        "/api/v1/incidents?offset=9223372036854775808",
    ):
        assert rec.get(path).status_code == 422, path
    assert rec.get("/api/v1/reports?since=0001-01-01T00:00:00%2B14:00").status_code == 400
    huge = b'{"text": "' + b"x" * (2 << 20) + b'"}'
    answer = rec.client.post(
        f"/api/v1/incidents/{second}/notes",
        content=huge,
        headers={**rec.headers(), "Content-Type": "application/json"},
    )
    assert answer.status_code == 413 and answer.json()["error"]["status"] == 413
