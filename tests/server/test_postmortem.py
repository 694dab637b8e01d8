"""Postmortems and action items through the real server on a virtual clock: an incident paged,
escalated past its deadline, acknowledged and resolved; its postmortem compared with a stored
snapshot (figures worked out by hand); action items added, listed, filtered and closed."""

from __future__ import annotations

import os
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

SNAPSHOTS = Path(__file__).parent.parent / "incidents" / "snapshots"

# START is 2027-01-15T08:00:00Z. Console channels: deliveries always succeed.
CONFIG = dedent(
    """
    global: {resolve_timeout: 5m}
    route:
      receiver: default
      group_by: [alertname]
      group_wait: 0s
      group_interval: 1m
      escalation_policy: default
      channels: [team]
    receivers: [{name: default}]
    channels:
      - {name: team, type: console}
      - {name: pager, type: console}
    users:
      - {name: alice, contact: [pager]}
      - {name: carol, contact: [pager]}
    rotations:
      - {name: daily, type: daily, start: "2027-01-15T00:00", timezone: UTC,
         participants: [alice]}
    schedules:
      - {name: primary, layers: [{rotation: daily}]}
    severities:
      levels:
        - {name: critical, ack_deadline: 3m}
    escalation_policies:
      - name: default
        steps:
          - {targets: ["schedule:primary"], delay: 5m}
          - {targets: ["user:carol"], delay: 10m}
    """
)


def snapshot(name: str, text: str) -> None:
    """Compare with tests/incidents/snapshots/NAME exactly (TOCSIN_UPDATE_SNAPSHOTS=1 writes
    it instead: review the diff before committing)."""
    path = SNAPSHOTS / name
    if os.environ.get("TOCSIN_UPDATE_SNAPSHOTS"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


class Scene:
    def __init__(self, api: Api, clock: VirtualClock) -> None:
        self.api = api
        self.clock = clock

    def run(self) -> None:
        self.api.run_once()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.run()

    def fire(self) -> int:
        alert = {
            "labels": {"alertname": "PebbleDatabaseDown", "severity": "critical", "db": "main"},
            "annotations": {
                "summary": "pebble-db main is down",
                "impact": "Uploads fail for every user | the app shows an error\nand retries",
            },
            "startsAt": "2027-01-15T08:00:00Z",
            "endsAt": "2027-01-15T10:00:00Z",
        }
        assert self.api.post("/api/v2/alerts", [alert]).status_code == 200
        self.run()
        return int(self.api.get("/api/v1/incidents").json()[0]["id"])


def make(db: Engine, clock: VirtualClock, text: str, base_dir: Path | None) -> Iterator[Scene]:
    state = AppState(db=db, config=parse_config(text, base_dir=base_dir), clock=clock)
    with TestClient(create_app(state, run_engine=False)) as client:
        yield Scene(Api(client, state, db), clock)


@pytest.fixture
def scene(db: Engine, clock: VirtualClock) -> Iterator[Scene]:
    yield from make(db, clock, CONFIG, None)


def respond(scene: Scene) -> int:
    """Paged at 08:00:00, deadline missed at 08:03:00 (carol paged), acknowledged at
    08:07:00, resolved at 08:20:00."""
    incident = scene.fire()
    scene.advance(180)  # the critical deadline: step 2 at once
    scene.advance(240)
    acked = scene.api.post(f"/api/v1/incidents/{incident}/ack", {}, role="responder")
    assert acked.status_code == 200
    scene.run()
    scene.advance(13 * 60)
    done = scene.api.post(f"/api/v1/incidents/{incident}/resolve", {}, role="responder")
    assert done.status_code == 200
    scene.run()
    return incident


def test_postmortem_of_a_paged_escalated_acknowledged_incident(scene: Scene) -> None:
    incident = respond(scene)
    scene.advance(5 * 60)  # 08:25:00: the review
    first = scene.api.post(
        f"/api/v1/incidents/{incident}/action-items",
        {"title": "Page the DB team | not only app on-call", "owner": "alice"},
        role="responder",
    )
    assert first.status_code == 201
    second = scene.api.post(
        f"/api/v1/incidents/{incident}/action-items",
        {"title": "Fail over\nautomatically", "owner": "carol", "due": "2027-01-16T12:00:00Z"},
        role="responder",
    )
    done = scene.api.client.patch(
        f"/api/v1/action-items/{second.json()['id']}",
        json={"status": "done"},
        headers=scene.api.headers("responder"),
    )
    assert done.status_code == 200 and done.json()["closed_at"] == "2027-01-15T08:25:00Z"
    scene.advance(60)
    answer = scene.api.get(f"/api/v1/incidents/{incident}/postmortem", role="viewer")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/markdown")
    text = answer.text
    # by hand: first page 08:00:00, acknowledged 08:07:00; first alert 08:00:00, resolved
    # 08:20:00; one escalation (to carol; the first step only started the policy); one
    # missed deadline; pages to people: alice, carol (and three messages to the team channel)
    assert "| Time to acknowledge (first page to first acknowledgement) | 7 min 0 s |" in text
    assert "| Time to resolve (first alert to resolution) | 20 min 0 s |" in text
    assert "| Escalations | 1 |" in text and "| Acknowledgement deadlines missed | 1 |" in text
    assert "| Pages sent | 2 |" in text and "| Pages failed | 0 |" in text
    assert "Page the DB team \\| not only app on-call" in text
    assert "| Fail over automatically | carol | 2027-01-16 12:00:00 UTC | done |" in text
    snapshot("server-incident.md", text)


def test_postmortem_404_in_the_one_error_shape(scene: Scene) -> None:
    for path in ("/api/v1/incidents/99/postmortem", "/api/v1/incidents/99999999999/postmortem"):
        answer = scene.api.get(path)
        assert answer.status_code == 404
        assert answer.json()["error"]["status"] == 404
        assert "no incident" in answer.json()["error"]["message"]


def test_a_teams_own_postmortem_template(db: Engine, clock: VirtualClock, tmp_path: Path) -> None:
    (tmp_path / "postmortem.md.j2").write_text(
        "# {{ incident.id }}: {{ incident.title }}\n"
        "TTA {{ durations.time_to_acknowledge }}, TTR {{ durations.time_to_resolve }}\n"
        "{% for row in timeline if row.kind == 'acknowledged' %}"
        "{{ row.at }} {{ cell(row.what) }}\n{% endfor %}",
        encoding="utf-8",
    )
    text = CONFIG + "postmortem_template: postmortem.md.j2\n"
    for scene in make(db, clock, text, tmp_path):
        incident = respond(scene)
        answer = scene.api.get(f"/api/v1/incidents/{incident}/postmortem")
        assert answer.text == (
            f"# {incident}: PebbleDatabaseDown\n"
            "TTA 7 min 0 s, TTR 20 min 0 s\n"
            "2027-01-15 08:07:00 Acknowledged by responder\n"
        )


# --- action items ---------------------------------------------------------------------------


def items(scene: Scene, query: str = "", role: str = "viewer") -> dict[str, Any]:
    answer = scene.api.get(f"/api/v1/action-items{query}", role=role)
    assert answer.status_code == 200, answer.text
    return {"items": answer.json(), "total": int(answer.headers["X-Total-Count"])}


def test_action_items_defaults_filters_and_timeline(scene: Scene) -> None:
    incident = scene.fire()
    added = scene.api.post(
        f"/api/v1/incidents/{incident}/action-items",
        {"title": "  Add a replica  ", "owner": "alice"},
        role="responder",
    )
    assert added.status_code == 201
    item = added.json()
    assert item["title"] == "Add a replica" and item["status"] == "open"
    assert item["due_at"] == "2027-01-22T08:00:00Z"  # created + 7 days
    assert item["created_by"] == "responder" and item["closed_at"] is None
    later = scene.api.post(
        f"/api/v1/incidents/{incident}/action-items",
        {"title": "Runbook for failover", "owner": "bob", "due": "1d"},
    ).json()
    assert later["due_at"] == "2027-01-16T08:00:00Z"

    assert items(scene)["total"] == 2
    assert [i["id"] for i in items(scene)["items"]] == [later["id"], item["id"]]  # soonest due
    assert [i["owner"] for i in items(scene, "?owner=alice")["items"]] == ["alice"]
    assert items(scene, f"?incident={incident}&limit=1")["total"] == 2
    assert len(items(scene, f"?incident={incident}&limit=1")["items"]) == 1
    assert items(scene, "?incident=999")["total"] == 0
    assert items(scene, "?overdue=true")["items"] == []

    scene.clock.advance(2 * 86_400)  # bob's is overdue, alice's not yet
    overdue = items(scene, "?overdue=true")["items"]
    assert [i["id"] for i in overdue] == [later["id"]] and overdue[0]["overdue"] is True

    closed = scene.api.client.patch(
        f"/api/v1/action-items/{later['id']}",
        json={"status": "cancelled"},
        headers=scene.api.headers("responder"),
    )
    assert closed.json()["status"] == "cancelled" and closed.json()["overdue"] is False
    assert items(scene, "?overdue=true")["items"] == []
    assert [i["id"] for i in items(scene, "?status=cancelled")["items"]] == [later["id"]]

    moved = scene.api.client.patch(
        f"/api/v1/action-items/{item['id']}",
        json={"owner": "carol", "due": "2027-02-01T00:00:00"},
        headers=scene.api.headers("admin"),
    ).json()
    assert moved["owner"] == "carol" and moved["due_at"] == "2027-02-01T00:00:00Z"

    timeline = scene.api.get(f"/api/v1/incidents/{incident}/timeline").json()
    notes = [e["detail"] for e in timeline if e["kind"] == "action_item"]
    assert [n["change"] for n in notes] == [
        "added",
        "added",
        "cancelled",
        "owner changed, due changed",
    ]
    assert notes[0]["title"] == "Add a replica" and notes[0]["owner"] == "alice"
    assert notes[0]["id"] == item["id"] and notes[3]["owner"] == "carol"


def test_action_item_errors(scene: Scene) -> None:
    incident = scene.fire()
    base = f"/api/v1/incidents/{incident}/action-items"
    missing = scene.api.post("/api/v1/incidents/999/action-items", {"title": "x", "owner": "a"})
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "no incident 999"
    cases: list[tuple[object, str]] = [
        ({"owner": "alice"}, "title"),
        ({"title": "x" * 501, "owner": "alice"}, "title"),
        ({"title": "   ", "owner": "alice"}, "title"),
        ({"title": "x", "owner": "o" * 201}, "owner"),
        ({"title": "x", "owner": "alice", "due": "next week"}, "due"),
        ({"title": "x", "owner": "alice", "colour": "red"}, "colour"),
        (["not", "an", "object"], "body"),
    ]
    for body, field in cases:
        answer = scene.api.post(base, body)
        assert answer.status_code == 422, body
        error = answer.json()["error"]
        assert error["status"] == 422 and error["message"].startswith(field), error
    ok = scene.api.post(base, {"title": "x", "owner": "alice"}).json()
    patch = scene.api.client.patch
    bad = patch(
        f"/api/v1/action-items/{ok['id']}", json={"status": "maybe"}, headers=scene.api.headers()
    )
    assert bad.status_code == 422 and bad.json()["error"]["message"].startswith("status")
    gone = patch("/api/v1/action-items/999", json={"status": "done"}, headers=scene.api.headers())
    assert gone.status_code == 404 and gone.json()["error"]["message"] == "no action item 999"
    query = scene.api.get("/api/v1/action-items?limit=0")
    assert query.status_code == 422 and query.json()["error"]["message"].startswith("limit")
    query = scene.api.get("/api/v1/action-items?status=later")
    assert query.status_code == 422


def test_viewers_read_responders_write(scene: Scene) -> None:
    incident = scene.fire()
    body = {"title": "x", "owner": "alice"}
    denied = scene.api.post(f"/api/v1/incidents/{incident}/action-items", body, role="viewer")
    assert denied.status_code == 403 and denied.json()["error"]["status"] == 403
    made = scene.api.post(f"/api/v1/incidents/{incident}/action-items", body, role="responder")
    denied = scene.api.client.patch(
        f"/api/v1/action-items/{made.json()['id']}",
        json={"status": "done"},
        headers=scene.api.headers("viewer"),
    )
    assert denied.status_code == 403
    assert scene.api.get("/api/v1/action-items", role="viewer").status_code == 200
    assert scene.api.get(f"/api/v1/incidents/{incident}/postmortem", role="viewer").is_success
    assert scene.api.get("/api/v1/action-items", role="intake").status_code == 403
    assert scene.api.client.get("/api/v1/action-items").status_code == 401
