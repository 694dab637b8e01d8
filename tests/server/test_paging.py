"""Paging through the real server on a virtual clock: trigger, escalation by time, deadlines,
acknowledgement (and its timeout), resolve, retries, dead letters and the fallback channel,
overrides, on-call and iCal. Webhooks go to a real HTTP sink on 127.0.0.1; every message that
arrives is accounted for."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.notify.sinks import HttpSink
from tests.server.conftest import START, Api
from tocsin.api.app import create_app
from tocsin.api.state import AppState
from tocsin.clock import VirtualClock
from tocsin.config import parse_config

# START is 2027-01-15T08:00:00Z, a Friday: alice's day (daily rotation from 2027-01-15 00:00)
PAGING = """
global: {{resolve_timeout: 5m, external_url: "https://tocsin.example.com"}}
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
  escalation_policy: default
  channels: [team]
receivers: [{{name: default}}]
channels:
  - name: team
    type: webhook
    url: {team}
    retry: {{max_attempts: 3, initial_backoff: 10s, max_backoff: 1m}}
    fallback: backup
  - name: pager
    type: webhook
    url: {pager}
    retry: {{max_attempts: 3, initial_backoff: 10s, max_backoff: 1m}}
    fallback: backup
  - name: backup
    type: webhook
    url: {backup}
users:
  - {{name: alice, email: alice@example.com, contact: [pager]}}
  - {{name: bob, email: bob@example.com, contact: [pager]}}
  - {{name: carol, email: carol@example.com, contact: [pager]}}
rotations:
  - name: daily
    type: daily
    start: "2027-01-15T00:00"
    timezone: UTC
    participants: [alice, bob]
schedules:
  - {{name: primary, layers: [{{rotation: daily}}]}}
severities:
  levels:
    - {{name: critical, ack_deadline: 3m}}
    - {{name: warning, ack_deadline: 30m}}
escalation_policies:
  - name: default
    ack_timeout: {ack_timeout}
    steps:
      - {{targets: ["schedule:primary"], delay: 5m}}
      - {{targets: ["user:carol"], delay: 10m}}
"""


class Paging:
    def __init__(self, api: Api, clock: VirtualClock, sinks: dict[str, HttpSink]) -> None:
        self.api = api
        self.clock = clock
        self.sinks = sinks
        self.seen = {name: 0 for name in sinks}

    def run(self) -> None:
        """One engine pass: due work, then deliveries."""
        self.api.run_once()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.run()

    def new(self, sink: str) -> list[dict[str, Any]]:
        """What ``sink`` received since the last look."""
        got = self.sinks[sink].requests[self.seen[sink] :]
        self.seen[sink] += len(got)
        return [r.json() for r in got]

    def nothing_new(self) -> None:
        for name in self.sinks:
            assert self.new(name) == [], f"unexpected message on {name}"

    def fire(self, severity: str = "critical", name: str = "DatabaseDown") -> int:
        labels = {"alertname": name, "severity": severity, "service": "pebble-db"}
        # firing for two hours, as Prometheus says when it resends (endsAt ahead of now)
        answer = self.api.post(
            "/api/v2/alerts",
            [{"labels": labels, "startsAt": self.now(), "endsAt": "2027-01-15T10:00:00Z"}],
        )
        assert answer.status_code == 200
        self.run()
        incidents = self.api.get("/api/v1/incidents").json()
        return int(incidents[0]["id"])

    def now(self) -> str:
        from datetime import UTC, datetime

        return datetime.fromtimestamp(self.clock.now(), UTC).isoformat()

    def kinds(self, incident: int) -> list[str]:
        return [e["kind"] for e in self.api.get(f"/api/v1/incidents/{incident}/timeline").json()]


@pytest.fixture
def sinks() -> Iterator[dict[str, HttpSink]]:
    with HttpSink() as team, HttpSink() as pager, HttpSink() as backup:
        yield {"team": team, "pager": pager, "backup": backup}


def make(
    db: Engine,
    clock: VirtualClock,
    sinks: dict[str, HttpSink],
    ack_timeout: str = "1h",
    deadline: str = "3m",
    resolve_timeout: str = "5m",
) -> Iterator[Paging]:
    text = dedent(PAGING).replace("ack_deadline: 3m", f"ack_deadline: {deadline}")
    text = text.replace("resolve_timeout: 5m", f"resolve_timeout: {resolve_timeout}")
    text = text.format(
        team=sinks["team"].url,
        pager=sinks["pager"].url,
        backup=sinks["backup"].url,
        ack_timeout=ack_timeout,
    )
    state = AppState(db=db, config=parse_config(text), clock=clock)
    with TestClient(create_app(state, run_engine=False)) as client:
        yield Paging(Api(client, state, db), clock, sinks)


@pytest.fixture
def paging(db: Engine, clock: VirtualClock, sinks: dict[str, HttpSink]) -> Iterator[Paging]:
    yield from make(db, clock, sinks)


def test_trigger_pages_who_is_on_call_then_escalates_until_acknowledged(paging: Paging) -> None:
    incident = paging.fire()
    [team] = paging.new("team")
    assert team["kind"] == "firing" and team["severity"] == "critical"
    assert team["title"] == "DatabaseDown" and team["incident_id"] == incident
    [page] = paging.new("pager")
    assert page["kind"] == "firing" and page["escalation_step"] == 1  # the first page
    assert page["recipient"]["name"] == "alice"  # Friday: alice's day
    paging.nothing_new()
    paging.advance(179)  # deadline (3m) not yet, step delay (5m) not yet
    paging.nothing_new()
    paging.advance(1)  # the critical deadline: recorded, and escalation moves on at once
    [page] = paging.new("pager")
    assert page["recipient"]["name"] == "carol" and page["escalation_step"] == 2
    assert page["kind"] == "escalation"  # a later step: escalated
    kinds = paging.kinds(incident)
    assert kinds.index("deadline_missed") < kinds.index("escalated", kinds.index("deadline_missed"))
    acked = paging.api.post(f"/api/v1/incidents/{incident}/ack", {}, role="responder")
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    assert acked.json()["acknowledged_by"] == "responder"
    assert acked.json()["severity"] == "critical" and acked.json()["triggered_at"]
    paging.run()
    [ack] = paging.new("team")
    assert ack["kind"] == "acknowledged"
    # everyone paged hears of it on the channel that paged them (issue 17, item 4)
    told = paging.new("pager")
    assert sorted(m["recipient"]["name"] for m in told) == ["alice", "carol"]
    assert {m["kind"] for m in told} == {"acknowledged"}
    assert {m["actor"] for m in told} == {"responder"}
    paging.advance(30 * 60)  # the rest of the policy would have fired by now
    paging.nothing_new()
    assert "acknowledged" in paging.kinds(incident)


def test_each_step_fires_after_its_delay_without_a_deadline(paging: Paging) -> None:
    incident = paging.fire(severity="warning")  # warning: 30 min deadline, after both steps
    paging.new("team")
    assert [p["recipient"]["name"] for p in paging.new("pager")] == ["alice"]
    paging.advance(299)
    paging.nothing_new()
    paging.advance(1)
    assert [p["recipient"]["name"] for p in paging.new("pager")] == ["carol"]
    paging.advance(600)  # after the last step: exhausted
    paging.nothing_new()
    assert paging.kinds(incident).count("escalated") == 2
    assert "escalation_exhausted" in paging.kinds(incident)


def test_resolve_stops_escalation_and_tells_the_channels(paging: Paging) -> None:
    incident = paging.fire()
    paging.new("team"), paging.new("pager")
    done = paging.api.post(f"/api/v1/incidents/{incident}/resolve", {}, role="responder")
    assert done.json()["status"] == "resolved"
    paging.run()
    [resolved] = paging.new("team")
    assert resolved["kind"] == "resolved"
    [told] = paging.new("pager")  # alice was paged: she hears of it (issue 17, item 4)
    assert (told["kind"], told["recipient"]["name"]) == ("resolved", "alice")
    paging.advance(3600)
    paging.nothing_new()
    again = paging.api.post(f"/api/v1/incidents/{incident}/ack", {}, role="responder")
    assert again.status_code == 409


def test_escalate_now_fires_the_next_step(paging: Paging) -> None:
    incident = paging.fire(severity="warning")
    paging.new("team"), paging.new("pager")
    done = paging.api.post(f"/api/v1/incidents/{incident}/escalate", {}, role="responder")
    assert done.status_code == 200
    paging.run()
    [page] = paging.new("pager")
    assert page["recipient"]["name"] == "carol"
    timeline = paging.api.get(f"/api/v1/incidents/{incident}/timeline").json()
    manual = [e for e in timeline if e["kind"] == "escalated"][-1]
    assert manual["detail"]["by"] == "responder"
    viewer = paging.api.post(f"/api/v1/incidents/{incident}/escalate", {}, role="viewer")
    assert viewer.status_code == 403


def test_an_acknowledgement_that_times_out_triggers_again(
    db: Engine, clock: VirtualClock, sinks: dict[str, HttpSink]
) -> None:
    for paging in make(db, clock, sinks, ack_timeout="10m"):
        incident = paging.fire(severity="warning")
        paging.new("team"), paging.new("pager")
        paging.api.post(f"/api/v1/incidents/{incident}/ack", {}, role="responder")
        paging.run()
        paging.new("team")
        assert [m["kind"] for m in paging.new("pager")] == ["acknowledged"]  # alice, paged
        paging.advance(599)
        paging.nothing_new()
        paging.advance(1)
        [page] = paging.new("pager")
        assert page["recipient"]["name"] == "alice" and page["escalation_step"] == 1
        incident_now = paging.api.get(f"/api/v1/incidents/{incident}").json()
        assert incident_now["status"] == "triggered"
        assert "ack_expired" in paging.kinds(incident)


def test_retries_then_dead_letter_then_fallback(paging: Paging) -> None:
    paging.sinks["team"].reply(503, b"busy", times=10)
    incident = paging.fire(severity="warning")
    assert len(paging.new("team")) == 1  # first attempt, answered 503
    paging.new("pager")
    paging.advance(4)
    assert paging.new("team") == []  # backoff: 10 s with jitter (5..10 s)
    paging.advance(6)
    assert len(paging.new("team")) == 1  # second attempt
    paging.advance(20)
    assert len(paging.new("team")) == 1  # third and last attempt
    paging.run()  # the dead letter's fallback goes out in the same pass or the next
    [fallback] = paging.new("backup")
    assert fallback["kind"] == "firing" and fallback["idempotency_key"].endswith(":fallback")
    notes = paging.api.get(f"/api/v1/incidents/{incident}/notifications").json()
    team = next(n for n in notes if n["channel"] == "team")
    assert team["status"] == "dead" and [a["status"] for a in team["attempts"]] == [503] * 3
    backup = next(n for n in notes if n["channel"] == "backup")
    assert backup["status"] == "sent" and backup["fallback_of"] == team["id"]
    failed = [
        e
        for e in paging.api.get(f"/api/v1/incidents/{incident}/timeline").json()
        if e["kind"] == "notify_failed"
    ]
    assert failed[0]["detail"]["dead_letter"] and failed[0]["detail"]["attempts"] == 3


def test_a_4xx_is_not_retried_and_429_waits_as_told(paging: Paging) -> None:
    paging.sinks["pager"].reply(429, b"slow down", {"Retry-After": "120"})
    paging.sinks["team"].reply(404, b"no such hook")
    incident = paging.fire(severity="warning")
    assert len(paging.new("team")) == 1 and len(paging.new("pager")) == 1
    paging.run()
    assert len(paging.new("backup")) == 1  # the 404 went straight to the fallback
    paging.advance(119)
    assert paging.new("pager") == []
    paging.advance(1)
    [page] = paging.new("pager")
    assert page["recipient"]["name"] == "alice"
    notes = paging.api.get(f"/api/v1/incidents/{incident}/notifications").json()
    team = next(n for n in notes if n["channel"] == "team")
    assert [a["status"] for a in team["attempts"]] == [404]


def test_an_override_pages_the_stand_in(paging: Paging) -> None:
    made = paging.api.post(
        "/api/v1/overrides",
        {
            "schedule": "primary",
            "user": "bob",
            "replaces": "alice",
            "start": "2027-01-15T07:00:00Z",
            "end": "2027-01-15T12:00:00Z",
        },
        role="responder",
    )
    assert made.status_code == 201
    now = paging.api.get("/api/v1/oncall?schedule=primary").json()
    assert [u["name"] for u in now[0]["users"]] == ["bob"]
    assert now[0]["until"] == "2027-01-15T12:00:00+00:00"
    paging.fire()
    [page] = paging.new("pager")
    assert page["recipient"]["name"] == "bob"
    listed = paging.api.get("/api/v1/overrides").json()
    assert listed[0]["user"] == "bob"
    assert paging.api.delete(f"/api/v1/overrides/{listed[0]['id']}").status_code == 204
    bad = paging.api.post(
        "/api/v1/overrides",
        {
            "schedule": "nope",
            "user": "bob",
            "start": "2027-01-15T07:00:00Z",
            "end": "2027-01-15T08:00:00Z",
        },
        role="responder",
    )
    assert bad.status_code == 400 and "nope" in bad.json()["error"]["message"]


def test_oncall_and_ical_feeds(paging: Paging) -> None:
    later = paging.api.get("/api/v1/oncall?at=2027-01-16T10:00:00Z").json()
    assert [u["name"] for u in later[0]["users"]] == ["bob"]
    feed = paging.api.client.get(
        f"/api/v1/schedules/primary/ical?token={paging.api.tokens['viewer']}&days=3"
    )
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    assert b"SUMMARY:On call: alice" in feed.content and b"SUMMARY:On call: bob" in feed.content
    mine = paging.api.get("/api/v1/users/bob/ical?days=3")
    assert b"On call: bob" in mine.content and b"On call: alice" not in mine.content
    assert paging.api.client.get("/api/v1/schedules/primary/ical").status_code == 401
    assert paging.api.get("/api/v1/schedules/nope/ical").status_code == 404


def test_editing_the_config_does_not_change_a_running_escalation(paging: Paging) -> None:
    incident = paging.fire(severity="warning")
    paging.new("team"), paging.new("pager")
    text = paging.api.state.config.text.replace('"user:carol"', '"user:bob"')
    engine = paging.api.state.engine
    assert engine is not None
    engine.config = parse_config(text)
    paging.advance(300)
    [page] = paging.new("pager")
    assert page["recipient"]["name"] == "carol"  # the snapshot, not the edited policy
    assert incident > 0


def test_start_is_a_friday() -> None:
    from datetime import UTC, datetime

    assert datetime.fromtimestamp(START, UTC).strftime("%A %H:%M") == "Friday 08:00"


def test_a_page_links_the_runbook_section_and_its_first_checks(tmp_path: Path) -> None:
    from tocsin.config import load_config
    from tocsin.engine.paging import Pager
    from tocsin.service.context import load_runbooks

    example = Path(__file__).resolve().parents[2] / "examples" / "tocsin.yaml"
    config = load_config(example)
    pager = Pager(config, load_runbooks(config))
    from tocsin.alerts.model import Alert

    found = pager._runbook([Alert(labels={"alertname": "PebbleDatabaseDown"})])
    assert found["runbook_url"] == (
        "https://git.example.com/pebble/ops/blob/main/examples/"
        "runbooks/database/PebbleDatabaseDown.md#pebbledatabasedown"
    )
    assert [d["risk"] for d in found["diagnostics"]] == ["read", "read", "read"]
    assert found["diagnostics"][0]["code"].startswith("kubectl -n pebble get pod")
    own = pager._runbook(
        [Alert(labels={"alertname": "X"}, annotations={"runbook_url": "https://wiki/x"})]
    )
    # the alert's own link is its own, never the catalog's (issue 17, item 27)
    assert own == {"alert_link": {"url": "https://wiki/x", "host": "wiki"}}


def test_a_deadline_missed_as_a_step_falls_due_escalates_once(
    db: Engine, clock: VirtualClock, sinks: dict[str, HttpSink]
) -> None:
    for paging in make(db, clock, sinks, deadline="5m"):  # the deadline is the step's delay
        incident = paging.fire()
        paging.new("team"), paging.new("pager")
        paging.advance(300)
        assert [p["recipient"]["name"] for p in paging.new("pager")] == ["carol"]
        kinds = paging.kinds(incident)
        assert kinds.count("deadline_missed") == 1 and kinds.count("escalated") == 2


def test_resolving_by_hand_before_the_alert_clears_opens_no_empty_incident(
    paging: Paging,
) -> None:
    incident = paging.fire(severity="warning")
    paging.api.post(f"/api/v1/incidents/{incident}/resolve", {}, role="responder")
    labels = {"alertname": "DatabaseDown", "severity": "warning", "service": "pebble-db"}
    paging.clock.advance(60)
    answer = paging.api.post(
        "/api/v2/alerts", [{"labels": labels, "startsAt": paging.now(), "endsAt": paging.now()}]
    )
    assert answer.status_code == 200
    paging.run()
    assert [i["id"] for i in paging.api.get("/api/v1/incidents").json()] == [incident]


def test_a_channel_rate_limit_delays_without_dropping(
    db: Engine, clock: VirtualClock, sinks: dict[str, HttpSink]
) -> None:
    for paging in make(db, clock, sinks):
        text = paging.api.state.config.text.replace(
            "  - name: team\n    type: webhook\n",
            "  - name: team\n    type: webhook\n    rate_per_minute: 1\n",
        )
        engine = paging.api.state.engine
        assert engine is not None
        engine.config = parse_config(text)
        paging.fire(severity="warning", name="First")
        paging.fire(severity="warning", name="Second")
        assert [m["title"] for m in paging.new("team")] == ["First"]
        paging.advance(59)
        assert paging.new("team") == []
        paging.advance(1)
        assert [m["title"] for m in paging.new("team")] == ["Second"]
        notes = paging.api.get("/api/v1/incidents/2/notifications").json()
        team = next(n for n in notes if n["channel"] == "team")
        assert len(team["attempts"]) == 1  # waiting for the limit is not a failed attempt


def test_a_running_engine_pages_from_the_intake_transaction(
    db: Engine, clock: VirtualClock, sinks: dict[str, HttpSink]
) -> None:
    import time

    text = dedent(PAGING).format(
        team=sinks["team"].url,
        pager=sinks["pager"].url,
        backup=sinks["backup"].url,
        ack_timeout="1h",
    )
    state = AppState(db=db, config=parse_config(text), clock=clock)
    with TestClient(create_app(state, run_engine=True)) as client:
        api = Api(client, state, db)
        labels = {"alertname": "DatabaseDown", "severity": "critical"}
        assert api.post("/api/v2/alerts", [{"labels": labels}]).status_code == 200
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (
            sinks["pager"].requests and sinks["team"].requests
        ):
            time.sleep(0.01)
        [page] = [r.json() for r in sinks["pager"].requests]
        assert page["recipient"]["name"] == "alice" and page["kind"] == "firing"
        [incident] = api.get("/api/v1/incidents").json()
        path = f"/api/v1/incidents/{incident['id']}/notifications"
        while time.monotonic() < deadline:  # the attempts are recorded after the send
            notes = api.get(path).json()
            if all(n["status"] == "sent" for n in notes):
                break
            time.sleep(0.01)
        assert len(notes) == 2 and all(len(n["attempts"]) == 1 for n in notes)  # sent once


def test_a_more_severe_alert_raises_the_incident_and_brings_its_deadline_forward(
    paging: Paging,
) -> None:
    incident = paging.fire(severity="warning")  # 30 min deadline; step 2 at 5 min
    paging.new("team"), paging.new("pager")
    labels = {"alertname": "DatabaseDown", "severity": "critical", "service": "replica"}
    paging.api.post(
        "/api/v2/alerts",
        [{"labels": labels, "startsAt": paging.now(), "endsAt": "2027-01-15T10:00:00Z"}],
    )
    paging.advance(60)  # the group's next flush (group_interval 1m) carries it
    assert paging.api.get(f"/api/v1/incidents/{incident}").json()["severity"] == "critical"
    [team] = paging.new("team")
    assert team["severity"] == "critical"
    paging.advance(179)  # critical: 3 minutes from the raise (+4m), before step 2's +5m
    assert paging.new("pager") == []
    paging.advance(1)
    assert [p["recipient"]["name"] for p in paging.new("pager")] == ["carol"]
    kinds = paging.kinds(incident)
    assert kinds.count("severity_raised") == 1 and kinds.count("deadline_missed") == 1


def test_a_pagerduty_acknowledge_event_acknowledges(
    db: Engine, clock: VirtualClock, sinks: dict[str, HttpSink]
) -> None:
    """An acknowledge event acknowledges each open incident of its key's alert as the API's
    acknowledgement does: the status, escalation (stopped), the channels and the figures agree;
    the timeline has one ``acknowledged`` row, by ``pagerduty-event``. A second event, and
    one for a resolved incident, change nothing and answer 202."""
    # the event's alert fires for an hour (PagerDuty's have no end): escalation could run out
    for paging in make(db, clock, sinks, resolve_timeout="1h"):
        event: dict[str, Any] = {"routing_key": "R" * 32, "dedup_key": "disk-3"}
        payload = {"summary": "Disk full", "source": "db1", "severity": "critical"}
        trigger = {**event, "event_action": "trigger", "payload": payload}
        assert paging.api.post("/v2/enqueue", trigger).status_code == 202
        paging.run()
        [incident] = [i["id"] for i in paging.api.get("/api/v1/incidents").json()]
        assert [t["kind"] for t in paging.new("team")] == ["firing"]
        assert [p["recipient"]["name"] for p in paging.new("pager")] == ["alice"]
        paging.clock.advance(10)
        acknowledge = {**event, "event_action": "acknowledge"}
        answer = paging.api.post("/v2/enqueue", acknowledge)
        assert answer.status_code == 202 and answer.json()["dedup_key"] == "disk-3"
        record = paging.api.get(f"/api/v1/incidents/{incident}").json()
        assert record["status"] == "acknowledged"
        assert record["acknowledged_by"] == "pagerduty-event"
        assert datetime.fromisoformat(record["acknowledged_at"]).timestamp() == START + 10
        paging.run()
        [ack] = paging.new("team")  # what an acknowledgement through the API sends
        assert (ack["kind"], ack["status"], ack["incident_id"]) == (
            "acknowledged",
            "acknowledged",
            incident,
        )
        assert ack["idempotency_key"] == f"inc{incident}:ack:{START + 10:.6f}:team"
        [told] = paging.new("pager")  # alice, who was paged, hears of it too
        assert (told["kind"], told["recipient"]["name"]) == ("acknowledged", "alice")
        paging.advance(3 * 60)  # the critical deadline: no escalation now
        paging.advance(30 * 60)  # the rest of the policy would have run out by now
        paging.nothing_new()
        kinds = paging.kinds(incident)
        assert "deadline_missed" not in kinds and "escalation_exhausted" not in kinds, kinds
        assert kinds.count("escalated") == 1, kinds  # the policy's start only
        figures = paging.api.get(f"/api/v1/incidents/{incident}").json()["figures"]
        assert (figures["time_to_acknowledge_s"], figures["escalations"]) == (10.0, 0)
        assert figures["deadline_misses"] == 0
        assert paging.api.post("/v2/enqueue", acknowledge).status_code == 202  # again
        timeline = paging.api.get(f"/api/v1/incidents/{incident}/timeline").json()
        acked = [e["detail"] for e in timeline if e["kind"] == "acknowledged"]
        assert acked == [{"by": "pagerduty-event", "dedup_key": "disk-3"}], timeline
        resolved = paging.api.post(f"/api/v1/incidents/{incident}/resolve", {}, role="responder")
        assert resolved.json()["status"] == "resolved"
        assert paging.api.post("/v2/enqueue", acknowledge).status_code == 202
        assert paging.api.get(f"/api/v1/incidents/{incident}").json()["status"] == "resolved"
