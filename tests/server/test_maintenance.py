"""Time intervals and maintenance windows on the virtual clock: the alert is kept and shown,
the incident records it, nobody is paged while the route is muted or a window holds it, the
timeline says so (``paging_held``, ``paging_resumed``), and paging resumes after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.server.conftest import Api, make_state
from tests.server.test_console import _csrf, signin
from tocsin.api.app import create_app
from tocsin.clock import VirtualClock
from tocsin.service import maintenance
from tocsin.web import console

CONFIG = dedent(
    """
    route:
      receiver: default
      group_by: [alertname]
      group_wait: 0s
      group_interval: 10m
      channels: [ops]
      routes:
        - matchers: ['team="db"']
          receiver: db
          mute_time_intervals: [morning]
          routes:
            - matchers: ['sub="replica"']
        - matchers: ['team="web"']
          receiver: web
          active_time_intervals: [office]
    receivers: [{name: default}, {name: db}, {name: web}]
    channels: [{name: ops, type: console}]
    time_intervals:
      - name: morning
        time_intervals:
          - times: [{start_time: '08:00', end_time: '09:00'}]
      - name: office
        time_intervals:
          - weekdays: ['monday:friday']
            times: [{start_time: '10:00', end_time: '17:00'}]
            location: Europe/Berlin
    """
)
LATER = "2027-01-15T14:00:00Z"  # the alerts' end: they fire all test long


@pytest.fixture
def am(db: Engine, clock: VirtualClock) -> Iterator[Api]:
    state = make_state(db, clock, CONFIG)
    with TestClient(create_app(state, run_engine=False)) as client:
        yield Api(client, state, db)


def fire(api: Api, **labels: str) -> dict[str, object]:
    api.post("/api/v2/alerts", [{"labels": labels, "endsAt": LATER}])
    api.run_engine()
    [incident] = [
        i
        for i in api.get("/api/v1/incidents").json()
        if i["group_labels"].get("alertname") == labels["alertname"]
    ]
    return dict(incident)


def kinds(api: Api, incident_id: object) -> list[str]:
    return [e["kind"] for e in api.get(f"/api/v1/incidents/{incident_id}/timeline").json()]


def event(api: Api, incident_id: object, kind: str) -> dict[str, object]:
    found = api.get(f"/api/v1/incidents/{incident_id}/timeline").json()
    return dict(next(e["detail"] for e in found if e["kind"] == kind))


def test_a_muted_route_keeps_the_alert_and_pages_nobody_until_the_interval_ends(
    am: Api, clock: VirtualClock
) -> None:
    # 08:00 UTC, in `morning`
    incident = fire(am, alertname="DiskFull", team="db")
    assert incident["status"] == "pending"
    assert "triggered" not in kinds(am, incident["id"])
    assert event(am, incident["id"], "paging_held") == {
        "reason": "time_interval",
        "intervals": ["morning"],
    }
    shown = am.get("/api/v2/alerts").json()
    assert [a["labels"]["alertname"] for a in shown] == ["DiskFull"]  # kept and shown
    clock.advance(3600)  # 09:00: the next flush pages
    am.run_engine()
    after = kinds(am, incident["id"])
    assert after.index("paging_resumed") < after.index("triggered")
    assert am.get(f"/api/v1/incidents/{incident['id']}").json()["status"] == "triggered"


def test_a_child_route_does_not_inherit_its_parents_mute_time_intervals(am: Api) -> None:
    incident = fire(am, alertname="ReplicaLag", team="db", sub="replica")
    assert incident["status"] == "triggered"
    assert "paging_held" not in kinds(am, incident["id"])


def test_an_active_time_interval_route_pages_only_inside_it(am: Api, clock: VirtualClock) -> None:
    # Friday 08:00 UTC is 09:00 in Berlin: before office hours
    incident = fire(am, alertname="Slow", team="web")
    assert incident["status"] == "pending"
    assert event(am, incident["id"], "paging_held")["intervals"] == ["office"]
    clock.advance(110 * 60)  # 09:50 UTC, 10:50 Berlin: the flush at 10m steps pages
    am.run_engine()
    assert am.get(f"/api/v1/incidents/{incident['id']}").json()["status"] == "triggered"


def test_a_maintenance_window_holds_pages_and_paging_resumes_when_it_ends(
    am: Api, clock: VirtualClock
) -> None:
    made = am.post(
        "/api/v1/maintenance",
        {
            "matchers": ['service="api"'],
            "endsAt": "2027-01-15T08:15:00Z",
            "comment": "deploy",
        },
        role="responder",
    )
    assert made.status_code == 201, made.text
    window = made.json()
    assert window["state"] == "active" and window["createdBy"] == "responder"
    incident = fire(am, alertname="Errors", service="api")
    assert incident["status"] == "pending"
    held = event(am, incident["id"], "paging_held")
    assert held == {"reason": "maintenance", "window": window["id"], "until": 1_800_000_900.0}
    assert am.get("/api/v1/maintenance").json()[0]["id"] == window["id"]
    clock.advance(14 * 60)
    am.run_engine()
    assert am.get(f"/api/v1/incidents/{incident['id']}").json()["status"] == "pending"
    clock.advance(60)  # 08:15: the window ends, the flush due then pages
    am.run_engine()
    assert am.get(f"/api/v1/incidents/{incident['id']}").json()["status"] == "triggered"
    assert event(am, incident["id"], "paging_resumed")["window"] == window["id"]
    assert am.get("/api/v1/maintenance").json() == []
    assert am.get("/api/v1/maintenance?all=true").json()[0]["state"] == "ended"


def test_ending_a_window_pages_what_it_held_at_once(am: Api, clock: VirtualClock) -> None:
    window = am.post(
        "/api/v1/maintenance", {"receiver": "default", "endsAt": "2027-01-15T12:00:00Z"}
    ).json()
    incident = fire(am, alertname="Queue")
    assert incident["status"] == "pending"
    clock.advance(60)
    ended = am.delete(f"/api/v1/maintenance/{window['id']}", role="responder")
    assert ended.status_code == 200 and ended.json()["endedBy"] == "responder"
    am.run_engine()
    assert am.get(f"/api/v1/incidents/{incident['id']}").json()["status"] == "triggered"
    again = am.delete(f"/api/v1/maintenance/{window['id']}")
    assert again.status_code == 409


def test_a_window_for_another_service_holds_nothing(am: Api) -> None:
    am.post("/api/v1/maintenance", {"matchers": ['service="db"'], "endsAt": LATER})
    incident = fire(am, alertname="Errors", service="api")
    assert incident["status"] == "triggered"


def test_a_recurring_window_holds_only_while_its_interval_holds(
    am: Api, clock: VirtualClock
) -> None:
    am.post("/api/v1/maintenance", {"receiver": "default", "timeInterval": "morning"})
    incident = fire(am, alertname="Batch")
    assert incident["status"] == "pending"
    clock.advance(3600)
    am.run_engine()
    assert am.get(f"/api/v1/incidents/{incident['id']}").json()["status"] == "triggered"


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"endsAt": LATER}, 422, "needs a receiver"),
        ({"receiver": "nobody", "endsAt": LATER}, 422, "no receiver 'nobody'"),
        ({"matchers": ["bad matcher"], "endsAt": LATER}, 422, "bad matcher"),
        ({"receiver": "default"}, 422, "needs an end"),
        ({"receiver": "default", "endsAt": "2027-01-15T07:00:00Z"}, 422, "after the start"),
        ({"receiver": "default", "timeInterval": "never"}, 422, "no time interval 'never'"),
    ],
)
def test_a_bad_window_is_refused(am: Api, body: dict[str, object], status: int, words: str) -> None:
    answer = am.post("/api/v1/maintenance", body)
    assert answer.status_code == status and words in answer.text, answer.text


def test_windows_not_over_are_bounded(am: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every flush reads the windows not over (the engine at most 10,000: one beyond would
    hold nothing, silently); past MAX_OPEN a new one is refused until some end."""
    monkeypatch.setattr(maintenance, "MAX_OPEN", 2)
    body = {"receiver": "default", "endsAt": LATER}
    first = am.post("/api/v1/maintenance", body)
    assert am.post("/api/v1/maintenance", body).status_code == 201
    refused = am.post("/api/v1/maintenance", body)
    assert refused.status_code == 409 and "not over already" in refused.text
    assert am.delete(f"/api/v1/maintenance/{first.json()['id']}").status_code == 200
    assert am.post("/api/v1/maintenance", body).status_code == 201


def test_a_viewer_may_read_windows_but_not_change_them(am: Api) -> None:
    answer = am.post("/api/v1/maintenance", {"receiver": "default", "endsAt": LATER}, role="viewer")
    assert answer.status_code == 403
    assert am.get("/api/v1/maintenance", role="viewer").status_code == 200


@pytest.fixture
def console_api(
    db: Engine, clock: VirtualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Api]:
    monkeypatch.setenv("TOCSIN_DATA_DIR", str(tmp_path))  # the server's key, on PostgreSQL
    state = make_state(db, clock, CONFIG)
    with TestClient(console.install(create_app(state, run_engine=False))) as client:
        yield Api(client, state, db)


def test_the_console_starts_lists_and_ends_a_window(console_api: Api, clock: VirtualClock) -> None:
    api, client = console_api, console_api.client
    signin(client, api.tokens["responder"], "/maintenance")
    page = client.get("/maintenance").text
    assert "Start maintenance" in page and '<option value="morning">' in page
    refused = client.post(
        "/maintenance",
        data={"csrf": _csrf(page), "matchers": "", "duration": "1h", "comment": "x"},
    )
    assert refused.status_code == 422 and "needs a receiver" in refused.text
    no_csrf = client.post("/maintenance", data={"receiver": "db", "duration": "1h"})
    assert no_csrf.status_code == 403
    made = client.post(
        "/maintenance",
        data={
            "csrf": _csrf(page),
            "matchers": 'service="api"',
            "duration": "1h",
            "comment": "<b>deploy</b>",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    [window] = api.get("/api/v1/maintenance").json()
    assert window["createdBy"] == "responder" and window["matchers"] == ['service="api"']
    assert window["endsAt"] == "2027-01-15T09:00:00Z"
    listed = client.get("/maintenance").text
    assert "&lt;b&gt;deploy&lt;/b&gt;" in listed and "<b>deploy" not in listed
    incident = fire(api, alertname="Errors", service="api")
    assert incident["status"] == "pending"
    ended = client.post(
        f"/maintenance/{window['id']}/end", data={"csrf": _csrf(listed)}, follow_redirects=False
    )
    assert ended.status_code == 303
    api.run_engine()
    assert api.get(f"/api/v1/incidents/{incident['id']}").json()["status"] == "triggered"
    viewer = TestClient(client.app)
    signin(viewer, api.tokens["viewer"], "/maintenance")
    seen = viewer.get("/maintenance").text
    assert "Start maintenance" not in seen and "End now" not in seen
    body = {"csrf": _csrf(seen), "receiver": "db", "duration": "1h"}
    assert viewer.post("/maintenance", data=body).status_code == 403


def notified(api: Api, incident_id: object) -> list[object]:
    return list(api.get(f"/api/v1/incidents/{incident_id}/notifications").json())


def test_a_held_incident_tells_no_channel_until_the_hold_ends(am: Api, clock: VirtualClock) -> None:
    incident = fire(am, alertname="DiskFull", team="db")  # muted by `morning`
    am.run_once()
    assert notified(am, incident["id"]) == []
    clock.advance(3600)
    am.run_engine()
    am.run_once()
    assert notified(am, incident["id"]) != []  # the channel is told once the hold is over
    other = fire(am, alertname="Fine", team="none")
    am.run_once()
    assert notified(am, other["id"]) != []  # a route with no hold is told at once


def test_an_incident_that_ends_within_a_window_resolves_without_a_word(
    am: Api, clock: VirtualClock
) -> None:
    am.post("/api/v1/maintenance", {"receiver": "default", "endsAt": LATER})
    am.post("/api/v2/alerts", [{"labels": {"alertname": "Blip"}, "endsAt": "2027-01-15T08:05:00Z"}])
    am.run_engine()
    [incident] = am.get("/api/v1/incidents").json()
    assert incident["status"] == "pending"
    clock.advance(20 * 60)
    am.run_engine()
    am.run_once()
    assert am.get(f"/api/v1/incidents/{incident['id']}").json()["status"] == "resolved"
    assert notified(am, incident["id"]) == []
    assert "triggered" not in kinds(am, incident["id"])
