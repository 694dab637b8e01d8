"""The storm digest through the real server on a virtual clock (issue 18, item 4): a route
that triggers more than ``storm.incidents`` incidents within ``storm.window`` pages the rest
as one digest, carried by a lead incident whose escalation runs as always; the digest is
updated rather than repeated; acknowledging it covers the held incidents; another route is
unaffected. Webhooks go to real HTTP sinks on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.notify.sinks import HttpSink
from tests.server.conftest import Api
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config
from tocsin.incidents.describe import event_sentence

CONFIG = """
global: {{resolve_timeout: 5m, external_url: "https://tocsin.example.com"}}
storm: {{incidents: 3, window: 60s, update_every: 30s}}
route:
  receiver: default
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 10m
  escalation_policy: default
  channels: [team]
  routes:
    - matchers: ['team="other"']
      receiver: other
      channels: [other]
receivers: [{{name: default}}, {{name: other}}]
channels:
  - {{name: team, type: webhook, url: "{team}"}}
  - {{name: pager, type: webhook, url: "{pager}"}}
  - {{name: other, type: webhook, url: "{other}"}}
users:
  - {{name: alice, email: alice@example.com, contact: [pager]}}
  - {{name: carol, email: carol@example.com, contact: [pager]}}
severities:
  levels:
    - {{name: critical, ack_deadline: 30m}}
    - {{name: warning}}
escalation_policies:
  - name: default
    ack_timeout: 1h
    steps:
      - {{targets: ["user:alice"], delay: 5m}}
      - {{targets: ["user:carol"], delay: 10m}}
"""


class Storm:
    def __init__(self, api: Api, clock: VirtualClock, sinks: dict[str, HttpSink]) -> None:
        self.api = api
        self.clock = clock
        self.sinks = sinks
        self.seen = {name: 0 for name in sinks}
        self.fired = 0

    def run(self) -> None:
        self.api.run_once()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.run()

    def new(self, sink: str) -> list[dict[str, Any]]:
        got = self.sinks[sink].requests[self.seen[sink] :]
        self.seen[sink] += len(got)
        return [r.json() for r in got]

    def nothing_new(self) -> None:
        for name in self.sinks:
            assert self.new(name) == [], f"unexpected message on {name}"

    def fire(
        self, n: int = 1, name: str = "DiskFull", severity: str = "critical", **labels: str
    ) -> list[int]:
        """``n`` alerts, each of its own group (a new incident each); their incidents."""
        now = datetime.fromtimestamp(self.clock.now(), UTC).isoformat()
        alerts = []
        for _ in range(n):
            self.fired += 1
            alerts.append(
                {
                    "labels": {
                        "alertname": name,
                        "instance": f"n{self.fired}",
                        "severity": severity,
                        **labels,
                    },
                    "startsAt": now,
                    "endsAt": "2027-01-15T12:00:00Z",
                }
            )
        assert self.api.post("/api/v2/alerts", alerts).status_code == 200
        self.run()
        listed = self.api.get("/api/v1/incidents?limit=200").json()
        return sorted(int(i["id"]) for i in listed)[-n:]

    def kinds(self, incident: int) -> list[str]:
        timeline = self.api.get(f"/api/v1/incidents/{incident}/timeline").json()
        return [e["kind"] for e in timeline]

    def events(self, incident: int, kind: str) -> list[dict[str, Any]]:
        timeline = self.api.get(f"/api/v1/incidents/{incident}/timeline").json()
        return [e["detail"] for e in timeline if e["kind"] == kind]

    def incident(self, incident: int) -> dict[str, Any]:
        found: dict[str, Any] = self.api.get(f"/api/v1/incidents/{incident}").json()
        return found


@pytest.fixture
def storm(db: Engine, clock: VirtualClock) -> Iterator[Storm]:
    with HttpSink() as team, HttpSink() as pager, HttpSink() as other:
        sinks = {"team": team, "pager": pager, "other": other}
        text = CONFIG.format(team=team.url, pager=pager.url, other=other.url)
        state = AppState(db=db, config=parse_config(text), clock=clock)
        with TestClient(create_app(state, run_engine=False)) as client:
            yield Storm(Api(client, state, db), clock, sinks)


def test_the_nth_incident_pages_the_next_leads_a_digest_and_the_rest_are_held(
    storm: Storm,
) -> None:
    calm = storm.fire(3)  # the threshold: each pages on its own
    assert [m["kind"] for m in storm.new("team")] == ["firing"] * 3
    assert [m["recipient"]["name"] for m in storm.new("pager")] == ["alice"] * 3
    storm.advance(1)
    [lead] = storm.fire()  # the fourth within 60 s: it leads the storm
    [told] = storm.new("team")
    [paged] = storm.new("pager")
    for message in (told, paged):
        assert message["incident_id"] == lead
        assert message["title"].startswith("Storm on route root (receiver default): ")
        assert message["update_key"].startswith("storm:")
    assert paged["kind"] == "firing" and paged["recipient"]["name"] == "alice"  # its first page
    assert "Top alerts: DiskFull (1)." in paged["summary"]
    assert "storm_started" in storm.kinds(lead)
    storm.advance(1)
    held = storm.fire(5)
    storm.nothing_new()  # held: no page, no channel message of their own
    for incident in held:
        record = storm.incident(incident)
        assert record["status"] == "triggered"  # still opened, recorded and triggered
        [event] = storm.events(incident, "storm_held")
        assert event["lead"] == lead
        assert "escalated" not in storm.kinds(incident)
        # its flush recorded the alerts and says that no message went (issue 18's reader)
        [flushed] = storm.events(incident, "group_flushed")
        assert flushed["held_in"] == event["storm"]
        assert event_sentence("group_flushed", flushed).startswith(
            f"Alerts recorded; held in storm {event['storm']}, no message sent (1 firing: DiskFull"
        )
    for incident in [*calm, lead]:  # told their channels (the lead: the digest)
        assert "storm_held" not in storm.kinds(incident)
        [flushed] = storm.events(incident, "group_flushed")
        assert "held_in" not in flushed
        assert event_sentence("group_flushed", flushed).startswith("Alerts sent to the channels")
    storm.advance(28)  # the digest went with the lead's page 29 s ago
    storm.nothing_new()
    storm.advance(1)
    [update] = storm.new("team")
    [to_alice] = storm.new("pager")  # everyone paged for the lead hears the update too
    assert update["kind"] == to_alice["kind"] == "storm_update"
    assert to_alice["recipient"]["name"] == "alice"
    assert update["update_key"] == told["update_key"]
    assert "Held in this digest: 6 incidents, 6 still open." in update["text"]
    assert "Top alerts: DiskFull (6)." in update["text"]
    assert "9 new incidents in 1m" in update["title"]
    storm.nothing_new()
    # the lead's escalation runs by time: step 2 pages carol, with the digest
    storm.advance(5 * 60)
    pages = storm.new("pager")  # the three paged before the storm escalate on their own
    assert sorted(m["incident_id"] for m in pages) == [*calm, lead]
    [step2] = [m for m in pages if m["incident_id"] == lead]
    assert step2["recipient"]["name"] == "carol" and step2["escalation_step"] == 2
    assert step2["title"].startswith("Storm on route root")
    assert "Held in this digest: 6 incidents" in step2["summary"]
    storm.nothing_new()


def test_the_digest_is_updated_at_most_once_per_interval(storm: Storm) -> None:
    storm.fire(4)
    storm.new("team"), storm.new("pager")
    for _ in range(5):  # incidents keep joining every 5 s
        storm.advance(5)
        storm.fire(3)
    # 25 s after the lead: nothing yet; at 30 s one update per channel and person
    storm.nothing_new()
    storm.advance(5)
    assert [m["kind"] for m in storm.new("team")] == ["storm_update"]
    assert [m["kind"] for m in storm.new("pager")] == ["storm_update"]
    storm.advance(29)
    storm.fire(2)
    storm.nothing_new()
    storm.advance(1)
    [update] = storm.new("team")
    assert "Held in this digest: 18 incidents" in update["text"]
    assert len(storm.new("pager")) == 1
    storm.advance(120)  # nothing joined since: nothing to say
    storm.nothing_new()


def test_acknowledging_the_digest_covers_the_held_incidents(storm: Storm) -> None:
    first = storm.fire(4)
    lead = first[-1]
    held = storm.fire(4)
    storm.new("team"), storm.new("pager")
    acked = storm.api.post(f"/api/v1/incidents/{lead}/ack", {}, role="responder")
    assert acked.status_code == 200
    storm.run()
    [ack] = storm.new("team")
    assert ack["kind"] == "acknowledged" and ack["title"].startswith("Storm on route")
    [told] = storm.new("pager")  # alice, paged for the digest, hears who took it
    assert told["kind"] == "acknowledged" and told["recipient"]["name"] == "alice"
    assert ack["summary"].startswith("Acknowledged by responder")
    for incident in held:
        record = storm.incident(incident)
        assert record["status"] == "acknowledged" and record["acknowledged_by"] == "responder"
        [event] = storm.events(incident, "acknowledged")
        assert event["via"] == f"the storm digest (incident #{lead})"
    [covered] = storm.events(lead, "storm_acknowledged")
    assert covered["covered"] == 4
    for incident in first[:3]:  # paged on their own before the storm: not covered
        assert storm.incident(incident)["status"] == "triggered"
    later = storm.fire(2)  # held after the acknowledgement: covered as they join
    for incident in later:
        assert storm.incident(incident)["status"] == "acknowledged"
    storm.advance(30 * 60)  # no step of the lead fires again: only the digest's update
    storm_pages = [m for m in storm.new("pager") if m["incident_id"] not in first[:3]]
    assert [m["kind"] for m in storm_pages] == ["storm_update"]


def test_a_lead_resolved_before_anyone_acknowledged_hands_the_storm_over(storm: Storm) -> None:
    lead = storm.fire(4)[-1]
    held = storm.fire(3)
    storm.new("team"), storm.new("pager")
    assert storm.api.post(f"/api/v1/incidents/{lead}/resolve", {}).status_code == 200
    storm.run()
    assert "storm_handed_over" in storm.kinds(lead)
    assert "storm_lead" in storm.kinds(held[0])
    pages = [m for m in storm.new("pager") if m["kind"] in ("firing", "escalation")]
    assert [(m["incident_id"], m["recipient"]["name"]) for m in pages] == [(held[0], "alice")]
    assert pages[0]["title"].startswith("Storm on route")


def test_the_window_slides_and_a_calm_route_pages_again(storm: Storm) -> None:
    storm.fire(4)
    storm.new("team"), storm.new("pager")
    storm.advance(60)  # the four triggered 60 s ago: out of the window
    storm.fire(3)
    assert [m["kind"] for m in storm.new("team")] == ["firing"] * 3
    assert len(storm.new("pager")) == 3
    storm.advance(59)  # those three are still in the window: the next leads a new storm
    [lead] = storm.fire()
    [told] = storm.new("team")
    assert told["title"].startswith("Storm on route") and told["incident_id"] == lead
    assert storm.events(lead, "storm_started")[0]["storm"] == 2


def test_an_incident_of_another_route_is_unaffected(storm: Storm) -> None:
    storm.fire(6)
    storm.new("team"), storm.new("pager")
    others = storm.fire(3, name="QueueFull", team="other")
    assert sorted(m["incident_id"] for m in storm.new("other")) == others
    assert [m["kind"] for m in storm.new("pager")] == ["firing"] * 3  # each its first page
    for incident in others:
        assert not any(k.startswith("storm_") for k in storm.kinds(incident))


def test_metrics_count_held_incidents_and_active_storms(storm: Storm) -> None:
    storm.fire(8)
    body = storm.api.get("/metrics").text
    assert 'tocsin_storm_incidents_held_total{route="root (receiver default)"} 5.0' in body
    assert 'tocsin_storms_active{route="root (receiver default)"} 1.0' in body
    storm.advance(61)
    body = storm.api.get("/metrics").text
    assert 'tocsin_storms_active{route="root (receiver default)"} 0.0' in body


def test_a_critical_incident_is_not_held_behind_a_storm_of_warnings(storm: Storm) -> None:
    storm.fire(6, severity="warning")  # three paged, a warning leads, two held
    storm.new("team"), storm.new("pager")
    [critical] = storm.fire(name="DatabaseDown")
    [told] = storm.new("team")
    [paged] = storm.new("pager")
    assert told["incident_id"] == paged["incident_id"] == critical
    assert told["title"].startswith("DatabaseDown") and paged["kind"] == "firing"
    assert not any(k.startswith("storm_") for k in storm.kinds(critical))
    [warning] = storm.fire(severity="warning")  # a warning is still held
    assert storm.events(warning, "storm_held")
    storm.nothing_new()


def test_a_lead_whose_alerts_end_hands_the_storm_over_on_its_flush(storm: Storm) -> None:
    lead = storm.fire(4)[-1]  # n4
    held = storm.fire(2)
    now = datetime.fromtimestamp(storm.clock.now(), UTC).isoformat()
    ended = {"alertname": "DiskFull", "instance": "n4", "severity": "critical"}
    answer = storm.api.post("/api/v2/alerts", [{"labels": ended, "endsAt": now}])
    assert answer.status_code == 200
    storm.new("team"), storm.new("pager")
    storm.advance(10 * 60)  # the lead's next flush: all its alerts ended, it resolves
    assert storm.incident(lead)["status"] == "resolved"
    assert "storm_handed_over" in storm.kinds(lead)
    assert "storm_lead" in storm.kinds(held[0])
    pages = [m for m in storm.new("pager") if m["incident_id"] in held]
    assert [(m["kind"], m["incident_id"]) for m in pages] == [("firing", held[0])]  # its first


def test_a_lapsed_acknowledgement_of_the_digest_brings_the_held_incidents_back(
    storm: Storm,
) -> None:
    lead = storm.fire(4)[-1]
    held = storm.fire(2)
    assert storm.api.post(f"/api/v1/incidents/{lead}/ack", {}, role="responder").status_code == 200
    storm.run()
    storm.new("team"), storm.new("pager")
    storm.advance(3600)  # the policy's ack_timeout: the lead is paged again, with the digest
    assert storm.incident(lead)["status"] == "triggered"
    got = [m for m in storm.new("pager") if m["incident_id"] == lead]
    # at 30 s; at 1 h, escalation starts again from its first page
    assert [m["kind"] for m in got] == ["storm_update", "firing"]
    pages = got[1:]
    assert pages[0]["title"].startswith("Storm on route")
    for incident in held:
        assert storm.incident(incident)["status"] == "triggered"
        assert storm.events(incident, "ack_expired")[0]["storm"]
    assert storm.events(lead, "storm_ack_expired")[0]["waiting"] == 2
    assert storm.api.post(f"/api/v1/incidents/{lead}/ack", {}).status_code == 200
    for incident in held:
        assert storm.incident(incident)["status"] == "acknowledged"
