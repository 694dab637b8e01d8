"""Times out of range (issue 17, item 25): a well-formed time that lands before year 1 or after
year 9999 once in UTC (``9999-12-31T20:00:00-14:00``) is a 4xx, never an ``OverflowError``
and a 500. On the intakes it rejects its own alert only, as every per-alert problem does: the
valid alerts of the batch are stored and the batch answers 400. An on-call question is bounded
to a century from now. Both databases, through the existing fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.notify.sinks import HttpSink
from tests.server import test_paging
from tests.server.conftest import Api
from tocsin.clock import VirtualClock

PAST_9999 = "9999-12-31T20:00:00-14:00"  # 10000-01-01T10:00:00Z
BEFORE_1 = "0001-01-01T09:00:00+14:00"  # 0000-12-31T19:00:00Z
VALID = {"alertname": "Valid", "instance": "a"}
BAD = {"alertname": "Bad", "instance": "b"}


def stored_names(api: Api) -> list[str]:
    return sorted(a["labels"]["alertname"] for a in api.get("/api/v2/alerts").json())


@pytest.mark.parametrize("when", [PAST_9999, BEFORE_1])
@pytest.mark.parametrize("field", ["startsAt", "endsAt"])
def test_v2_alerts_reject_the_alert_alone(api: Api, when: str, field: str) -> None:
    batch = [
        {"labels": VALID, "startsAt": "2027-01-15T07:55:00Z"},
        {"labels": BAD, "startsAt": "2027-01-15T07:55:00Z", field: when},
    ]
    answer = api.post("/api/v2/alerts", batch)
    assert answer.status_code == 400
    assert f"1.{field}" in answer.json() and "years 1 to 9999" in answer.json()
    assert stored_names(api) == ["Valid"]


@pytest.mark.parametrize("field", ["startsAt", "endsAt"])
def test_the_webhook_rejects_the_alert_alone(api: Api, field: str) -> None:
    alerts: list[dict[str, Any]] = [
        {"status": "firing", "labels": VALID, "startsAt": "2027-01-15T07:55:00Z"},
        {"status": "resolved", "labels": BAD, "startsAt": "2027-01-15T07:00:00Z"},
    ]
    alerts[1][field] = PAST_9999
    body = {"version": "4", "status": "firing", "alerts": alerts}
    answer = api.post("/api/v1/intake/alertmanager", body)
    assert answer.status_code == 400
    assert answer.json()["stored"] == 1
    [error] = answer.json()["errors"]
    assert error.startswith("alert 1:") and f"alerts.1.{field}" in error
    assert stored_names(api) == ["Valid"]


@pytest.mark.parametrize("field", ["starts_at", "ends_at"])
def test_the_generic_intake_rejects_the_alert_alone(api: Api, field: str) -> None:
    alerts = [{"name": "Valid", "labels": {"instance": "a"}}, {"name": "Bad", field: PAST_9999}]
    answer = api.post("/api/v1/alerts", {"alerts": alerts})
    assert answer.status_code == 400
    assert answer.json()["stored"] == 1
    [error] = answer.json()["errors"]
    assert f"alerts[1].{field}" in error and "years 1 to 9999" in error
    assert stored_names(api) == ["Valid"]


def test_a_pagerduty_event_with_a_time_out_of_range_is_invalid(api: Api) -> None:
    payload = {"summary": "x", "source": "s", "severity": "info", "timestamp": PAST_9999}
    body = {"routing_key": "R" * 32, "event_action": "trigger", "payload": payload}
    answer = api.post("/v2/enqueue", body)
    assert answer.status_code == 400
    assert answer.json()["errors"] == ["'payload.timestamp' is outside years 1 to 9999 in UTC"]
    assert api.get("/api/v2/alerts").json() == []


@pytest.mark.parametrize("field", ["startsAt", "endsAt"])
def test_a_silence_with_a_time_out_of_range_is_a_400(api: Api, field: str) -> None:
    body = {
        "matchers": [{"name": "alertname", "value": "A", "isRegex": False}],
        "startsAt": "2027-01-15T08:00:00Z",
        "endsAt": "2027-01-15T09:00:00Z",
        "createdBy": "me",
        "comment": "maintenance",
    }
    body[field] = PAST_9999
    answer = api.post("/api/v2/silences", body)
    assert answer.status_code == 400
    assert field in answer.json() and "years 1 to 9999" in answer.json()
    assert api.get("/api/v2/silences").json() == []


@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize("when", [PAST_9999, BEFORE_1])
def test_incidents_since_out_of_range_is_a_400(api: Api, name: str, when: str) -> None:
    answer = api.client.get("/api/v1/incidents", params={name: when}, headers=api.headers("viewer"))
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["status"] == 400 and error["message"].startswith(f"{name} ")
    assert "years 1 to 9999" in error["message"]


@pytest.fixture
def paging(db: Engine, clock: VirtualClock) -> Iterator[test_paging.Paging]:
    with HttpSink() as team, HttpSink() as pager, HttpSink() as backup:
        yield from test_paging.make(db, clock, {"team": team, "pager": pager, "backup": backup})


@pytest.mark.parametrize(
    ("at", "says"),
    [
        (PAST_9999, "years 1 to 9999"),
        (BEFORE_1, "years 1 to 9999"),
        ("9999-01-01T00:00:00Z", "century"),
        ("1000-01-01T00:00:00Z", "century"),
        ("1800-01-01T00:00:00Z", "century"),
        ("2127-06-01T00:00:00Z", "century"),
    ],
)
def test_oncall_at_out_of_range_is_a_400(paging: test_paging.Paging, at: str, says: str) -> None:
    answer = paging.api.client.get(
        "/api/v1/oncall", params={"at": at}, headers=paging.api.headers("viewer")
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["status"] == 400 and error["message"].startswith("at")
    assert says in error["message"]


def test_oncall_at_within_a_century_answers(paging: test_paging.Paging) -> None:
    answer = paging.api.get("/api/v1/oncall?at=2030-01-15T10:00:00Z", role="viewer")
    assert answer.status_code == 200
    assert [u["name"] for u in answer.json()[0]["users"]] in (["alice"], ["bob"])
