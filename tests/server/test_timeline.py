"""Issue 18, item 3: the timeline stays readable at any size. A flush writes one event with
counts (and the first few alerts named), not one per alert; per-alert history is in alert
history; timeline reads are paginated by cursor. On the virtual clock, SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from tests.server.conftest import Api, make_state
from tocsin.api.app import create_app
from tocsin.clock import VirtualClock
from tocsin.incidents.describe import event_sentence
from tocsin.store import repo
from tocsin.store.db import make_engine, upgrade

CONFIG = """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
receivers: [{name: default}]
"""

STORM = 5_000


@pytest.fixture
def storm(db: Engine, clock: VirtualClock) -> Iterator[Api]:
    state = make_state(db, clock, CONFIG)
    with TestClient(create_app(state, run_engine=False)) as client:
        yield Api(client, state, db)


def post(api: Api, instances: range, resolved: bool = False) -> None:
    ended = {"startsAt": "2027-01-15T07:00:00Z", "endsAt": "2027-01-15T07:30:00Z"}
    for start in range(instances.start, instances.stop, 1_000):  # a request holds 1,000
        body = [
            {
                "labels": {"alertname": "NodeDown", "instance": f"n{i:05}"},
                **(ended if resolved else {}),
            }
            for i in range(start, min(start + 1_000, instances.stop))
        ]
        assert api.post("/api/v2/alerts", body).status_code == 200


def timeline(api: Api, number: int, query: str = "") -> list[dict[str, Any]]:
    answer = api.get(f"/api/v1/incidents/{number}/timeline?limit=5000{query}")
    assert answer.status_code == 200 and "Link" not in answer.headers
    events: list[dict[str, Any]] = answer.json()
    return events


def test_a_storm_of_5000_alerts_makes_a_handful_of_events_with_counts_that_add_up(
    storm: Api, clock: VirtualClock
) -> None:
    post(storm, range(STORM))
    storm.run_engine()
    [incident] = storm.get("/api/v1/incidents").json()
    number = incident["number"]
    first = timeline(storm, number)
    assert len(first) < 10, [e["kind"] for e in first]  # was 5,000 alert_fired events
    [changed] = [e["detail"] for e in first if e["kind"] == "alerts_changed"]
    assert (changed["fired"], changed["resolved"], changed["still_firing"]) == (STORM, 0, STORM)
    assert [a["labels"]["instance"] for a in changed["alerts"]] == [f"n{i:05}" for i in range(5)]
    [flushed] = [e["detail"] for e in first if e["kind"] == "group_flushed"]
    assert flushed["firing_count"] == STORM
    assert [a["labels"]["instance"] for a in flushed["firing"]] == [f"n{i:05}" for i in range(5)]

    # a minute on: 1,000 end, 500 new fire; the next flush says so in one event
    clock.advance(60)
    post(storm, range(1_000), resolved=True)
    post(storm, range(STORM, STORM + 500))
    storm.run_engine()
    clock.advance(60)
    storm.run_engine()  # nothing changed: nothing more to say of the alerts
    events = timeline(storm, number)
    changes = [e["detail"] for e in events if e["kind"] == "alerts_changed"]
    assert [(c["fired"], c["resolved"]) for c in changes] == [(STORM, 0), (500, 1_000)]
    firing = sum(c["fired"] for c in changes) - sum(c["resolved"] for c in changes)
    assert changes[-1]["still_firing"] == firing == STORM - 1_000 + 500
    assert {a["kind"] for a in changes[-1]["alerts"]} == {"alert_fired", "alert_resolved"}
    assert len(events) < 20, [e["kind"] for e in events]
    record = storm.get(f"/api/v1/incidents/{number}").json()
    assert sum(a["status"] == "firing" for a in record["alerts"]) == firing

    # each alert's own story is in alert history, read a page at a time, newest first
    ids: list[int] = []
    url = "/api/v1/alerts/history?limit=500"
    while url:
        answer = storm.get(url)
        assert answer.status_code == 200 and len(answer.json()) <= 500
        ids += [a["id"] for a in answer.json()]
        link = answer.headers.get("Link", "")
        url = link[1 : link.index(">")] if link else ""
    # an ended alert's episode is updated in place: one episode per alert here
    assert len(ids) == len(set(ids)) == STORM + 500 and ids == sorted(ids, reverse=True)
    one = storm.get("/api/v1/alerts/history?limit=1").json()[0]["fingerprint"]
    episodes = storm.get(f"/api/v1/alerts/history?fingerprint={one}&limit=1")
    assert len(episodes.json()) == 1 and "Link" not in episodes.headers


def test_the_timeline_is_read_a_page_at_a_time(storm: Api, clock: VirtualClock) -> None:
    post(storm, range(3))
    storm.run_engine()
    for minute in range(6):  # each minute one alert ends or fires: one event each
        clock.advance(60)
        post(storm, range(minute, minute + 1), resolved=True)
        post(storm, range(10 + minute, 11 + minute))
        storm.run_engine()
    number = storm.get("/api/v1/incidents").json()[0]["number"]
    everything = timeline(storm, number)
    assert len(everything) > 8
    pages: list[list[dict[str, Any]]] = []
    url = f"/api/v1/incidents/{number}/timeline?limit=3&kind=alerts_changed,group_flushed"
    while url:
        answer = storm.get(url)
        assert answer.status_code == 200
        pages.append(answer.json())
        link = answer.headers.get("Link", "")
        url = link[1 : link.index(">")] if link else ""
        if url:
            assert parse_qs(urlsplit(url).query)["after"] == [str(pages[-1][-1]["id"])]
    assert all(len(p) == 3 for p in pages[:-1]) and 1 <= len(pages[-1]) <= 3
    wanted = [e for e in everything if e["kind"] in ("alerts_changed", "group_flushed")]
    assert [e for p in pages for e in p] == wanted
    # the default page, the cursor and its bounds
    assert storm.get(f"/api/v1/incidents/{number}/timeline").json() == everything
    after = everything[4]["id"]
    assert timeline(storm, number, f"&after={after}") == everything[5:]
    assert storm.get(f"/api/v1/incidents/{number}/timeline?limit=5001").status_code == 422
    assert storm.get(f"/api/v1/incidents/{number}/timeline?after=-1").status_code == 422
    # the latest events (what `tocsin incident show` prints), and how many there are
    latest = storm.get(f"/api/v1/incidents/{number}/timeline?latest=true&limit=4")
    assert latest.json() == everything[-4:] and "Link" not in latest.headers
    assert latest.headers["X-Total-Count"] == str(len(everything))


def test_a_small_incident_still_names_its_alert(storm: Api, clock: VirtualClock) -> None:
    post(storm, range(1))
    storm.run_engine()
    number = storm.get("/api/v1/incidents").json()[0]["number"]
    clock.advance(60)
    post(storm, range(1), resolved=True)
    storm.run_engine()
    said = [
        event_sentence(e["kind"], e["detail"])
        for e in timeline(storm, number)
        if e["kind"] == "alerts_changed"
    ]
    assert said == ["NodeDown instance=n00000 fired", "NodeDown instance=n00000 resolved"]


def test_0007_keeps_what_an_open_incidents_timeline_said_of_its_alerts(
    database_url: str,
) -> None:
    """Before 0007 the timeline held one event per alert; the upgrade reads an open
    incident's into its alerts' rows, so the next flush says only what changed."""
    engine = make_engine(database_url)
    upgrade(engine, "0006")
    a, b, c = "a" * 16, "b" * 16, "c" * 16
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO incidents (id, group_key, route_id, receiver, group_labels, status,"
                " opened_at, first_alert_at, last_alert_at, group_wait_s, group_interval_s,"
                " repeat_interval_s) VALUES (1, 'k', '0', 'r', '{}', 'triggered', 1, 1, 1,"
                " 0, 60, 3600)"
            )
        )
        for fp in (a, b, c):
            conn.execute(text("INSERT INTO incident_alerts VALUES (1, :fp, 1)"), {"fp": fp})
        for kind, detail in (
            ("alert_fired", {"fingerprint": a}),
            ("alert_fired", {"fingerprint": b}),
            ("group_flushed", {"firing": [{"fingerprint": a}, {"fingerprint": b}]}),
            ("alert_resolved", {"fingerprint": b}),
            ("silenced", {"fingerprint": c, "silenced_by": ["s"]}),
        ):
            conn.execute(
                text(
                    "INSERT INTO timeline (incident_id, at, kind, detail)"
                    " VALUES (1, 1, :kind, :detail)"
                ),
                {"kind": kind, "detail": json.dumps(detail)},
            )
    upgrade(engine)
    with engine.connect() as conn:
        sent, said = repo.member_states(conn, [1])[1]
    assert sent == {a, b}
    assert said == {a: "fired", b: "resolved", c: "silenced"}
    engine.dispose()
