"""Round trips with PagerDuty (issue 21): tocsin forwards an incident to PagerDuty (Events v2,
``dedup_key`` ``tocsin-N``); an acknowledgement or resolve made in PagerDuty comes back as a
signed v3 webhook and acts on the tocsin incident through the service layer. Forged, replayed
and stale webhooks are refused and change nothing. The PagerDuty Events API is a local sink
that records the events tocsin sends."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from textwrap import dedent
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

SECRET = "pd-webhook-signing-secret"
CONFIG = """
global: {{resolve_timeout: 5m, external_url: "https://tocsin.example.com"}}
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
  channels: [pd]
receivers: [{{name: default}}]
channels:
  - name: pd
    type: pagerduty
    url: {url}
    routing_key: {{value: R0UT1NGKEY0000000000000000000000}}
    webhook_secret: {{value: {secret}}}
users:
  - {{name: alice, full_name: Alice Example, pagerduty: PAL1CE0, contact: [pd]}}
"""


class Round:
    def __init__(self, api: Api, clock: VirtualClock, sink: HttpSink) -> None:
        self.api, self.clock, self.sink = api, clock, sink

    def fire(self) -> int:
        now = datetime.fromtimestamp(self.clock.now(), UTC).isoformat()
        labels = {"alertname": "DatabaseDown", "severity": "critical"}
        answer = self.api.post("/api/v2/alerts", [{"labels": labels, "startsAt": now}])
        assert answer.status_code == 200
        self.api.run_once()
        return int(self.api.get("/api/v1/incidents").json()[0]["id"])

    def hook(
        self,
        event_type: str,
        key: str,
        event_id: str = "01EVENT",
        secret: str = SECRET,
        occurred: float | None = None,
        agent: str = "Alice Example",
        agent_id: str = "PAL1CE0",
    ) -> Any:
        at = datetime.fromtimestamp(occurred or self.clock.now(), UTC)
        body = json.dumps(
            {
                "event": {
                    "id": event_id,
                    "event_type": event_type,
                    "resource_type": "incident",
                    "occurred_at": at.isoformat().replace("+00:00", "Z"),
                    "agent": {"id": agent_id, "summary": agent, "type": "user_reference"},
                    "client": None,
                    "data": {
                        "id": "Q0PD1NC1D",
                        "type": "incident",
                        "number": 7,
                        "status": event_type.split(".")[1],
                        "incident_key": key,
                        "title": "DatabaseDown (critical)",
                    },
                }
            }
        ).encode()
        sig = "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return self.api.client.post(
            "/api/v1/pagerduty/webhook",
            content=body,
            headers={"Content-Type": "application/json", "X-PagerDuty-Signature": sig},
        )

    def state(self, incident: int) -> tuple[str, list[str]]:
        got = self.api.get(f"/api/v1/incidents/{incident}").json()
        timeline = self.api.get(f"/api/v1/incidents/{incident}/timeline").json()
        return got["status"], [e["kind"] for e in timeline]

    def sent(self) -> list[str]:
        return [r.json()["event_action"] for r in self.sink.requests]


@pytest.fixture
def round_trip(db: Engine, clock: VirtualClock) -> Iterator[Round]:
    with HttpSink() as sink:
        text = dedent(CONFIG).format(url=sink.url, secret=SECRET)
        state = AppState(db=db, config=parse_config(text), clock=clock)
        with TestClient(create_app(state, run_engine=False)) as client:
            yield Round(Api(client, state, db), clock, sink)


def test_acknowledged_then_resolved_in_pagerduty(round_trip: Round) -> None:
    incident = round_trip.fire()
    assert round_trip.sent() == ["trigger"]
    answer = round_trip.hook("incident.acknowledged", f"tocsin-{incident}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["done"] == "acknowledged by alice"
    got = round_trip.api.get(f"/api/v1/incidents/{incident}").json()
    assert got["status"] == "acknowledged" and got["acknowledged_by"] == "alice"
    timeline = round_trip.api.get(f"/api/v1/incidents/{incident}/timeline").json()
    [ack] = [e for e in timeline if e["kind"] == "acknowledged"]
    assert ack["detail"]["via"] == "pagerduty"
    assert ack["detail"]["pagerduty_incident"] == "Q0PD1NC1D"
    round_trip.api.run_once()
    # tocsin tells its channels, PagerDuty among them (an acknowledge of an acknowledged
    # alert changes nothing there, and its webhook comes back as the same state here)
    assert round_trip.sent() == ["trigger", "acknowledge"]
    again = round_trip.hook("incident.acknowledged", f"tocsin-{incident}", event_id="01AGAIN")
    assert again.status_code == 200 and again.json()["done"] == "acknowledged by alice"
    assert round_trip.state(incident)[1].count("acknowledged") == 1  # idempotent
    done = round_trip.hook(
        "incident.resolved",
        f"tocsin-{incident}",
        event_id="01RES",
        agent="Alice Example",  # a name anyone can give themselves in PagerDuty
        agent_id="PMALL0RY",
    )
    assert done.status_code == 200 and done.json()["done"] == "resolved by pagerduty:Alice Example"
    got = round_trip.api.get(f"/api/v1/incidents/{incident}").json()
    assert got["status"] == "resolved" and got["resolved_by"] == "pagerduty:Alice Example"


def test_forged_replayed_and_stale_change_nothing(round_trip: Round) -> None:
    incident = round_trip.fire()
    before = round_trip.state(incident)
    forged = round_trip.hook("incident.resolved", f"tocsin-{incident}", secret="guess")
    assert forged.status_code == 403
    assert "X-PagerDuty-Signature" in forged.json()["error"]["message"]
    unsigned = round_trip.api.client.post(
        "/api/v1/pagerduty/webhook", content=b'{"event": {}}', headers={}
    )
    assert unsigned.status_code == 403
    stale = round_trip.hook(
        "incident.resolved",
        f"tocsin-{incident}",
        event_id="01OLD",
        occurred=round_trip.clock.now() - 2 * 86400,
    )
    assert stale.status_code == 403 and "too old" in stale.json()["error"]["message"]
    assert round_trip.state(incident) == before
    first = round_trip.hook("incident.acknowledged", f"tocsin-{incident}", event_id="01ONCE")
    assert first.status_code == 200
    after = round_trip.state(incident)
    replay = round_trip.hook("incident.acknowledged", f"tocsin-{incident}", event_id="01ONCE")
    assert replay.status_code == 409 and "replay" in replay.json()["error"]["message"]
    assert round_trip.state(incident) == after


def test_events_tocsin_does_not_act_on_are_answered(round_trip: Round) -> None:
    incident = round_trip.fire()
    before = round_trip.state(incident)
    other = round_trip.hook("incident.annotated", f"tocsin-{incident}", event_id="01N")
    assert other.status_code == 200 and other.json()["done"].startswith("ignored")
    foreign = round_trip.hook("incident.resolved", "5f3c0a8b9d", event_id="01F")
    assert foreign.status_code == 200 and "names no tocsin incident" in foreign.json()["done"]
    missing = round_trip.hook("incident.resolved", "tocsin-999", event_id="01M")
    assert missing.status_code == 200 and "no incident 999" in missing.json()["done"]
    assert round_trip.state(incident) == before


def test_no_subscription_configured_is_404(api: Api) -> None:
    answer = api.client.post(
        "/api/v1/pagerduty/webhook", content=b"{}", headers={"X-PagerDuty-Signature": "v1=0"}
    )
    assert answer.status_code == 404 and "webhook_secret" in answer.json()["error"]["message"]


def test_malformed_signed_body_is_400(round_trip: Round) -> None:
    body = b"not json"
    sig = "v1=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    answer = round_trip.api.client.post(
        "/api/v1/pagerduty/webhook", content=body, headers={"X-PagerDuty-Signature": sig}
    )
    assert answer.status_code in (400, 422) and "not JSON" in answer.json()["error"]["message"]


def test_an_empty_webhook_secret_verifies_nothing(
    db: Engine, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A webhook_secret whose variable is set but empty would be a key anyone signs with:
    the endpoint is unavailable (503) and nothing changes, never a request let in."""
    monkeypatch.setenv("TOCSIN_TEST_PD_SECRET", "")
    with HttpSink() as sink:
        text = dedent(CONFIG).format(url=sink.url, secret=SECRET)
        text = text.replace(f"{{value: {SECRET}}}", "{env: TOCSIN_TEST_PD_SECRET}")
        state = AppState(db=db, config=parse_config(text), clock=clock)
        with TestClient(create_app(state, run_engine=False)) as client:
            trip = Round(Api(client, state, db), clock, sink)
            incident = trip.fire()
            before = trip.state(incident)
            forged = trip.hook("incident.resolved", f"tocsin-{incident}", secret="")
            assert forged.status_code == 503, forged.text
            assert "webhook_secret is empty" in forged.json()["error"]["message"]
            assert trip.state(incident) == before


def test_a_body_too_large_is_refused_before_it_is_read_whole(round_trip: Round) -> None:
    incident = round_trip.fire()
    before = round_trip.state(incident)
    body = b'{"event": {"id": "' + b"x" * (300 * 1024) + b'"}}'
    sig = "v1=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    answer = round_trip.api.client.post(
        "/api/v1/pagerduty/webhook", content=body, headers={"X-PagerDuty-Signature": sig}
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["message"] == "the body is larger than 262144 bytes"
    assert round_trip.state(incident) == before


def test_a_resolve_from_pagerduty_says_where_it_came_from(round_trip: Round) -> None:
    incident = round_trip.fire()
    done = round_trip.hook("incident.resolved", f"tocsin-{incident}", event_id="01RES")
    assert done.status_code == 200 and done.json()["done"] == "resolved by alice"
    timeline = round_trip.api.get(f"/api/v1/incidents/{incident}/timeline").json()
    [resolved] = [e for e in timeline if e["kind"] == "resolved"]
    assert resolved["detail"]["via"] == "pagerduty"
    assert resolved["detail"]["pagerduty_incident"] == "Q0PD1NC1D"
