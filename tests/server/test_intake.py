"""The other intakes: Alertmanager webhook v4, PagerDuty Events v2, generic JSON."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from tests.server.conftest import Api
from tocsin.clock import VirtualClock
from tocsin.store.schema import event_keys

WEBHOOK = {
    "version": "4",
    "groupKey": '{}:{alertname="Up"}',
    "status": "firing",
    "receiver": "x",
    "groupLabels": {"alertname": "Up"},
    "commonLabels": {},
    "commonAnnotations": {},
    "externalURL": "http://am",
    "truncatedAlerts": 0,
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "Up", "instance": "a"},
            "annotations": {"summary": "down"},
            "startsAt": "2027-01-15T07:55:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prom",
            "fingerprint": "x",
        },
        {
            "status": "resolved",
            "labels": {"alertname": "Up", "instance": "b"},
            "annotations": {},
            "startsAt": "2027-01-15T07:00:00Z",
            "endsAt": "2027-01-15T07:50:00Z",
            "generatorURL": "",
            "fingerprint": "y",
        },
    ],
}


def test_alertmanager_webhook(api: Api) -> None:
    answer = api.post("/api/v1/intake/alertmanager", WEBHOOK)
    assert answer.status_code == 200 and answer.json() == {"stored": 2, "errors": []}
    [firing] = api.get("/api/v2/alerts").json()
    assert firing["labels"] == {"alertname": "Up", "instance": "a"}
    assert firing["startsAt"] == "2027-01-15T07:55:00.000Z"
    assert api.post("/api/v1/intake/alertmanager", {**WEBHOOK, "version": "3"}).status_code == 422
    assert api.post("/api/v1/intake/alertmanager", [1]).status_code == 422


def _event(action: str, key: str | None = None, **payload: str) -> dict[str, object]:
    body: dict[str, object] = {"routing_key": "R" * 32, "event_action": action}
    if key:
        body["dedup_key"] = key
    if payload:
        body["payload"] = payload
    return body


def test_pagerduty_events(api: Api, clock: VirtualClock) -> None:
    trigger = api.post(
        "/v2/enqueue",
        _event("trigger", "disk-1", summary="Disk full", source="db1", severity="critical"),
    )
    assert trigger.status_code == 202
    assert trigger.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "disk-1",
    }
    [alert] = api.get("/api/v2/alerts").json()
    assert alert["labels"] == {
        "alertname": "PagerDutyEvent",
        "severity": "critical",
        "source": "db1",
        "dedup_key": "disk-1",
    }
    assert alert["annotations"]["summary"] == "Disk full"
    generated = api.post(
        "/v2/enqueue", _event("trigger", summary="x", source="s", severity="info")
    ).json()["dedup_key"]
    assert len(generated) == 32
    clock.advance(10)
    assert api.post("/v2/enqueue", _event("acknowledge", "disk-1")).status_code == 202
    assert api.post("/v2/enqueue", _event("resolve", "disk-1")).status_code == 202
    assert [a["labels"].get("dedup_key") for a in api.get("/api/v2/alerts").json()] == [generated]
    invalid = api.post("/v2/enqueue", {"event_action": "trigger", "payload": {}})
    assert invalid.status_code == 400
    body = invalid.json()
    assert body["status"] == "invalid event" and body["message"] == "Event object is invalid"
    assert "'routing_key' is missing or blank" in body["errors"]
    assert "'payload.summary' is missing or blank" in body["errors"]
    assert api.post("/v2/enqueue", _event("resolve")).status_code == 400


def test_pagerduty_rate_limit(api: Api) -> None:
    codes = [
        api.post(
            "/v2/enqueue",
            {
                **_event("trigger", f"k{i}", summary="x", source="s", severity="info"),
                "routing_key": "Z" * 32,
            },
        ).status_code
        for i in range(125)
    ]
    assert codes.count(202) == 120 and codes[-1] == 429


def test_generic_json(api: Api) -> None:
    answer = api.post(
        "/api/v1/alerts",
        {
            "alerts": [
                {
                    "name": "DatabaseDown",
                    "severity": "critical",
                    "summary": "primary gone",
                    "labels": {"service": "db"},
                },
                {"name": "Bad", "labels": {"0x": "y"}},
            ]
        },
    )
    assert answer.status_code == 400
    assert answer.json()["stored"] == 1 and "invalid name" in answer.json()["errors"][0]
    single = api.post("/api/v1/alerts", {"name": "Single", "status": "resolved"})
    assert single.status_code == 200
    [alert] = api.get("/api/v2/alerts").json()
    assert alert["labels"] == {"alertname": "DatabaseDown", "severity": "critical", "service": "db"}
    assert alert["receivers"] == [{"name": "pager"}]
    assert api.post("/api/v1/alerts", {"alerts": "nope"}).status_code == 422


def test_pagerduty_events_by_key_rows_and_timeline(api: Api, clock: VirtualClock) -> None:
    """The key remembers the first trigger's labels (later triggers with the key keep them);
    acknowledge puts ``acknowledged`` on the timeline of the key's open incident; an unknown
    key changes nothing."""
    first = _event("trigger", "disk-2", summary="Disk full", source="db1", severity="critical")
    assert api.post("/v2/enqueue", first).status_code == 202
    with api.state.db.connect() as conn:
        [row] = conn.execute(select(event_keys)).all()
    assert row.dedup_key == "disk-2" and row.created_at == clock.now()
    assert json.loads(row.labels) == {
        "alertname": "PagerDutyEvent",
        "severity": "critical",
        "source": "db1",
        "dedup_key": "disk-2",
    }
    again = _event("trigger", "disk-2", summary="Disk full", source="db9", severity="info")
    assert api.post("/v2/enqueue", again).status_code == 202
    [alert] = api.get("/api/v2/alerts").json()
    assert alert["labels"] == json.loads(row.labels)
    assert api.run_engine() >= 1  # critical: no group wait; the incident opens
    [incident] = api.get("/api/v1/incidents").json()
    clock.advance(10)
    for key in ("disk-2", "no-such-key"):
        assert api.post("/v2/enqueue", _event("acknowledge", key)).status_code == 202
    timeline = api.get(f"/api/v1/incidents/{incident['id']}/timeline").json()
    acked = [e for e in timeline if e["kind"] == "acknowledged"]
    assert [(e["at"], e["detail"]) for e in acked] == [
        ("2027-01-15T08:00:10+00:00", {"by": "pagerduty-event", "dedup_key": "disk-2"})
    ], timeline
    assert incident["status"] == "triggered"  # the event acknowledged it (issue 17, item 24)
    assert api.get(f"/api/v1/incidents/{incident['id']}").json()["status"] == "acknowledged"
    with api.state.db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(event_keys)).scalar() == 1
